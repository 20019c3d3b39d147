//! The scalar path: one `f32` lane. The fallback everywhere, the only set on targets without
//! SIMD floats, and the path the others are compared against in the tests (which compare all
//! of them to float64).

use super::{Arch, Vector};

/// Kernels over one `f32` lane.
pub(crate) struct Scalar;

impl Arch for Scalar {
    type Wide = f32;
    type Stream = f32;
}

/// Plain `f32`: the scalar reference path.
impl Vector for f32 {
    // SAFETY (every `unsafe` block in this impl): the `Vector` contract: pointer arguments
    // are valid for the one value read or written.
    const LANES: usize = 1;
    const COMPACT: bool = true;

    #[inline(always)]
    unsafe fn splat(value: f32) -> Self {
        value
    }
    #[inline(always)]
    unsafe fn load(src: *const f32) -> Self {
        unsafe { src.read() }
    }
    #[inline(always)]
    unsafe fn store(self, dst: *mut f32) {
        unsafe { dst.write(self) }
    }
    lanewise!(
        add(rhs) => core::ops::Add::add,
        sub(rhs) => core::ops::Sub::sub,
        mul(rhs) => core::ops::Mul::mul,
        div(rhs) => core::ops::Div::div,
    );
    // Unfused on purpose: a software `fmaf` on targets without FMA costs tens of cycles.
    #[inline(always)]
    unsafe fn mul_add(self, a: Self, b: Self) -> Self {
        self * a + b
    }
    #[inline(always)]
    unsafe fn mul_sub(self, a: Self, b: Self) -> Self {
        self * a - b
    }
    #[inline(always)]
    unsafe fn abs(self) -> Self {
        f32::abs(self)
    }
    #[inline(always)]
    unsafe fn max(self, rhs: Self) -> Self {
        if self > rhs { self } else { rhs }
    }
    #[inline(always)]
    unsafe fn min(self, rhs: Self) -> Self {
        if self < rhs { self } else { rhs }
    }
    #[inline(always)]
    unsafe fn recip_sqrt(self) -> Self {
        1.0 / crate::float::sqrt(self)
    }
    #[inline(always)]
    unsafe fn pow2i(self) -> Self {
        f32::from_bits(((self as i32 + 127) as u32) << 23)
    }
    #[inline(always)]
    unsafe fn select_negative(self, a: Self, b: Self) -> Self {
        if self.is_sign_negative() { a } else { b }
    }
    #[inline(always)]
    unsafe fn reduce_add(self) -> f32 {
        self
    }
    #[inline(always)]
    unsafe fn reduce_max(self) -> f32 {
        self
    }
    // One lane: a partial vector holds no value (the default would copy through a buffer).
    #[inline(always)]
    unsafe fn load_partial(_: *const f32, _: usize) -> Self {
        0.0
    }
    #[inline(always)]
    unsafe fn store_partial(self, _: *mut f32, _: usize) {}
    #[inline(always)]
    unsafe fn mask(_: usize) -> Self {
        0.0
    }
}
