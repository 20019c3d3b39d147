//! AVX2 + FMA: 8 lanes, fused multiply-add.

use crate::kernels::vector::Vector;
use core::arch::x86_64::*;

#[derive(Clone, Copy)]
pub(crate) struct F32x8(__m256);

impl Vector for F32x8 {
    const LANES: usize = 8;

    #[inline(always)]
    unsafe fn splat(value: f32) -> Self {
        F32x8(unsafe { _mm256_set1_ps(value) })
    }
    #[inline(always)]
    unsafe fn load(src: *const f32) -> Self {
        F32x8(unsafe { _mm256_loadu_ps(src) })
    }
    #[inline(always)]
    unsafe fn store(self, dst: *mut f32) {
        unsafe { _mm256_storeu_ps(dst, self.0) }
    }
    #[inline(always)]
    unsafe fn add(self, rhs: Self) -> Self {
        F32x8(unsafe { _mm256_add_ps(self.0, rhs.0) })
    }
    #[inline(always)]
    unsafe fn sub(self, rhs: Self) -> Self {
        F32x8(unsafe { _mm256_sub_ps(self.0, rhs.0) })
    }
    #[inline(always)]
    unsafe fn mul(self, rhs: Self) -> Self {
        F32x8(unsafe { _mm256_mul_ps(self.0, rhs.0) })
    }
    #[inline(always)]
    unsafe fn mul_add(self, a: Self, b: Self) -> Self {
        F32x8(unsafe { _mm256_fmadd_ps(self.0, a.0, b.0) })
    }
    #[inline(always)]
    unsafe fn mul_sub(self, a: Self, b: Self) -> Self {
        F32x8(unsafe { _mm256_fmsub_ps(self.0, a.0, b.0) })
    }
    #[inline(always)]
    unsafe fn abs(self) -> Self {
        F32x8(unsafe { _mm256_andnot_ps(_mm256_set1_ps(-0.0), self.0) })
    }
    #[inline(always)]
    unsafe fn max(self, rhs: Self) -> Self {
        F32x8(unsafe { _mm256_max_ps(self.0, rhs.0) })
    }
    #[inline(always)]
    unsafe fn reduce_add(self) -> f32 {
        unsafe {
            let s = _mm_add_ps(
                _mm256_castps256_ps128(self.0),
                _mm256_extractf128_ps(self.0, 1),
            );
            let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
            _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)))
        }
    }
    const STREAMS: bool = true;
    #[inline(always)]
    unsafe fn store_stream(self, dst: *mut f32) {
        unsafe { _mm256_stream_ps(dst, self.0) }
    }
    #[inline(always)]
    unsafe fn fence() {
        unsafe { _mm_sfence() }
    }
    // Masked moves: the masked-off lanes are neither read nor written (and cannot fault).
    #[inline(always)]
    unsafe fn load_partial(src: *const f32, n: usize) -> Self {
        F32x8(unsafe { _mm256_maskload_ps(src, lanes(n)) })
    }
    #[inline(always)]
    unsafe fn store_partial(self, dst: *mut f32, n: usize) {
        unsafe { _mm256_maskstore_ps(dst, lanes(n), self.0) }
    }
    #[inline(always)]
    unsafe fn reduce_max(self) -> f32 {
        unsafe {
            let s = _mm_max_ps(
                _mm256_castps256_ps128(self.0),
                _mm256_extractf128_ps(self.0, 1),
            );
            let s = _mm_max_ps(s, _mm_movehl_ps(s, s));
            _mm_cvtss_f32(_mm_max_ss(s, _mm_movehdup_ps(s)))
        }
    }
}

/// The mask of the first `n < 8` lanes: all-ones in each selected 32-bit lane.
#[inline(always)]
unsafe fn lanes(n: usize) -> __m256i {
    const WINDOW: [i32; 16] = [-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0];
    unsafe { _mm256_loadu_si256(WINDOW.as_ptr().add(8 - n).cast()) }
}

crate::kernels::kernel_set!(AVX2, F32x8, F32x8, "avx2,fma");
