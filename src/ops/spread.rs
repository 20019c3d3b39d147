//! From a group's moments to the factor its deviations are multiplied by.

use crate::moments::Moments;

/// `1 / sqrt(var + eps)`, with the variance of a non-finite group left NaN so it poisons.
pub(crate) fn inv_std(var: f32, eps: f32) -> f32 {
    1.0 / libm::sqrtf(var + eps)
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

/// Mean of squares from moments taken around pivot 0 (RMSNorm): `var + mean²`, a sum of two
/// non-negative terms, so no cancellation.
pub(crate) fn mean_square(m: &Moments) -> f32 {
    let mean = m.mean_offset();
    m.var_raw() + mean * mean
}
