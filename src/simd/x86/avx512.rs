//! AVX-512F: 16 lanes, fused multiply-add.

use crate::simd::{Arch, ROWS, Vector};
use core::arch::x86_64::*;

/// Sixteen f32 lanes. With `NE_BF16`, bfloat16 is rounded by AVX-512 BF16 (`super::bf16`).
#[derive(Clone, Copy)]
pub(crate) struct F32x16<const NE_BF16: bool = false>(__m512);

impl<const NE_BF16: bool> Vector for F32x16<NE_BF16> {
    // SAFETY (every `unsafe` block in this impl): the `Vector` contract: this CPU has
    // AVX-512F (and with `NE_BF16`, VL, DQ and BF16), and pointer arguments are valid for the
    // lanes read or written.
    const LANES: usize = 16;
    const REGISTERS: usize = 32;

    x86_register!(F32x16 {
        set1: _mm512_set1_ps,
        loadu: _mm512_loadu_ps,
        storeu: _mm512_storeu_ps,
        stream: _mm512_stream_ps,
        sqrt: _mm512_sqrt_ps,
        recip: _mm512_rcp14_ps,
        // `vdivps zmm` issues about once per 10 cycles (Intel's AVX-512 cores): SiLU's loop
        // waited on it.
        divide_by_estimate: true,
        add: _mm512_add_ps,
        sub: _mm512_sub_ps,
        mul: _mm512_mul_ps,
        div: _mm512_div_ps,
        max: _mm512_max_ps,
        min: _mm512_min_ps,
        fmadd: _mm512_fmadd_ps,
        fmsub: _mm512_fmsub_ps,
        features: "avx512f,avx2,fma,f16c",
        bf16_features: "avx512f,avx2,fma,f16c,avx512vl,avx512dq,avx512bf16",
    });
    #[inline(always)]
    unsafe fn abs(self) -> Self {
        F32x16(unsafe { _mm512_abs_ps(self.0) })
    }
    #[inline(always)]
    unsafe fn pow2i(self) -> Self {
        unsafe {
            let exponents = _mm512_add_epi32(_mm512_cvtps_epi32(self.0), _mm512_set1_epi32(127));
            F32x16(_mm512_castsi512_ps(_mm512_slli_epi32::<23>(exponents)))
        }
    }
    #[inline(always)]
    unsafe fn select_negative(self, a: Self, b: Self) -> Self {
        unsafe {
            let sign = _mm512_and_si512(_mm512_castps_si512(self.0), _mm512_set1_epi32(i32::MIN));
            let negative = _mm512_test_epi32_mask(sign, sign);
            F32x16(_mm512_mask_blend_ps(negative, b.0, a.0))
        }
    }
    // AVX-512F converts sixteen binary16 values at once.
    #[inline(always)]
    unsafe fn load_f16(src: *const u16) -> Self {
        F32x16(unsafe { _mm512_cvtph_ps(_mm256_loadu_si256(src.cast())) })
    }
    #[inline(always)]
    unsafe fn store_f16(self, dst: *mut u16) {
        unsafe { _mm256_storeu_si256(dst.cast(), to_f16(self.0)) }
    }
    #[inline(always)]
    unsafe fn round_f16(self) -> Self {
        F32x16(unsafe { _mm512_cvtph_ps(to_f16(self.0)) })
    }
    #[inline(always)]
    unsafe fn load_bf16(src: *const u16) -> Self {
        unsafe {
            let wide = _mm512_cvtepu16_epi32(_mm256_loadu_si256(src.cast()));
            F32x16(_mm512_castsi512_ps(_mm512_slli_epi32::<16>(wide)))
        }
    }
    #[inline(always)]
    unsafe fn store_bf16(self, dst: *mut u16) {
        unsafe {
            let packed = match NE_BF16 {
                true => super::bf16::narrow16(self.0),
                false => to_bf16(self.0),
            };
            _mm256_storeu_si256(dst.cast(), packed)
        }
    }
    #[inline(always)]
    unsafe fn round_bf16(self) -> Self {
        unsafe {
            let top = match NE_BF16 {
                true => _mm512_cvtepu16_epi32(super::bf16::narrow16(self.0)),
                false => bf16_bits(self.0),
            };
            F32x16(_mm512_castsi512_ps(_mm512_slli_epi32::<16>(top)))
        }
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

/// Sixteen lanes rounded to binary16, to nearest even.
///
/// # Safety
/// The CPU has AVX-512F.
#[inline(always)]
unsafe fn to_f16(v: __m512) -> __m256i {
    // SAFETY: forwarded from the caller.
    unsafe { _mm512_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(v) }
}

/// Each lane's bfloat16 rounding (to nearest even; NaN stays a quiet NaN) in the low 16 bits
/// of its 32-bit lane.
///
/// # Safety
/// The CPU has AVX-512F.
#[inline(always)]
unsafe fn bf16_bits(v: __m512) -> __m512i {
    // SAFETY: register arithmetic only.
    unsafe {
        let bits = _mm512_castps_si512(v);
        let odd = _mm512_and_si512(_mm512_srli_epi32::<16>(bits), _mm512_set1_epi32(1));
        let bias = _mm512_add_epi32(odd, _mm512_set1_epi32(0x7fff));
        let rounded = _mm512_srli_epi32::<16>(_mm512_add_epi32(bits, bias));
        let quiet = _mm512_or_si512(_mm512_srli_epi32::<16>(bits), _mm512_set1_epi32(0x40));
        let nan = _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(v, v);
        _mm512_mask_blend_epi32(nan, rounded, quiet)
    }
}

/// Sixteen lanes rounded to bfloat16, packed into 256 bits.
///
/// # Safety
/// The CPU has AVX-512F.
#[inline(always)]
pub(super) unsafe fn to_bf16(v: __m512) -> __m256i {
    // SAFETY: register arithmetic only; every lane fits 16 bits, so the truncating move is
    // exact.
    unsafe { _mm512_cvtepi32_epi16(bf16_bits(v)) }
}

/// The mask of the first `n < 16` lanes.
#[inline(always)]
fn lanes(n: usize) -> __mmask16 {
    ((1u32 << n) - 1) as __mmask16
}

/// Kernels over 512-bit registers for the statistics, 256-bit ones for the streaming passes
/// (512-bit vectors gain nothing there and measured slower, except where a pass rounds to
/// bfloat16 or runs an activation: `Io::WIDE_PASS`). Run only inside
/// `#[target_feature(enable = "avx512f,avx2,fma,f16c")]`.
pub(crate) struct Avx512;

impl Arch for Avx512 {
    type Wide = F32x16;
    type Stream = super::avx2::F32x8;
}

/// As [`Avx512`], rounding bfloat16 by AVX-512 BF16. Run only inside
/// `#[target_feature(enable = "avx512f,avx2,fma,f16c,avx512vl,avx512dq,avx512bf16")]`.
pub(crate) struct Avx512Bf16;

impl Arch for Avx512Bf16 {
    type Wide = F32x16<true>;
    type Stream = super::avx2::F32x8<true>;
}
