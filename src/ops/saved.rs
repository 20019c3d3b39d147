//! Optional per-group statistics an operator reports (for a backward pass, or ONNX outputs).

use super::check;
use crate::error::NormError;

/// Buffers for the mean and inverse standard deviation of every normalized group (row,
/// channel, (n, c) or (n, group)), as a backward pass needs them.
#[derive(Debug)]
pub struct SavedStats<'a> {
    pub mean: &'a mut [f32],
    pub inv_std: &'a mut [f32],
}

impl SavedStats<'_> {
    pub(crate) fn check(stats: &Option<SavedStats<'_>>, groups: usize) -> Result<(), NormError> {
        if let Some(s) = stats {
            check::len("mean", s.mean.len(), groups)?;
            check::len("inv_std", s.inv_std.len(), groups)?;
        }
        Ok(())
    }

    pub(crate) fn record(stats: &mut Option<SavedStats<'_>>, group: usize, mean: f32, inv: f32) {
        if let Some(s) = stats {
            s.mean[group] = mean;
            s.inv_std[group] = inv;
        }
    }
}
