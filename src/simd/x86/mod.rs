//! `core::arch` registers for x86_64, selected at run time (see `Isa::is_available`).
//!
//! `wide` cannot serve here: its backend is fixed at compile time, so in a default build its
//! `f32x8` is two SSE halves even inside a `#[target_feature(enable = "avx2")]` function.

/// The `Vector` items both x86 registers implement alike, one intrinsic each, named by role:
/// only the register width differs. Both sets fuse multiply-adds, stream stores past the
/// cache, and specialize hot loops; each says whether its activations divide by a refined
/// reciprocal estimate (`divide_by_estimate`, measured per set). Each register has a `const NE_BF16:
/// bool` parameter: `true` where the CPU also has AVX-512 BF16 (`Isa::Avx512Bf16`), whose
/// pieces are then compiled with `$bf16_features`.
macro_rules! x86_register {
    ($v:ident {
        set1: $set1:path,
        loadu: $loadu:path,
        storeu: $storeu:path,
        stream: $stream:path,
        sqrt: $sqrt:path,
        recip: $recip:path,
        divide_by_estimate: $divide_by_estimate:literal,
        add: $add:path,
        sub: $sub:path,
        mul: $mul:path,
        div: $div:path,
        max: $max:path,
        min: $min:path,
        fmadd: $fmadd:path,
        fmsub: $fmsub:path,
        features: $features:literal,
        bf16_features: $bf16_features:literal,
    }) => {
        const SPECIALIZE: bool = true;
        const FUSED: bool = true;
        const STREAMS: bool = true;
        const DIVIDE_BY_ESTIMATE: bool = $divide_by_estimate;

        #[inline(always)]
        unsafe fn outline<P: $crate::simd::Piece>(piece: P) -> P::Output {
            /// # Safety
            /// As `Vector::outline`: this CPU has `$features`.
            #[target_feature(enable = $features)]
            #[inline(never)]
            unsafe fn outlined<P: $crate::simd::Piece>(piece: P) -> P::Output {
                unsafe { piece.run() }
            }
            /// # Safety
            /// As `Vector::outline`: this CPU has `$bf16_features`.
            #[target_feature(enable = $bf16_features)]
            #[inline(never)]
            unsafe fn outlined_bf16<P: $crate::simd::Piece>(piece: P) -> P::Output {
                unsafe { piece.run() }
            }
            if NE_BF16 {
                unsafe { outlined_bf16(piece) }
            } else {
                unsafe { outlined(piece) }
            }
        }

        #[inline(always)]
        unsafe fn splat(value: f32) -> Self {
            $v(unsafe { $set1(value) })
        }
        #[inline(always)]
        unsafe fn load(src: *const f32) -> Self {
            $v(unsafe { $loadu(src) })
        }
        #[inline(always)]
        unsafe fn store(self, dst: *mut f32) {
            unsafe { $storeu(dst, self.0) }
        }
        #[inline(always)]
        unsafe fn store_stream(self, dst: *mut f32) {
            unsafe { $stream(dst, self.0) }
        }
        #[inline(always)]
        unsafe fn recip_sqrt(self) -> Self {
            $v(unsafe { $div($set1(1.0), $sqrt(self.0)) })
        }
        #[inline(always)]
        unsafe fn recip_estimate(self) -> Self {
            $v(unsafe { $recip(self.0) })
        }
        #[inline(always)]
        unsafe fn prefetch(src: *const f32) {
            unsafe { _mm_prefetch::<_MM_HINT_T0>(src.cast()) }
        }
        lanewise!($v:
            add(rhs) => $add,
            sub(rhs) => $sub,
            mul(rhs) => $mul,
            div(rhs) => $div,
            max(rhs) => $max,
            min(rhs) => $min,
            mul_add(a, b) => $fmadd,
            mul_sub(a, b) => $fmsub,
        );
    };
}

mod avx2;
mod avx512;

mod bf16;

pub(crate) use avx2::Avx2;
pub(crate) use avx512::{Avx512, Avx512Bf16};
