//! AVX-512F: 16 lanes, fused multiply-add.

use crate::simd::{Arch, ROWS, Vector};
use core::arch::x86_64::*;

#[derive(Clone, Copy)]
pub(crate) struct F32x16(__m512);

impl Vector for F32x16 {
    // SAFETY (every `unsafe` block in this impl): the `Vector` contract: this CPU has
    // AVX-512F, and pointer arguments are valid for the lanes read or written.
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
    unsafe fn recip_sqrt(self) -> Self {
        F32x16(unsafe { _mm512_div_ps(_mm512_set1_ps(1.0), _mm512_sqrt_ps(self.0)) })
    }
    #[inline(always)]
    unsafe fn reduce_add(self) -> f32 {
        unsafe { _mm512_reduce_add_ps(self.0) }
    }
    #[inline(always)]
    unsafe fn reduce_max(self) -> f32 {
        unsafe { _mm512_reduce_max_ps(self.0) }
    }
    /// Halves the partial sums per vector at each level while pairing vectors: 16 vectors of
    /// 16 partials, 8 of 2 x 8, 4 of 4 x 4, 2 of 8 x 2, 1 of 16 x 1, each level adding only
    /// lanes of the same row. The last level leaves row `4m + k` in lane `4k + m`.
    #[inline(always)]
    unsafe fn reduce_add_rows(v: &[Self; ROWS]) -> [f32; ROWS] {
        // Plain loops, no closures: a closure would be compiled without AVX-512, and every
        // intrinsic in it called rather than inlined.
        unsafe {
            let mut halves = [_mm512_setzero_ps(); 8];
            for (i, half) in halves.iter_mut().enumerate() {
                let (a, b) = (v[2 * i].0, v[2 * i + 1].0);
                *half = _mm512_add_ps(
                    _mm512_shuffle_f32x4::<0b01_00_01_00>(a, b),
                    _mm512_shuffle_f32x4::<0b11_10_11_10>(a, b),
                );
            }
            let mut quarters = [_mm512_setzero_ps(); 4];
            for (i, quarter) in quarters.iter_mut().enumerate() {
                let (a, b) = (halves[2 * i], halves[2 * i + 1]);
                *quarter = _mm512_add_ps(
                    _mm512_shuffle_f32x4::<0b10_00_10_00>(a, b),
                    _mm512_shuffle_f32x4::<0b11_01_11_01>(a, b),
                );
            }
            let mut eighths = [_mm512_setzero_ps(); 2];
            for (i, eighth) in eighths.iter_mut().enumerate() {
                let (a, b) = (quarters[2 * i], quarters[2 * i + 1]);
                *eighth = _mm512_add_ps(
                    _mm512_shuffle_ps::<0b10_00_10_00>(a, b),
                    _mm512_shuffle_ps::<0b11_01_11_01>(a, b),
                );
            }
            let (a, b) = (eighths[0], eighths[1]);
            let interleaved = _mm512_add_ps(
                _mm512_shuffle_ps::<0b10_00_10_00>(a, b),
                _mm512_shuffle_ps::<0b11_01_11_01>(a, b),
            );
            let rows = _mm512_set_epi32(15, 11, 7, 3, 14, 10, 6, 2, 13, 9, 5, 1, 12, 8, 4, 0);
            let mut sums = [0.0f32; ROWS];
            _mm512_storeu_ps(sums.as_mut_ptr(), _mm512_permutexvar_ps(rows, interleaved));
            sums
        }
    }
    #[inline(always)]
    unsafe fn prefetch(src: *const f32) {
        unsafe { _mm_prefetch::<_MM_HINT_T0>(src.cast()) }
    }
    const SPECIALIZE: bool = true;
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

/// Kernels over 512-bit registers for the statistics, 256-bit ones for the streaming passes
/// (512-bit vectors gain nothing there and measured slower). Run only inside
/// `#[target_feature(enable = "avx512f,avx2,fma")]`.
pub(crate) struct Avx512;

impl Arch for Avx512 {
    type Wide = F32x16;
    type Stream = super::avx2::F32x8;
}
