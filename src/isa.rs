//! Which instruction sets this build holds kernels for, and which of them this CPU can run.
//!
//! A leaf: nothing else of the crate is used here.

use core::fmt;
use core::sync::atomic::{AtomicU8, Ordering};

/// An instruction set the kernels can run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Isa {
    /// Plain `f32` code: the fallback everywhere, the only set on targets without SIMD floats
    /// (Cortex-M, RV32), and the path the others are checked against.
    Scalar,
    /// `wide::f32x8`, fixed at compile time: NEON on aarch64, simd128 on wasm, SSE2 on a
    /// default x86_64 build. Only built where the target has SIMD floats: elsewhere `wide`
    /// emulates its lanes one by one, larger and slower than [`Isa::Scalar`].
    Portable,
    /// x86_64 AVX2 + FMA (+ F16C for binary16), selected at run time.
    Avx2,
    /// x86_64 AVX-512F (with AVX2, FMA and F16C), selected at run time.
    Avx512,
    /// [`Isa::Avx512`] on a CPU that also has AVX-512 BF16 (with VL and DQ), such as Intel
    /// Sapphire Rapids and AMD Zen 4: the kernels that round to bfloat16 do it with
    /// `vcvtneps2bf16` rather than a sequence of shifts and masks. Every result is the same
    /// bits as [`Isa::Avx512`]'s, and the kernels that round no bfloat16 are its own.
    Avx512Bf16,
}

/// Whether this target has SIMD floats for `wide` to use (see [`Isa::Portable`]).
pub(crate) const PORTABLE_SIMD: bool = cfg!(any(
    target_arch = "x86_64",
    all(target_arch = "x86", target_feature = "sse2"),
    all(target_arch = "aarch64", target_feature = "neon"),
    all(target_arch = "arm", target_feature = "neon"),
    all(target_arch = "wasm32", target_feature = "simd128"),
));

impl Isa {
    /// Every instruction set, slowest first.
    pub const ALL: [Isa; 5] = [
        Isa::Scalar,
        Isa::Portable,
        Isa::Avx2,
        Isa::Avx512,
        Isa::Avx512Bf16,
    ];

    /// Whether this build holds the set's kernels and this CPU (or, without `std`, this
    /// build's target features) can run them.
    ///
    /// ```
    /// use normkern::Isa;
    /// assert!(Isa::Scalar.is_available());
    /// ```
    pub fn is_available(self) -> bool {
        match self {
            Isa::Scalar => true,
            Isa::Portable => PORTABLE_SIMD,
            Isa::Avx2 => has_avx2_fma(),
            Isa::Avx512 => has_avx512f(),
            Isa::Avx512Bf16 => has_avx512_bf16(),
        }
    }

    /// The instruction sets available here, slowest first.
    ///
    /// ```
    /// use normkern::Isa;
    /// assert_eq!(Isa::available().next(), Some(Isa::Scalar));
    /// ```
    pub fn available() -> impl Iterator<Item = Isa> {
        Isa::ALL.into_iter().filter(|isa| isa.is_available())
    }

    /// The fastest available set, detected once and cached.
    ///
    /// ```
    /// use normkern::Isa;
    /// assert!(Isa::best().is_available());
    /// ```
    pub fn best() -> Isa {
        static BEST: AtomicU8 = AtomicU8::new(u8::MAX);
        match BEST.load(Ordering::Relaxed) {
            u8::MAX => {
                let best = Isa::available().last().unwrap_or(Isa::Scalar);
                BEST.store(best as u8, Ordering::Relaxed);
                best
            }
            cached => Isa::ALL[usize::from(cached) % Isa::ALL.len()],
        }
    }

    /// A short lowercase name: `scalar`, `portable`, `avx2`, `avx512`, `avx512bf16`.
    ///
    /// ```
    /// assert_eq!(normkern::Isa::Avx2.name(), "avx2");
    /// ```
    pub const fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Portable => "portable",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
            Isa::Avx512Bf16 => "avx512bf16",
        }
    }
}

impl fmt::Display for Isa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(all(target_arch = "x86_64", feature = "std"))]
fn has_avx2_fma() -> bool {
    std::is_x86_feature_detected!("avx2")
        && std::is_x86_feature_detected!("fma")
        && std::is_x86_feature_detected!("f16c")
}
#[cfg(all(target_arch = "x86_64", feature = "std"))]
fn has_avx512f() -> bool {
    std::is_x86_feature_detected!("avx512f") && has_avx2_fma()
}
#[cfg(all(target_arch = "x86_64", feature = "std"))]
fn has_avx512_bf16() -> bool {
    std::is_x86_feature_detected!("avx512bf16")
        && std::is_x86_feature_detected!("avx512vl")
        && std::is_x86_feature_detected!("avx512dq")
        && has_avx512f()
}
#[cfg(not(all(target_arch = "x86_64", feature = "std")))]
fn has_avx2_fma() -> bool {
    cfg!(all(
        target_arch = "x86_64",
        target_feature = "avx2",
        target_feature = "fma",
        target_feature = "f16c"
    ))
}
#[cfg(not(all(target_arch = "x86_64", feature = "std")))]
fn has_avx512f() -> bool {
    cfg!(all(target_arch = "x86_64", target_feature = "avx512f")) && has_avx2_fma()
}
#[cfg(not(all(target_arch = "x86_64", feature = "std")))]
fn has_avx512_bf16() -> bool {
    cfg!(all(
        target_arch = "x86_64",
        target_feature = "avx512bf16",
        target_feature = "avx512vl",
        target_feature = "avx512dq"
    )) && has_avx512f()
}
