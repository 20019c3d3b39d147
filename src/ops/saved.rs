//! Optional per-group statistics an operator reports (for a backward pass, or ONNX outputs).

use super::check::Check;
use crate::error::NormError;

/// Buffers for the mean and inverse standard deviation `1 / sqrt(var + eps)` (eps included,
/// the biased variance) of every normalized group, as a backward pass and ONNX's optional
/// outputs need them: one value per row, channel, (n, c) or (n, group), in that order.
///
/// ```
/// use normkern::{InOut, Kernels, LayerNorm, SavedStats, Shape};
/// let x = [1.0f32, 3.0, 5.0, 7.0];
/// let (mut y, mut mean, mut inv_std) = ([0.0f32; 4], [0.0f32; 1], [0.0f32; 1]);
/// let saved = SavedStats::new(&mut mean, &mut inv_std);
/// let ln = LayerNorm::new().eps(0.0);
/// Kernels::detect().layer_norm(&ln, Shape::rows(1, 4), InOut::new(&x, &mut y), Some(saved))?;
/// assert_eq!(mean, [4.0]);
/// assert!((inv_std[0] - 1.0 / 5f32.sqrt()).abs() < 1e-7);
/// # Ok::<(), normkern::NormError>(())
/// ```
#[derive(Debug)]
pub struct SavedStats<'a> {
    mean: &'a mut [f32],
    inv_std: &'a mut [f32],
}

impl<'a> SavedStats<'a> {
    /// One value per normalized group in each (checked by the operator).
    pub fn new(mean: &'a mut [f32], inv_std: &'a mut [f32]) -> SavedStats<'a> {
        SavedStats { mean, inv_std }
    }

    pub(crate) fn check(
        stats: &Option<SavedStats<'_>>,
        check: Check,
        groups: usize,
        from: &'static str,
    ) -> Result<(), NormError> {
        if let Some(s) = stats {
            check.len("mean", s.mean.len(), groups, from)?;
            check.len("inv_std", s.inv_std.len(), groups, from)?;
        }
        Ok(())
    }

    pub(crate) fn record(stats: &mut Option<SavedStats<'_>>, group: usize, mean: f32, inv: f32) {
        if let Some(s) = stats {
            s.mean[group] = mean;
            s.inv_std[group] = inv;
        }
    }

    /// Both buffers, for a kernel to write into.
    pub(crate) fn into_buffers(self) -> (&'a mut [f32], &'a mut [f32]) {
        (self.mean, self.inv_std)
    }
}
