//! LayerNorm: each row (the trailing dims: ONNX `axis`, PyTorch `normalized_shape`) normalized
//! over its own values, with optional per-element gamma and beta.

use super::affine::ChannelAffine;
use super::check;
use super::columns::Columns;
use super::saved::SavedStats;
use super::spread::deviation_scale;
use crate::error::NormError;
use crate::io::InOut;
use crate::kernels::{Kernels, Rows};
use crate::shape::Shape;

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
    pub const fn eps(self, eps: f32) -> Self {
        LayerNorm { eps, ..self }
    }
    pub const fn gamma(self, gamma: &'a [f32]) -> Self {
        LayerNorm {
            gamma: Some(gamma),
            ..self
        }
    }
    pub const fn beta(self, beta: &'a [f32]) -> Self {
        LayerNorm {
            beta: Some(beta),
            ..self
        }
    }

    fn check(&self) -> Result<(), NormError> {
        check::eps(self.eps)?;
        check::optional("gamma", self.gamma, self.cols)?;
        check::optional("beta", self.beta, self.cols)
    }
}

impl Kernels {
    /// Normalizes each row of `p.cols` values. `stats`, if given, receives each row's mean and
    /// inverse std (one value per row).
    pub fn layer_norm(
        &self,
        p: &LayerNorm<'_>,
        mut io: InOut<'_>,
        mut stats: Option<SavedStats<'_>>,
    ) -> Result<(), NormError> {
        let rows = check::rows(p.cols, io.input_len(), Some(io.output_len()))?;
        p.check()?;
        SavedStats::check(&stats, rows)?;
        let rows = Rows {
            rows,
            cols: p.cols,
            eps: p.eps,
            center: true,
            gamma: p.gamma,
            beta: p.beta,
        };
        self.normalize_rows(
            &mut io,
            &rows,
            stats.as_mut().map(|s| (&mut *s.mean, &mut *s.inv_std)),
        );
        Ok(())
    }

    /// LayerNorm over the channels at each position of a `[N, C, spatial]` or `[N, spatial, C]`
    /// tensor (`p.cols` must equal `shape.c`; gamma and beta are per channel). Channels-last this
    /// is [`Kernels::layer_norm`]; channels-first (ConvNeXt's `LayerNorm(channels_first)`) it
    /// reduces across planes without transposing. `stats` holds one value per (n, position).
    pub fn layer_norm_channels(
        &self,
        p: &LayerNorm<'_>,
        shape: Shape,
        mut io: InOut<'_>,
        mut stats: Option<SavedStats<'_>>,
    ) -> Result<(), NormError> {
        check::tensor(&shape, io.input_len(), Some(io.output_len()))?;
        check::len("cols", p.cols, shape.c)?;
        p.check()?;
        if shape.c == 0 {
            return Err(NormError::ZeroDimension("c"));
        }
        if matches!(shape.layout, crate::Layout::ChannelsLast) {
            return self.layer_norm(p, io, stats);
        }
        SavedStats::check(&stats, shape.n * shape.spatial)?;
        let rows = ChannelAffine {
            gamma: p.gamma,
            beta: p.beta,
        };
        for n in 0..shape.n {
            let set = Columns {
                start: n * shape.c * shape.spatial,
                rows: shape.c,
                cols: shape.spatial,
                group_size: 1,
                center: true,
                column_affine: ChannelAffine::default(),
                row_affine: rows,
            };
            self.columns_normalize(&mut io, &set, &mut |pos, stats_of| {
                let inv = stats_of.var.inv_sqrt_plus(p.eps);
                let mean = stats_of.mean;
                SavedStats::record(&mut stats, n * shape.spatial + pos, mean, inv);
                deviation_scale(inv)
            });
        }
        Ok(())
    }
}
