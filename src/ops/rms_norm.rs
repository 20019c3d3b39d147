//! RMSNorm: LayerNorm without the mean, `y = x / sqrt(mean(x²) + eps) * gamma`.

use super::check::{Check, DEFAULT_EPS};
use super::row_norm::{RowNorm, RowStats};
use crate::error::NormError;
use crate::io::InOut;
use crate::kernels::{Kernels, MeanSquare};
use crate::shape::Shape;
use core::marker::PhantomData;

/// An RMSNorm layer (ONNX RMSNormalization, PyTorch `nn.RMSNorm`):
/// `y = x / sqrt(mean(x²) + eps) * gamma` over each position's channels.
///
/// ```
/// use normkern::RmsNorm;
/// let gamma = vec![1.0f32; 4096];
/// let rms = RmsNorm::new().eps(1e-6).gamma(&gamma);
/// # let _ = rms;
/// ```
#[derive(Clone, Copy, Debug)]
pub struct RmsNorm<'a> {
    eps: f32,
    gamma: Option<&'a [f32]>,
}

impl<'a> RmsNorm<'a> {
    /// eps 1e-5, no gamma (1).
    pub const fn new() -> Self {
        RmsNorm {
            eps: DEFAULT_EPS,
            gamma: None,
        }
    }
}

impl Default for RmsNorm<'_> {
    fn default() -> Self {
        RmsNorm::new()
    }
}

setters!(RmsNorm: eps, gamma);

impl Kernels {
    /// RMSNorm of the channels at each position of `shape` (each row of
    /// [`Shape::rows`]`(rows, cols)`; either layout, as [`Kernels::layer_norm`]). Gamma holds
    /// `shape.c()` values. `inv_rms`, if given, receives each position's
    /// `1 / sqrt(mean(x²) + eps)` (`shape.n() * shape.spatial()` values).
    ///
    /// ```
    /// use normkern::{InOut, Kernels, RmsNorm, Shape};
    /// let mut h = vec![3.0f32; 2 * 4096];
    /// let mut inv_rms = [0.0f32; 2];
    /// let rms = RmsNorm::new().eps(0.0);
    /// Kernels::detect().rms_norm(&rms, Shape::rows(2, 4096), InOut::in_place(&mut h), Some(&mut inv_rms))?;
    /// assert_eq!(inv_rms, [1.0 / 3.0; 2]);
    /// assert!(h.iter().all(|&v| v == 1.0));
    /// # Ok::<(), normkern::NormError>(())
    /// ```
    pub fn rms_norm(
        &self,
        p: &RmsNorm<'_>,
        shape: Shape,
        io: InOut<'_>,
        inv_rms: Option<&mut [f32]>,
    ) -> Result<(), NormError> {
        let norm = RowNorm::<MeanSquare> {
            eps: p.eps,
            gamma: p.gamma,
            beta: None,
            statistic: PhantomData,
        };
        let stats = RowStats {
            mean: None,
            inv_std: inv_rms,
            inv_name: "inv_rms",
        };
        self.row_norm(Check::new("rms_norm"), &norm, shape, io, stats)
    }
}
