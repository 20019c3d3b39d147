//! bfloat16 rounding by AVX-512 BF16's `vcvtneps2bf16`, for [`Isa::Avx512Bf16`].
//!
//! The instruction rounds to nearest even and quiets NaN exactly as the shift sequence of the
//! other sets does, in one instruction where that takes nine, but it flushes subnormal inputs
//! to zero. So each conversion also classifies its lanes (`vfpclassps`), and a vector holding a
//! subnormal is rounded by the shifts instead, in a cold function of its own, so that the hot
//! loops hold only the check. The check is not free: on Zen 4, `add_rms_norm` bf16 128x4096
//! took 278 µs without it (wrong on subnormals), 332 µs with it, 358 µs by shifts (medians of
//! four alternated runs). A branch-free fix-up (`tools/probes/bf16/lift.patch`: a subnormal
//! lifted by ±2^-126, converted, 2^-126 taken off its bits) is exact but cost more than the
//! check on an Intel Xeon family 6 model 167 (BENCHMARKS.md).
//!
//! [`Isa::Avx512Bf16`]: crate::Isa::Avx512Bf16

use core::arch::x86_64::*;
use core::mem::transmute;

/// `fpclassps` category: a subnormal value.
const SUBNORMAL: i32 = 0x20;

/// Eight lanes rounded to bfloat16 (to nearest even; NaN stays a quiet NaN), packed into 128
/// bits.
///
/// # Safety
/// The CPU has AVX-512F, AVX-512VL, AVX-512DQ and AVX-512 BF16.
#[inline(always)]
pub(super) unsafe fn narrow8(v: __m256) -> __m128i {
    // SAFETY: register arithmetic only, on the caller's instruction set; `__m128bh` and
    // `__m128i` are both 128 bits.
    unsafe {
        if _mm256_fpclass_ps_mask::<SUBNORMAL>(v) != 0 {
            return narrow8_by_shifts(v);
        }
        transmute::<__m128bh, __m128i>(_mm256_cvtneps_pbh(v))
    }
}

/// Sixteen lanes rounded to bfloat16, packed into 256 bits.
///
/// # Safety
/// As [`narrow8`].
#[inline(always)]
pub(super) unsafe fn narrow16(v: __m512) -> __m256i {
    // SAFETY: as in `narrow8`; `__m256bh` and `__m256i` are both 256 bits.
    unsafe {
        if _mm512_fpclass_ps_mask::<SUBNORMAL>(v) != 0 {
            return narrow16_by_shifts(v);
        }
        transmute::<__m256bh, __m256i>(_mm512_cvtneps_pbh(v))
    }
}

/// # Safety
/// The CPU has AVX2.
#[cold]
#[inline(never)]
#[target_feature(enable = "avx2")]
unsafe fn narrow8_by_shifts(v: __m256) -> __m128i {
    // SAFETY: forwarded from the caller.
    unsafe { super::avx2::to_bf16(v) }
}

/// # Safety
/// The CPU has AVX-512F.
#[cold]
#[inline(never)]
#[target_feature(enable = "avx512f")]
unsafe fn narrow16_by_shifts(v: __m512) -> __m256i {
    // SAFETY: forwarded from the caller.
    unsafe { super::avx512::to_bf16(v) }
}
