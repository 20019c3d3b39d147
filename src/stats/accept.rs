//! When one-pass sums can be trusted, and the scales that keep squares in range.

/// Smallest mean square taken without scaling: below it the squares of the smaller
/// deviations would already be losing bits to f32 subnormals.
pub(crate) const UNSCALED_MIN: f64 = 1.0 / (1u128 << 100) as f64;

/// [`UNSCALED_MIN`] in f32 (a normal number there).
pub(crate) const UNSCALED_MIN_F32: f32 = UNSCALED_MIN as f32;

/// Whether one-pass sums around pivots give a group's mean and variance as exactly as a
/// centered second pass: the mean square (`squares * inv_n`) is where f32 squares keep full
/// precision (none overflowed or went subnormal), and the pivots lie within a quarter of a
/// standard deviation of the means (`offsets`, the sum over the group's columns of
/// `sum(d)² / n`, at most a seventeenth of `squares`). Then the squares summed exceed the
/// centered ones by at most 1/16 (their rounding error grows by as much), removing the offsets
/// cancels no bit, and the error of `sum(d)`, whose partial sums drift by the offset at each
/// term (at most 64 terms per accumulator lane), stays within 8u of the standard deviation.
pub(crate) fn one_pass_accepted(offsets: f64, squares: f64, inv_n: f64) -> bool {
    let mean_square = squares * inv_n;
    mean_square.is_finite() && mean_square >= UNSCALED_MIN && 17.0 * offsets <= squares
}

/// [`one_pass_accepted`] for one group's sums, taken in f32: a product that overflows
/// rejects, one that underflows was far below the bound anyway.
#[inline(always)]
pub(crate) fn sums_accepted(deviations: f32, squares: f32, inv_n: f32) -> bool {
    let mean_square = squares * inv_n;
    mean_square.is_finite()
        & (mean_square >= UNSCALED_MIN_F32)
        & (17.0 * (deviations * (deviations * inv_n)) <= squares)
}

/// A power of two `s` that brings `max_abs * s` into [1, 2) when `max_abs` lies outside
/// [2^-40, 2^40], else 1: squares of scaled deviations then neither overflow (|x| up to 1e18
/// and beyond) nor sink into subnormals (|x| down to 1e-20 and below).
#[inline(always)]
pub(crate) fn square_scale(max_abs: f32) -> f32 {
    const LOW: f32 = 1.0 / 1_099_511_627_776.0; // 2^-40
    const HIGH: f32 = 1_099_511_627_776.0; // 2^40
    if !max_abs.is_finite() || max_abs == 0.0 || (LOW..=HIGH).contains(&max_abs) {
        return 1.0;
    }
    let exponent = ((max_abs.to_bits() >> 23) & 0xff) as i32 - 127;
    f32::from_bits(((127 - exponent).clamp(1, 254) as u32) << 23)
}
