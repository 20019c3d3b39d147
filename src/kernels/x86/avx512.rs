//! AVX-512F: 16 lanes, fused multiply-add.

use crate::kernels::vector::Vector;
use core::arch::x86_64::*;

#[derive(Clone, Copy)]
pub(crate) struct F32x16(__m512);

impl Vector for F32x16 {
    const LANES: usize = 16;

    #[inline(always)]
    unsafe fn splat(value: f32) -> Self {
        F32x16(unsafe { _mm512_set1_ps(value) })
    }
    #[inline(always)]
    unsafe fn load(src: *const f32) -> Self {
        F32x16(unsafe { _mm512_loadu_ps(src) })
    }
    #[inline(always)]
    unsafe fn store(self, dst: *mut f32) {
        unsafe { _mm512_storeu_ps(dst, self.0) }
    }
    #[inline(always)]
    unsafe fn add(self, rhs: Self) -> Self {
        F32x16(unsafe { _mm512_add_ps(self.0, rhs.0) })
    }
    #[inline(always)]
    unsafe fn sub(self, rhs: Self) -> Self {
        F32x16(unsafe { _mm512_sub_ps(self.0, rhs.0) })
    }
    #[inline(always)]
    unsafe fn mul(self, rhs: Self) -> Self {
        F32x16(unsafe { _mm512_mul_ps(self.0, rhs.0) })
    }
    #[inline(always)]
    unsafe fn mul_add(self, a: Self, b: Self) -> Self {
        F32x16(unsafe { _mm512_fmadd_ps(self.0, a.0, b.0) })
    }
    #[inline(always)]
    unsafe fn mul_sub(self, a: Self, b: Self) -> Self {
        F32x16(unsafe { _mm512_fmsub_ps(self.0, a.0, b.0) })
    }
    #[inline(always)]
    unsafe fn abs(self) -> Self {
        F32x16(unsafe { _mm512_abs_ps(self.0) })
    }
    #[inline(always)]
    unsafe fn max(self, rhs: Self) -> Self {
        F32x16(unsafe { _mm512_max_ps(self.0, rhs.0) })
    }
    #[inline(always)]
    unsafe fn reduce_add(self) -> f32 {
        unsafe { _mm512_reduce_add_ps(self.0) }
    }
    #[inline(always)]
    unsafe fn reduce_max(self) -> f32 {
        unsafe { _mm512_reduce_max_ps(self.0) }
    }
    const STREAMS: bool = true;
    #[inline(always)]
    unsafe fn store_stream(self, dst: *mut f32) {
        unsafe { _mm512_stream_ps(dst, self.0) }
    }
    #[inline(always)]
    unsafe fn fence() {
        unsafe { _mm_sfence() }
    }
    // Masked moves: the masked-off lanes are neither read nor written (and cannot fault).
    #[inline(always)]
    unsafe fn load_partial(src: *const f32, n: usize) -> Self {
        F32x16(unsafe { _mm512_maskz_loadu_ps(lanes(n), src) })
    }
    #[inline(always)]
    unsafe fn store_partial(self, dst: *mut f32, n: usize) {
        unsafe { _mm512_mask_storeu_ps(dst, lanes(n), self.0) }
    }
}

/// The mask of the first `n < 16` lanes.
#[inline(always)]
fn lanes(n: usize) -> __mmask16 {
    ((1u32 << n) - 1) as __mmask16
}

crate::kernels::kernel_set!(AVX512, F32x16, super::avx2::F32x8, "avx512f,avx2,fma");
