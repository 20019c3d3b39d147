//! A normalized group's statistics, from its one-pass sums or a centered second pass.

use super::accept::one_pass_accepted;
use super::moments::{Moments, pivot_from};
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

    /// `1 / sqrt(value / scale² + eps)`, through f64 only when a scale is in play (rare data).
    pub(crate) fn inv_sqrt_plus(self, eps: f32) -> f32 {
        if self.scale == 1.0 {
            float::recip_sqrt(self.value + eps)
        } else {
            let scale = f64::from(self.scale);
            let unscaled = f64::from(self.value) / (scale * scale);
            (1.0 / libm::sqrt(unscaled + f64::from(eps))) as f32
        }
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
        let mean = f64::from(moments.pivot()) + f64::from(moments.mean_offset());
        GroupStats {
            moments,
            var,
            mean: mean as f32,
        }
    }

    /// Assembled from a centered pass around `pivot` over `count` values (`inv_n = 1 /
    /// count`).
    pub(crate) fn from_second_pass(
        count: usize,
        inv_n: f64,
        pivot: f32,
        second: SecondPass,
    ) -> GroupStats {
        let s = second.scale;
        let (offset64, scaled_var) = corrected(inv_n, 0.0, second);
        let unscaled_var = scaled_var / (f64::from(s) * f64::from(s));
        let moments =
            Moments::from_parts(count as u64, pivot, offset64 as f32, unscaled_var as f32);
        GroupStats {
            moments,
            var: Scaled {
                value: scaled_var as f32,
                scale: s,
            },
            mean: (f64::from(pivot) + offset64) as f32,
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
    pub deviations: f64,
    /// `sum(d²)`.
    pub squares: f64,
    pub scale: f32,
}

/// The corrected two-pass result: the offset of the mean from the pivot (first-pass `offset`
/// plus the mean of the second pass's deviations) and the scaled variance, from a second pass
/// over `n` values (`inv_n = 1 / n`).
#[inline(always)]
pub(crate) fn corrected(inv_n: f64, offset: f32, second: SecondPass) -> (f64, f64) {
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
    (f64::from(offset) + correction / f64::from(s), scaled_var)
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

/// One-pass sums of a group around a pivot: `sum(x - pivot)` and `sum((x - pivot)²)`, each
/// vector lane summed in f32 and folded into f64 every few hundred values.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Sums {
    pub pivot: f32,
    pub deviations: f64,
    pub squares: f64,
}

impl Sums {
    /// Whether the sums give the group's statistics ([`one_pass_accepted`]).
    pub(crate) fn accepts(&self, inv_n: f64) -> bool {
        one_pass_accepted(
            self.deviations * self.deviations * inv_n,
            self.squares,
            inv_n,
        )
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
    pub(crate) fn mean(&self, inv_n: f64) -> f32 {
        pivot_from((f64::from(self.pivot) + self.deviations * inv_n) as f32)
    }
}
