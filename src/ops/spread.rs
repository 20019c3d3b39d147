//! From a group's moments to the factor its deviations are multiplied by.

pub(crate) use crate::kernels::deviation_scale;
use crate::moments::Moments;

/// `1 / sqrt(var + eps)`, with the variance of a non-finite group left NaN so it poisons.
pub(crate) fn inv_std(var: f32, eps: f32) -> f32 {
    1.0 / libm::sqrtf(var + eps)
}

/// Mean of squares from moments taken around pivot 0 (RMSNorm): `var + mean²`, a sum of two
/// non-negative terms, so no cancellation.
pub(crate) fn mean_square(m: &Moments) -> f32 {
    let mean = m.mean_offset();
    m.var_raw() + mean * mean
}
