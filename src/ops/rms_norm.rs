//! RMSNorm: LayerNorm without the mean, `y = x / sqrt(mean(x²) + eps) * gamma`.

use super::check;
use super::row_norm::RowNorm;
use crate::error::NormError;
use crate::io::InOut;
use crate::kernels::{Kernels, MeanSquare};
use crate::shape::Shape;
use core::marker::PhantomData;

/// RMSNorm parameters: rows of `cols` values (ONNX RMSNormalization, PyTorch `nn.RMSNorm`).
#[derive(Clone, Copy, Debug)]
pub struct RmsNorm<'a> {
    pub cols: usize,
    pub eps: f32,
    /// Per-element scale, `cols` values.
    pub gamma: Option<&'a [f32]>,
}

impl<'a> RmsNorm<'a> {
    /// Rows of `cols`, eps 1e-5, no scale.
    pub const fn new(cols: usize) -> Self {
        RmsNorm {
            cols,
            eps: check::DEFAULT_EPS,
            gamma: None,
        }
    }
}

setters!(RmsNorm: eps, gamma);

impl<'a> RmsNorm<'a> {
    fn row_norm(&self) -> RowNorm<'a, MeanSquare> {
        let RmsNorm { cols, eps, gamma } = *self;
        RowNorm {
            cols,
            eps,
            gamma,
            beta: None,
            statistic: PhantomData,
        }
    }
}

impl Kernels {
    /// Normalizes each row of `p.cols` values by its root mean square.
    pub fn rms_norm(&self, p: &RmsNorm<'_>, io: InOut<'_>) -> Result<(), NormError> {
        self.row_norm(&p.row_norm(), io, None)
    }

    /// RMSNorm over the channels at each position (`p.cols` must equal `shape.c`); see
    /// [`Kernels::layer_norm_channels`].
    pub fn rms_norm_channels(
        &self,
        p: &RmsNorm<'_>,
        shape: Shape,
        io: InOut<'_>,
    ) -> Result<(), NormError> {
        self.row_norm_channels(&p.row_norm(), shape, io, None)
    }
}
