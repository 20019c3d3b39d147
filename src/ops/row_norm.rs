//! What LayerNorm and RMSNorm share: rows of `cols` values with optional per-element gamma
//! (and beta), normalized along the rows, or over the channels at each position of a tensor.

use super::affine::ChannelAffine;
use super::check;
use super::columns::Columns;
use super::saved::SavedStats;
use super::spread::deviation_scale;
use crate::error::NormError;
use crate::io::InOut;
use crate::kernels::{Identity, Kernels, Report, Rows, Statistic};
use crate::shape::{Layout, Shape};
use core::marker::PhantomData;

/// A LayerNorm (`Variance`) or RMSNorm (`MeanSquare`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct RowNorm<'a, St> {
    pub cols: usize,
    pub eps: f32,
    pub gamma: Option<&'a [f32]>,
    pub beta: Option<&'a [f32]>,
    pub statistic: PhantomData<St>,
}

impl<St: Statistic> RowNorm<'_, St> {
    fn check(&self) -> Result<(), NormError> {
        check::eps(self.eps)?;
        check::optional("gamma", self.gamma, self.cols)?;
        check::optional("beta", self.beta, self.cols)
    }
}

impl Kernels {
    /// Normalizes each row of `p.cols` values; `stats` receives one mean and inverse std a row.
    pub(crate) fn row_norm<St: Statistic>(
        &self,
        p: &RowNorm<'_, St>,
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
            gamma: p.gamma,
            beta: p.beta,
        };
        let report = match stats.as_mut() {
            Some(s) => Report {
                mean: Some(&mut *s.mean),
                inv_std: Some(&mut *s.inv_std),
            },
            None => Report::default(),
        };
        self.normalize_rows::<St, _>(&mut io, rows, report, Identity);
        Ok(())
    }

    /// Normalizes over the channels at each position (`p.cols` must equal `shape.c`): the
    /// rows themselves channels-last, a reduction across planes channels-first. `stats`
    /// receives one value per (n, position).
    pub(crate) fn row_norm_channels<St: Statistic>(
        &self,
        p: &RowNorm<'_, St>,
        shape: Shape,
        mut io: InOut<'_>,
        mut stats: Option<SavedStats<'_>>,
    ) -> Result<(), NormError> {
        let total = check::tensor(&shape, io.input_len(), Some(io.output_len()))?;
        check::len("cols", p.cols, shape.c)?;
        p.check()?;
        if shape.c == 0 {
            return Err(NormError::ZeroDimension("c"));
        }
        if shape.layout == Layout::ChannelsLast {
            return self.row_norm(p, io, stats);
        }
        SavedStats::check(&stats, shape.n.saturating_mul(shape.spatial))?;
        if total == 0 {
            return Ok(()); // validated in full first: an empty tensor still needs right lengths
        }
        for n in 0..shape.n {
            let set = Columns {
                start: n * shape.c * shape.spatial,
                rows: shape.c,
                cols: shape.spatial,
                group_size: 1,
                center: St::CENTERED,
                column_affine: ChannelAffine::default(),
                row_affine: ChannelAffine {
                    gamma: p.gamma,
                    beta: p.beta,
                },
            };
            self.columns_normalize(&mut io, &set, &mut |pos, group| {
                let inv = group.var.inv_sqrt_plus(p.eps);
                SavedStats::record(&mut stats, n * shape.spatial + pos, group.mean, inv);
                deviation_scale(inv)
            });
        }
        Ok(())
    }
}
