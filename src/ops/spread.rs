//! From a group's moments to the factor its deviations are multiplied by.

pub(crate) use crate::stats::deviation_scale;

/// `1 / sqrt(var + eps)`, with the variance of a non-finite group left NaN so it poisons.
pub(crate) fn inv_std(var: f32, eps: f32) -> f32 {
    crate::float::recip_sqrt(var + eps)
}
