//! LayerNorm: each row (the trailing dims: ONNX `axis`, PyTorch `normalized_shape`) normalized
//! over its own values, with optional per-element gamma and beta.

use super::check;
use super::row_norm::RowNorm;
use super::saved::SavedStats;
use crate::error::NormError;
use crate::io::InOut;
use crate::kernels::{Kernels, Variance};
use crate::shape::Shape;
use core::marker::PhantomData;

/// LayerNorm parameters: rows of `cols` values, `y = (x - mean) / sqrt(var + eps) * gamma + beta`.
#[derive(Clone, Copy, Debug)]
pub struct LayerNorm<'a> {
    /// Values per row: the product of the normalized (trailing) dims.
    pub cols: usize,
    pub eps: f32,
    /// Per-element scale, `cols` values.
    pub gamma: Option<&'a [f32]>,
    /// Per-element shift, `cols` values.
    pub beta: Option<&'a [f32]>,
}

impl<'a> LayerNorm<'a> {
    /// Rows of `cols`, eps 1e-5, no affine.
    pub const fn new(cols: usize) -> Self {
        LayerNorm {
            cols,
            eps: check::DEFAULT_EPS,
            gamma: None,
            beta: None,
        }
    }
}

setters!(LayerNorm: eps, gamma, beta);

impl<'a> LayerNorm<'a> {
    fn row_norm(&self) -> RowNorm<'a, Variance> {
        let LayerNorm {
            cols,
            eps,
            gamma,
            beta,
        } = *self;
        RowNorm {
            cols,
            eps,
            gamma,
            beta,
            statistic: PhantomData,
        }
    }
}

impl Kernels {
    /// Normalizes each row of `p.cols` values. `stats`, if given, receives each row's mean and
    /// inverse std (one value per row).
    pub fn layer_norm(
        &self,
        p: &LayerNorm<'_>,
        io: InOut<'_>,
        stats: Option<SavedStats<'_>>,
    ) -> Result<(), NormError> {
        self.row_norm(&p.row_norm(), io, stats)
    }

    /// LayerNorm over the channels at each position of a `[N, C, spatial]` or `[N, spatial, C]`
    /// tensor (`p.cols` must equal `shape.c`; gamma and beta are per channel). Channels-last this
    /// is [`Kernels::layer_norm`]; channels-first (ConvNeXt's `LayerNorm(channels_first)`) it
    /// reduces across planes without transposing. `stats` holds one value per (n, position).
    pub fn layer_norm_channels(
        &self,
        p: &LayerNorm<'_>,
        shape: Shape,
        io: InOut<'_>,
        stats: Option<SavedStats<'_>>,
    ) -> Result<(), NormError> {
        self.row_norm_channels(&p.row_norm(), shape, io, stats)
    }
}
