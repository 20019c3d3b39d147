//! [`Kernels`]: the handle every operator is a method of, and the one place a kernel meets
//! an instruction set.

use super::Kernel;
use crate::error::{ErrorKind, NormError};
use crate::isa::{Isa, PORTABLE_SIMD};
use crate::schedule::{Schedule, output_prefetch_for_this_cpu};
use crate::simd::{Portable, Scalar};
use core::fmt;

/// A handle on one instruction set's kernels: every operator is a method on it.
///
/// [`Kernels::detect`] picks the fastest set this CPU has (cached after the first call);
/// [`Kernels::new`] forces one, so tests, fuzzers and benchmarks can run every path;
/// [`Kernels::scalar`] is the plain-`f32` set, in `const` context too. Each also carries the
/// [`Schedule`] and the output prefetch that suit this CPU ([`Kernels::with_schedule`] and
/// [`Kernels::with_output_prefetch`] force them). A handle is
/// `Copy`, `Send` and `Sync`: build one and share it with every thread.
///
/// ```
/// use normkern::{Isa, Kernels};
/// let fastest = Kernels::detect();
/// assert!(fastest.isa().is_available());
/// const PLAIN: Kernels = Kernels::scalar();
/// assert_eq!(PLAIN.isa(), Isa::Scalar);
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Kernels {
    isa: Isa,
    schedule: Schedule,
    output_prefetch: bool,
}

impl Kernels {
    /// The fastest instruction set available: AVX-512 with AVX-512 BF16, AVX-512, then AVX2,
    /// on x86_64 CPUs that have them; the portable set on targets with SIMD floats; the
    /// scalar set elsewhere (Cortex-M, RV32), where it is the only one built.
    ///
    /// ```
    /// let k = normkern::Kernels::detect();
    /// assert_eq!(k.isa(), normkern::Isa::best());
    /// ```
    pub fn detect() -> Kernels {
        Kernels {
            isa: Isa::best(),
            schedule: Schedule::for_this_cpu(),
            output_prefetch: output_prefetch_for_this_cpu(),
        }
    }

    /// A specific instruction set, or an error ([`ErrorKind::IsaUnavailable`]) if this build
    /// or CPU lacks it.
    ///
    /// ```
    /// use normkern::{Isa, Kernels};
    /// for isa in Isa::available() {
    ///     assert_eq!(Kernels::new(isa).unwrap().isa(), isa);
    /// }
    /// ```
    pub fn new(isa: Isa) -> Result<Kernels, NormError> {
        if isa.is_available() {
            Ok(Kernels {
                isa,
                schedule: Schedule::for_this_cpu(),
                output_prefetch: output_prefetch_for_this_cpu(),
            })
        } else {
            Err(NormError::new(
                "Kernels::new",
                ErrorKind::IsaUnavailable(isa),
            ))
        }
    }

    /// The scalar set, available everywhere: plain `f32` code. Its schedule is
    /// [`Schedule::Separate`] (its kernels take one order of passes under either), and it
    /// prefetches no output (it has no prefetch instruction).
    ///
    /// ```
    /// const K: normkern::Kernels = normkern::Kernels::scalar();
    /// assert_eq!(K.isa(), normkern::Isa::Scalar);
    /// ```
    pub const fn scalar() -> Kernels {
        Kernels {
            isa: Isa::Scalar,
            schedule: Schedule::Separate,
            output_prefetch: false,
        }
    }

    /// The instruction set these kernels run on.
    ///
    /// ```
    /// use normkern::{Isa, Kernels};
    /// assert_eq!(Kernels::new(Isa::Scalar)?.isa(), Isa::Scalar);
    /// # Ok::<(), normkern::NormError>(())
    /// ```
    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// These kernels with `schedule` in place of the one picked for this CPU (the results
    /// are the same bits; only the speed differs).
    ///
    /// ```
    /// use normkern::{Kernels, Schedule};
    /// let k = Kernels::detect().with_schedule(Schedule::Overlapped);
    /// assert_eq!(k.schedule(), Schedule::Overlapped);
    /// ```
    pub const fn with_schedule(self, schedule: Schedule) -> Kernels {
        Kernels { schedule, ..self }
    }

    /// The order in which these kernels' two passes over consecutive groups meet memory.
    ///
    /// ```
    /// use normkern::{Kernels, Schedule};
    /// assert_eq!(Kernels::detect().schedule(), Schedule::for_this_cpu());
    /// ```
    pub fn schedule(&self) -> Schedule {
        self.schedule
    }

    /// These kernels asking for each output line ahead of its stores (`true`) or leaving it to
    /// the store (`false`) where the output stays in cache, in place of what was picked for
    /// this CPU. Outputs of 8 MiB and more, whose lines come mostly from memory, are asked for
    /// ahead either way. The results are the same bits; only the speed differs.
    ///
    /// An ordinary store first reads its line in. On the Intel Xeons measured, asking for it
    /// 2.5 KiB ahead kept that read from stalling the loop (Cascade Lake: InstanceNorm 0.82 ×
    /// the time, GroupNorm NCHW 0.79 ×). On a Zen 3 EPYC (family 25 model 1) the same
    /// prefetches cost time where the output stays in cache: without them LayerNorm 512x768
    /// took 0.89 × the time, RMSNorm 128x4096 0.90 ×, InstanceNorm 1x64x128x128 0.88 × (the
    /// same kernel both ways in each round, `benches/interleaved.rs --versus prefetch`), and
    /// no group took longer. So AMD cores (Zen and later) are picked without, the others
    /// with; Zen 4 and Zen 5 are not measured yet.
    ///
    /// ```
    /// use normkern::Kernels;
    /// let k = Kernels::detect().with_output_prefetch(false);
    /// assert!(!k.output_prefetch());
    /// ```
    pub const fn with_output_prefetch(self, output_prefetch: bool) -> Kernels {
        Kernels {
            output_prefetch,
            ..self
        }
    }

    /// Whether these kernels ask for the lines of outputs that stay in cache ahead of their
    /// stores (see [`Kernels::with_output_prefetch`]).
    ///
    /// ```
    /// use normkern::Kernels;
    /// assert!(Kernels::detect().with_output_prefetch(true).output_prefetch());
    /// ```
    pub fn output_prefetch(&self) -> bool {
        self.output_prefetch
    }

    /// Whether these kernels take their compact form (see `Vector::COMPACT`): on a target
    /// with only the scalar set this is `true` at compile time, so the operators' other
    /// branches are not linked.
    #[inline(always)]
    pub(crate) fn compact(&self) -> bool {
        match self.isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512Bf16 | Isa::Avx512 | Isa::Avx2 => false,
            Isa::Portable if PORTABLE_SIMD => false,
            _ => true,
        }
    }

    /// Runs `kernel` on this handle's instruction set. Inlined, so each call site holds one
    /// branch per set this build has (one, without `std` on a microcontroller).
    ///
    /// # Safety
    /// Every pointer `kernel` holds is valid for the reads and writes its type documents.
    #[inline(always)]
    pub(crate) unsafe fn run<K: Kernel>(&self, kernel: K) -> K::Output {
        match self.isa {
            // SAFETY (each arm): `self.isa` was available when the handle was built, and the
            // caller vouches for the pointers.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512Bf16 if K::ROUNDS_BF16 => unsafe { x86::avx512_bf16(kernel) },
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 | Isa::Avx512Bf16 => unsafe { x86::avx512(kernel) },
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => unsafe { x86::avx2(kernel) },
            Isa::Portable if PORTABLE_SIMD => unsafe { portable(kernel) },
            _ => unsafe { scalar(kernel) },
        }
    }
}

impl Kernels {
    /// Runs `kernel` on the scalar set, for the compact forms only it takes (instantiating
    /// them for no other set).
    ///
    /// # Safety
    /// As [`Kernels::run`].
    #[inline(always)]
    pub(crate) unsafe fn run_compact<K: Kernel>(&self, kernel: K) -> K::Output {
        debug_assert!(self.compact());
        // SAFETY: forwarded from the caller; the scalar set runs everywhere.
        unsafe { scalar(kernel) }
    }
}

/// # Safety
/// As [`Kernel::run`] (the scalar set runs everywhere).
unsafe fn scalar<K: Kernel>(kernel: K) -> K::Output {
    unsafe { kernel.run::<Scalar>() }
}

/// # Safety
/// As [`Kernel::run`] (the portable set runs wherever it is built).
unsafe fn portable<K: Kernel>(kernel: K) -> K::Output {
    unsafe { kernel.run::<Portable>() }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::Kernel;
    use crate::simd::Arch;
    use crate::simd::x86::{Avx2, Avx512, Avx512Bf16};
    use core::arch::x86_64::_mm_sfence;

    /// # Safety
    /// As [`Kernel::run`]: this CPU has AVX2, FMA and F16C.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub(super) unsafe fn avx2<K: Kernel>(kernel: K) -> K::Output {
        unsafe { fenced::<Avx2, K>(kernel) }
    }

    /// # Safety
    /// As [`Kernel::run`]: this CPU has AVX-512F, AVX2, FMA and F16C.
    #[target_feature(enable = "avx512f,avx2,fma,f16c")]
    pub(super) unsafe fn avx512<K: Kernel>(kernel: K) -> K::Output {
        unsafe { fenced::<Avx512, K>(kernel) }
    }

    /// # Safety
    /// As [`Kernel::run`]: this CPU has AVX-512F, VL, DQ and BF16, AVX2, FMA and F16C.
    #[target_feature(enable = "avx512f,avx2,fma,f16c,avx512vl,avx512dq,avx512bf16")]
    pub(super) unsafe fn avx512_bf16<K: Kernel>(kernel: K) -> K::Output {
        unsafe { fenced::<Avx512Bf16, K>(kernel) }
    }

    /// Runs `kernel`, then, where it streamed ([`Kernel::streams`]), orders its streaming
    /// stores (weakly ordered, unlike every other store) before whatever the caller does next,
    /// such as handing the output to another thread. Once per kernel: a fence after each
    /// streamed run waited on memory for every short row (16 MiB of LayerNorm rows of 64
    /// values took 11.2x the floor's time, 1.7x with one fence; rows of 256, 3.9x and 1.25x;
    /// Xeon family 6 model 167, `tools/probes/streams`).
    ///
    /// # Safety
    /// As [`Kernel::run`] for `A`.
    #[inline(always)]
    unsafe fn fenced<A: Arch, K: Kernel>(kernel: K) -> K::Output {
        // SAFETY: forwarded from the caller; `sfence` is part of x86_64's baseline.
        unsafe {
            let streams = kernel.streams();
            let output = kernel.run::<A>();
            if streams {
                _mm_sfence();
            }
            output
        }
    }
}

impl Default for Kernels {
    fn default() -> Self {
        Kernels::detect()
    }
}

impl fmt::Debug for Kernels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Kernels")
            .field("isa", &self.isa)
            .field("schedule", &self.schedule)
            .field("output_prefetch", &self.output_prefetch)
            .finish()
    }
}
