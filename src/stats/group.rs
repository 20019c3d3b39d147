//! A normalized group's statistics, from its one-pass sums or a centered second pass.

use super::accept::sums_accepted;
use super::moments::{Moments, pivot_from, two_sum};
use crate::float;

/// A non-negative statistic held as `value / scale²` for a power of two `scale`, so that it
/// keeps full precision where it would be subnormal (|x| around 1e-20).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Scaled {
    pub value: f32,
    pub scale: f32,
}

impl Scaled {
    /// `sqrt(value) / scale`: the standard deviation, representable even where the variance
    /// is not.
    pub(crate) fn sqrt(self) -> f32 {
        float::sqrt(self.value) / self.scale
    }

    /// `1 / sqrt(value / scale² + eps)`, as `scale / sqrt(value + eps·scale²)` (the scale a
    /// power of two, so only the square root and the division round). Where `eps·scale²`
    /// overflows, `value / scale²` is below `eps` by far more than f32 resolves, and the
    /// result is `1 / sqrt(eps)` (unless the value is NaN, which stays NaN).
    pub(crate) fn inv_sqrt_plus(self, eps: f32) -> f32 {
        if self.scale == 1.0 {
            return float::recip_sqrt(self.value + eps);
        }
        let scaled_eps = eps * self.scale * self.scale;
        if scaled_eps.is_finite() || self.value.is_nan() {
            // (A NaN value, from a NaN in the group, must come through.)
            self.scale / float::sqrt(self.value + scaled_eps)
        } else {
            float::recip_sqrt(eps)
        }
    }

    /// `value / scale²`, rounded once (0 or subnormal where f32 cannot hold more).
    pub(crate) fn unscaled(self) -> f32 {
        let exponent = ((self.scale.to_bits() >> 23) & 0xff) as i32 - 127;
        libm::scalbnf(self.value, -2 * exponent)
    }
}

/// Statistics of one normalized group, with the variance also kept scaled (see [`Scaled`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct GroupStats {
    /// Pivot, offset and variance, for normalizing as `((x - pivot) - offset) * ...`.
    pub moments: Moments,
    pub var: Scaled,
    /// The mean, rounded once from `pivot + offset` formed in f64 (what an operator reports).
    pub mean: f32,
}

impl GroupStats {
    /// From an f64 mean and variance: the pivot is the mean rounded to f32 and the offset the
    /// rest, and a variance outside f32's comfortable range is kept scaled.
    pub(crate) fn from_wide(count: u64, mean: f64, var: f64) -> Self {
        let pivot = pivot_from(mean as f32);
        let offset = (mean - f64::from(pivot)) as f32;
        let scale = variance_scale(var);
        let scaled = var * f64::from(scale) * f64::from(scale);
        let moments = Moments::from_parts(count, pivot, offset, var as f32);
        GroupStats {
            moments,
            var: Scaled {
                value: scaled as f32,
                scale,
            },
            mean: mean as f32,
        }
    }

    /// From moments whose variance f32 holds as it is.
    pub(crate) fn unscaled(moments: Moments) -> Self {
        let var = Scaled {
            value: moments.var_raw(),
            scale: 1.0,
        };
        GroupStats {
            moments,
            var,
            mean: moments.pivot() + moments.mean_offset(),
        }
    }

    /// Assembled from a centered pass around `pivot` over `count` values (`inv_n = 1 /
    /// count`).
    pub(crate) fn from_second_pass(
        count: usize,
        inv_n: f32,
        pivot: f32,
        second: SecondPass,
    ) -> GroupStats {
        let (offset, scaled_var) = corrected(inv_n, 0.0, second);
        let var = Scaled {
            value: scaled_var,
            scale: second.scale,
        };
        let moments = Moments::from_parts(count as u64, pivot, offset, var.unscaled());
        GroupStats {
            moments,
            var,
            mean: pivot + offset,
        }
    }
}

/// The factor deviations are multiplied by: `inv_std`, except that an exactly constant group
/// with eps = 0 (inv_std = inf, deviations exactly 0) gets 0, so its output is exactly beta
/// rather than `0 * inf = NaN`.
pub(crate) fn deviation_scale(inv_std: f32) -> f32 {
    if inv_std == f32::INFINITY {
        0.0
    } else {
        inv_std
    }
}

/// What a centered pass over a group sums: `d = (x - center) * scale` for a power-of-two
/// `scale` (1 unless magnitudes are extreme).
#[derive(Clone, Copy, Debug)]
pub(crate) struct SecondPass {
    /// `sum(d)`.
    pub deviations: f32,
    /// `sum(d²)`.
    pub squares: f32,
    pub scale: f32,
}

/// The corrected two-pass result: the offset of the mean from the pivot (first-pass `offset`
/// plus the mean of the second pass's deviations) and the scaled variance, from a second pass
/// over `n` values (`inv_n = 1 / n`).
#[inline(always)]
pub(crate) fn corrected(inv_n: f32, offset: f32, second: SecondPass) -> (f32, f32) {
    let SecondPass {
        deviations,
        squares,
        scale: s,
    } = second;
    // The first pass's mean was off by mean(d); its square inflated the variance. (No
    // correction where the mean is already infinite or NaN; a NaN variance stays NaN.)
    let correction = if offset.is_finite() {
        deviations * inv_n
    } else {
        0.0
    };
    let scaled_var = squares * inv_n - correction * correction;
    let scaled_var = if scaled_var < 0.0 { 0.0 } else { scaled_var };
    (offset + correction / s, scaled_var)
}

/// A power of two `s` that brings `var * s²` near 1 when `var` lies outside [2^-100, 2^100]
/// (where f32 holds it only imprecisely, or not at all), else 1.
fn variance_scale(var: f64) -> f32 {
    const LOW: f64 = 1.0 / (1u128 << 100) as f64;
    const HIGH: f64 = (1u128 << 100) as f64;
    if !var.is_finite() || var == 0.0 || (LOW..=HIGH).contains(&var) {
        return 1.0;
    }
    let exponent = ((var.to_bits() >> 52) & 0x7ff) as i32 - 1023;
    f32::from_bits(((127 - exponent / 2).clamp(1, 254) as u32) << 23)
}

/// A sum of many f32 terms, compensated: the rounded sum and what its additions rounded
/// off (Knuth's TwoSum). Long sums keep about twice f32's precision without f64, which a
/// microcontroller's FPU lacks.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Total {
    sum: f32,
    error: f32,
}

impl Total {
    #[inline(always)]
    pub(crate) fn add(&mut self, x: f32) {
        let (sum, error) = two_sum(self.sum, x);
        self.sum = sum;
        self.error += error;
    }

    /// The total, rounded once.
    #[inline(always)]
    pub(crate) fn value(self) -> f32 {
        self.sum + self.error
    }
}

/// One-pass sums of a group around a pivot: `sum(x - pivot)` and `sum((x - pivot)²)`, each
/// vector lane summed in f32 and folded into a compensated total every few hundred values.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Sums {
    pub pivot: f32,
    pub deviations: f32,
    pub squares: f32,
}

impl Sums {
    /// Whether the sums give the group's statistics (see `one_pass_accepted`).
    pub(crate) fn accepts(&self, inv_n: f32) -> bool {
        sums_accepted(self.deviations, self.squares, inv_n)
    }

    /// The sums as a (centered, unscaled) second pass's result.
    pub(crate) fn as_second_pass(&self) -> SecondPass {
        SecondPass {
            deviations: self.deviations,
            squares: self.squares,
            scale: 1.0,
        }
    }

    /// The mean they give, rounded to f32, to center a second pass on (0 where it is not
    /// finite: the second pass then carries the inf or NaN through).
    pub(crate) fn mean(&self, inv_n: f32) -> f32 {
        pivot_from(self.pivot + self.deviations * inv_n)
    }
}
