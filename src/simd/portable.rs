//! The portable path: `wide::f32x8`, whose backend is fixed when the crate is compiled
//! (NEON on aarch64, simd128 on wasm, SSE2 on a default x86_64 build, plain arrays elsewhere).

use super::{Arch, Vector};
use wide::f32x8;

/// Kernels over `wide::f32x8`.
pub(crate) struct Portable;

impl Arch for Portable {
    type Wide = f32x8;
    type Stream = f32x8;
}

impl Vector for f32x8 {
    // SAFETY (every `unsafe` block in this impl): the `Vector` contract: pointer arguments
    // are valid for the lanes read or written (`wide` needs no particular CPU).
    const LANES: usize = 8;

    #[inline(always)]
    unsafe fn outline<P: super::Piece>(piece: P) -> P::Output {
        #[inline(never)]
        unsafe fn outlined<P: super::Piece>(piece: P) -> P::Output {
            unsafe { piece.run() }
        }
        unsafe { outlined(piece) }
    }

    #[inline(always)]
    unsafe fn splat(value: f32) -> Self {
        f32x8::splat(value)
    }
    #[inline(always)]
    unsafe fn load(src: *const f32) -> Self {
        f32x8::new(unsafe { src.cast::<[f32; 8]>().read_unaligned() })
    }
    #[inline(always)]
    unsafe fn store(self, dst: *mut f32) {
        unsafe { dst.cast::<[f32; 8]>().write_unaligned(self.to_array()) }
    }
    lanewise!(
        add(rhs) => core::ops::Add::add,
        sub(rhs) => core::ops::Sub::sub,
        mul(rhs) => core::ops::Mul::mul,
        div(rhs) => core::ops::Div::div,
    );
    #[inline(always)]
    unsafe fn mul_add(self, a: Self, b: Self) -> Self {
        f32x8::mul_add(self, a, b)
    }
    #[inline(always)]
    unsafe fn mul_sub(self, a: Self, b: Self) -> Self {
        f32x8::mul_sub(self, a, b)
    }
    #[inline(always)]
    unsafe fn abs(self) -> Self {
        f32x8::abs(self)
    }
    #[inline(always)]
    unsafe fn max(self, rhs: Self) -> Self {
        // `rhs` where either is NaN, as the trait asks (wide's own max differs by backend).
        self.simd_gt(rhs).bitselect(self, rhs)
    }
    #[inline(always)]
    unsafe fn min(self, rhs: Self) -> Self {
        self.simd_lt(rhs).bitselect(self, rhs)
    }
    #[inline(always)]
    unsafe fn recip_sqrt(self) -> Self {
        f32x8::splat(1.0) / self.sqrt()
    }
    #[inline(always)]
    unsafe fn pow2i(self) -> Self {
        let exponents = self.round_int() + wide::i32x8::splat(127);
        bytemuck::cast(exponents << 23)
    }
    #[inline(always)]
    unsafe fn select_negative(self, a: Self, b: Self) -> Self {
        let negative: wide::i32x8 = bytemuck::cast::<f32x8, wide::i32x8>(self) >> 31;
        bytemuck::cast::<wide::i32x8, f32x8>(negative).bitselect(a, b)
    }
    #[inline(always)]
    unsafe fn reduce_add(self) -> f32 {
        f32x8::reduce_add(self)
    }
    #[inline(always)]
    unsafe fn reduce_max(self) -> f32 {
        self.to_array()
            .into_iter()
            .fold(f32::NEG_INFINITY, f32::max)
    }
}
