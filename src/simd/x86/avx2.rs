//! AVX2 + FMA (+ F16C): 8 lanes, fused multiply-add, binary16 conversions.

use crate::simd::{Arch, ROWS, Vector};
use core::arch::x86_64::*;

/// Eight f32 lanes. With `NE_BF16`, bfloat16 is rounded by AVX-512 BF16 (`super::bf16`).
#[derive(Clone, Copy)]
pub(crate) struct F32x8<const NE_BF16: bool = false>(__m256);

impl<const NE_BF16: bool> Vector for F32x8<NE_BF16> {
    // SAFETY (every `unsafe` block in this impl): the `Vector` contract: this CPU has AVX2,
    // FMA and F16C (and with `NE_BF16`, AVX-512F, VL, DQ and BF16), and pointer arguments are
    // valid for the lanes read or written.
    const LANES: usize = 8;
    /// AVX-512VL's encoding names 32 (`NE_BF16` code is compiled with it).
    const REGISTERS: usize = if NE_BF16 { 32 } else { 16 };

    x86_register!(F32x8 {
        set1: _mm256_set1_ps,
        loadu: _mm256_loadu_ps,
        storeu: _mm256_storeu_ps,
        stream: _mm256_stream_ps,
        sqrt: _mm256_sqrt_ps,
        recip: _mm256_rcp_ps,
        // `vdivps ymm` issues every 3.5-5 cycles, less than the rest of an activation's
        // ~25 operations per register take; the estimate's five dependent steps instead
        // lengthen the chain that bounds the loop (GroupNorm + SiLU on an AMD EPYC, family
        // 25 model 1: 0.79-0.88x the time with the division).
        divide_by_estimate: false,
        add: _mm256_add_ps,
        sub: _mm256_sub_ps,
        mul: _mm256_mul_ps,
        div: _mm256_div_ps,
        max: _mm256_max_ps,
        min: _mm256_min_ps,
        fmadd: _mm256_fmadd_ps,
        fmsub: _mm256_fmsub_ps,
        features: "avx2,fma,f16c",
        bf16_features: "avx2,fma,f16c,avx512f,avx512vl,avx512dq,avx512bf16",
    });
    #[inline(always)]
    unsafe fn abs(self) -> Self {
        F32x8(unsafe { _mm256_andnot_ps(_mm256_set1_ps(-0.0), self.0) })
    }
    #[inline(always)]
    unsafe fn pow2i(self) -> Self {
        unsafe {
            let exponents = _mm256_add_epi32(_mm256_cvtps_epi32(self.0), _mm256_set1_epi32(127));
            F32x8(_mm256_castsi256_ps(_mm256_slli_epi32::<23>(exponents)))
        }
    }
    #[inline(always)]
    unsafe fn select_negative(self, a: Self, b: Self) -> Self {
        F32x8(unsafe { _mm256_blendv_ps(b.0, a.0, self.0) })
    }
    // F16C: eight binary16 values in one 128-bit register.
    #[inline(always)]
    unsafe fn load_f16(src: *const u16) -> Self {
        F32x8(unsafe { _mm256_cvtph_ps(_mm_loadu_si128(src.cast())) })
    }
    #[inline(always)]
    unsafe fn store_f16(self, dst: *mut u16) {
        unsafe { _mm_storeu_si128(dst.cast(), to_f16(self.0)) }
    }
    #[inline(always)]
    unsafe fn round_f16(self) -> Self {
        F32x8(unsafe { _mm256_cvtph_ps(to_f16(self.0)) })
    }
    // bfloat16 is the top half of an f32: widening is a shift, narrowing a rounding add.
    #[inline(always)]
    unsafe fn load_bf16(src: *const u16) -> Self {
        unsafe {
            let wide = _mm256_cvtepu16_epi32(_mm_loadu_si128(src.cast()));
            F32x8(_mm256_castsi256_ps(_mm256_slli_epi32::<16>(wide)))
        }
    }
    #[inline(always)]
    unsafe fn store_bf16(self, dst: *mut u16) {
        unsafe {
            let packed = match NE_BF16 {
                true => super::bf16::narrow8(self.0),
                false => to_bf16(self.0),
            };
            _mm_storeu_si128(dst.cast(), packed)
        }
    }
    #[inline(always)]
    unsafe fn round_bf16(self) -> Self {
        unsafe {
            let top = match NE_BF16 {
                true => _mm256_cvtepu16_epi32(super::bf16::narrow8(self.0)),
                false => bf16_bits(self.0),
            };
            F32x8(_mm256_castsi256_ps(_mm256_slli_epi32::<16>(top)))
        }
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
    /// Eight vectors at a time, halving the partial sums per vector at each level while pairing
    /// vectors (8 of 8 partials, 4 of 2 x 4, 2 of 4 x 2, 1 of 8 x 1), each level adding only
    /// lanes of the same row. The last level leaves rows 0, 2, 4, 6, 1, 3, 5, 7 in lanes 0-7.
    #[inline(always)]
    unsafe fn reduce_add_rows(v: &[Self; ROWS]) -> [f32; ROWS] {
        // Plain loops, no closures: a closure would be compiled without AVX, and every
        // intrinsic in it called rather than inlined.
        unsafe {
            let mut sums = [0.0f32; ROWS];
            for (eight, sums) in v.chunks_exact(8).zip(sums.chunks_exact_mut(8)) {
                let mut halves = [_mm256_setzero_ps(); 4];
                for (i, half) in halves.iter_mut().enumerate() {
                    let (a, b) = (eight[2 * i].0, eight[2 * i + 1].0);
                    *half = _mm256_add_ps(
                        _mm256_permute2f128_ps::<0x20>(a, b),
                        _mm256_permute2f128_ps::<0x31>(a, b),
                    );
                }
                let mut quarters = [_mm256_setzero_ps(); 2];
                for (i, quarter) in quarters.iter_mut().enumerate() {
                    let (a, b) = (halves[2 * i], halves[2 * i + 1]);
                    *quarter = _mm256_add_ps(
                        _mm256_shuffle_ps::<0b10_00_10_00>(a, b),
                        _mm256_shuffle_ps::<0b11_01_11_01>(a, b),
                    );
                }
                let (a, b) = (quarters[0], quarters[1]);
                let interleaved = _mm256_add_ps(
                    _mm256_shuffle_ps::<0b10_00_10_00>(a, b),
                    _mm256_shuffle_ps::<0b11_01_11_01>(a, b),
                );
                let rows = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
                let ordered = _mm256_permutevar8x32_ps(interleaved, rows);
                _mm256_storeu_ps(sums.as_mut_ptr(), ordered);
            }
            sums
        }
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

/// Eight lanes rounded to binary16, to nearest even.
///
/// # Safety
/// The CPU has F16C.
#[inline(always)]
unsafe fn to_f16(v: __m256) -> __m128i {
    // SAFETY: forwarded from the caller.
    unsafe { _mm256_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(v) }
}

/// Each lane's bfloat16 rounding (to nearest even; NaN stays a quiet NaN) in the low 16 bits
/// of its 32-bit lane.
///
/// # Safety
/// The CPU has AVX2.
#[inline(always)]
unsafe fn bf16_bits(v: __m256) -> __m256i {
    // SAFETY: register arithmetic only.
    unsafe {
        let bits = _mm256_castps_si256(v);
        let odd = _mm256_and_si256(_mm256_srli_epi32::<16>(bits), _mm256_set1_epi32(1));
        let bias = _mm256_add_epi32(odd, _mm256_set1_epi32(0x7fff));
        let rounded = _mm256_srli_epi32::<16>(_mm256_add_epi32(bits, bias));
        let quiet = _mm256_or_si256(_mm256_srli_epi32::<16>(bits), _mm256_set1_epi32(0x40));
        let nan = _mm256_castps_si256(_mm256_cmp_ps::<_CMP_UNORD_Q>(v, v));
        _mm256_blendv_epi8(rounded, quiet, nan)
    }
}

/// Eight lanes rounded to bfloat16, packed into 128 bits.
///
/// # Safety
/// The CPU has AVX2.
#[inline(always)]
pub(super) unsafe fn to_bf16(v: __m256) -> __m128i {
    // SAFETY: register arithmetic only; every lane fits 16 bits, so the saturating pack is
    // exact, and the permute brings both 128-bit halves' packs together.
    unsafe {
        let top = bf16_bits(v);
        let packed = _mm256_packus_epi32(top, top);
        _mm256_castsi256_si128(_mm256_permute4x64_epi64::<0b10_00>(packed))
    }
}

/// The mask of the first `n < 8` lanes: all-ones in each selected 32-bit lane.
///
/// # Safety
/// `n <= 8`, and the CPU has AVX.
#[inline(always)]
unsafe fn lanes(n: usize) -> __m256i {
    const WINDOW: [i32; 16] = [-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0];
    // SAFETY: `8 - n` is in `0..=8`, so the 8 values read lie in WINDOW.
    unsafe { _mm256_loadu_si256(WINDOW.as_ptr().add(8 - n).cast()) }
}

/// Kernels over 256-bit registers. Run only inside
/// `#[target_feature(enable = "avx2,fma,f16c")]`.
pub(crate) struct Avx2;

impl Arch for Avx2 {
    type Wide = F32x8;
    type Stream = F32x8;
}
