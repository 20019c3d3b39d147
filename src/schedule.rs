//! How the kernels meet memory, picked per CPU: the order of a kernel's two passes over a
//! group, and whether output lines are asked for ahead of their stores. The choices that
//! measured faster differ between Intel and AMD cores.
//!
//! A leaf: nothing else of the crate is used here.

/// How the kernels order the statistics pass and the normalize pass of consecutive groups
/// (channels-first groups of planes: BatchNorm training, InstanceNorm, GroupNorm; and
/// LayerNorm and RMSNorm rows of 2048 values or more). Either gives the same bits: only the
/// order of memory accesses differs.
///
/// [`Kernels::detect`](crate::Kernels::detect) and [`Kernels::new`](crate::Kernels::new) take
/// [`Schedule::for_this_cpu`]; [`Kernels::with_schedule`](crate::Kernels::with_schedule)
/// forces one, for tests and benchmarks.
///
/// ```
/// use normkern::{Kernels, Schedule};
/// let k = Kernels::detect().with_schedule(Schedule::Separate);
/// assert_eq!(k.schedule(), Schedule::Separate);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Schedule {
    /// Each group is written in the same pass that reads the next one's sums, so reads from
    /// memory overlap writes as in a copy. Faster on the Intel Xeons measured (Cascade Lake;
    /// Emerald Rapids, family 6 model 207, in `benches/interleaved.rs`: BatchNorm training
    /// 32x64x56x56 1.47-1.54 × the one-channel floor this way and 1.73-1.84 × separate,
    /// InstanceNorm 1x64x128x128 1.08-1.12 × and 1.17-1.25 ×, LayerNorm 8192x2048 1.40-1.43 ×
    /// and 1.62-1.67 ×).
    Overlapped,
    /// Each group's sums are read from memory in a pass of their own, then the group is
    /// written from cache; long rows go four at a time, reading gamma and beta once per block.
    /// Faster on AMD Zen 4 (EPYC, family 25 model 17: InstanceNorm 1x64x128x128 1.52 × the
    /// floor this way, 1.79 × overlapped; LayerNorm 128x4096 1.52 × and 1.88 ×). Not on every
    /// AMD core: on a Zen 3 EPYC (family 25 model 1) only GroupNorm NCHW and LayerNorm
    /// 128x4096 went faster this way, and the DRAM-sized groups and InstanceNorm 12-20% slower
    /// (`BENCHMARKS.md`).
    Separate,
}

impl Schedule {
    /// [`Schedule::Separate`] on AMD cores (Zen and later), [`Schedule::Overlapped`]
    /// elsewhere; detected once and cached.
    ///
    /// The rule stands for the machines measured (Cascade Lake and Emerald Rapids Xeons, a
    /// Zen 4 EPYC; see `BENCHMARKS.md`); a CPU that prefers the other order can force it with
    /// [`Kernels::with_schedule`](crate::Kernels::with_schedule).
    ///
    /// ```
    /// use normkern::Schedule;
    /// assert_eq!(Schedule::for_this_cpu(), Schedule::for_this_cpu());
    /// ```
    pub fn for_this_cpu() -> Schedule {
        if detect::amd_zen() {
            Schedule::Separate
        } else {
            Schedule::Overlapped
        }
    }
}

/// Whether the normalize loops ask for each output line ahead of its stores on this CPU: not
/// on AMD cores (Zen and later), elsewhere yes. See
/// [`Kernels::with_output_prefetch`](crate::Kernels::with_output_prefetch).
pub(crate) fn output_prefetch_for_this_cpu() -> bool {
    !detect::amd_zen()
}

#[cfg(all(target_arch = "x86_64", not(miri), not(target_env = "sgx")))]
mod detect {
    use core::sync::atomic::{AtomicU8, Ordering};

    /// Whether this is an AMD CPU of family 0x17 (Zen) or later, by `cpuid` once, then cached.
    pub(super) fn amd_zen() -> bool {
        static CACHED: AtomicU8 = AtomicU8::new(u8::MAX);
        match CACHED.load(Ordering::Relaxed) {
            u8::MAX => {
                let zen = cpuid_amd_zen();
                CACHED.store(u8::from(zen), Ordering::Relaxed);
                zen
            }
            cached => cached == 1,
        }
    }

    fn cpuid_amd_zen() -> bool {
        use core::arch::x86_64::__cpuid;
        // `__cpuid` is an unsafe fn in some of the Rust versions the crate supports.
        #[allow(unused_unsafe)]
        // SAFETY: cpuid exists on every x86_64 CPU; leaves 0 and 1 always do.
        let (vendor, signature) = unsafe { (__cpuid(0), __cpuid(1).eax) };
        let amd = (vendor.ebx, vendor.edx, vendor.ecx) == (0x6874_7541, 0x6974_6e65, 0x444d_4163);
        // The family: the base family, plus the extended family where the base is 0xF.
        let base = (signature >> 8) & 0xF;
        let family = if base == 0xF {
            base + ((signature >> 20) & 0xFF)
        } else {
            base
        };
        amd && family >= 0x17
    }
}

/// Elsewhere no AMD x86 core: a constant, so microcontroller builds link no detection (nor
/// does Miri, which has no `cpuid`, or an SGX enclave, where it faults).
#[cfg(not(all(target_arch = "x86_64", not(miri), not(target_env = "sgx"))))]
mod detect {
    pub(super) fn amd_zen() -> bool {
        false
    }
}
