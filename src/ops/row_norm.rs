//! What LayerNorm and RMSNorm share: the values at each position normalized over its
//! channels, with optional per-channel gamma (and beta). Channels-last (and `[rows, cols]`)
//! each position's channels are a row; channels-first the kernel reduces across planes.

use super::affine::ChannelAffine;
use super::check::Check;
use super::columns::Columns;
use crate::error::{ErrorKind, NormError};
use crate::io::InOut;
use crate::kernels::{Identity, Kernels, Report, Rows, Statistic};
use crate::shape::{Layout, Shape};
use crate::stats::deviation_scale;
use core::marker::PhantomData;

/// A LayerNorm (`Variance`) or RMSNorm (`MeanSquare`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct RowNorm<'a, St> {
    pub eps: f32,
    pub gamma: Option<&'a [f32]>,
    pub beta: Option<&'a [f32]>,
    pub statistic: PhantomData<St>,
}

/// Where the per-position statistics go: the means (LayerNorm only) and the inverse
/// standard deviations or root mean squares.
pub(crate) struct RowStats<'a> {
    pub mean: Option<&'a mut [f32]>,
    pub inv_std: Option<&'a mut [f32]>,
    /// What the operator calls `inv_std` (in its errors).
    pub inv_name: &'static str,
}

impl Kernels {
    /// Normalizes the channels at each position of `shape`; `stats` receive one value per
    /// (n, position).
    pub(crate) fn row_norm<St: Statistic>(
        &self,
        check: Check,
        p: &RowNorm<'_, St>,
        shape: Shape,
        mut io: InOut<'_>,
        stats: RowStats<'_>,
    ) -> Result<(), NormError> {
        let total = check.tensor(&shape, &io)?;
        if shape.c() == 0 {
            return check.fail(ErrorKind::ZeroDimension("shape.c"));
        }
        check.eps(p.eps)?;
        check.optional("gamma", p.gamma, shape.c(), "shape.c")?;
        check.optional("beta", p.beta, shape.c(), "shape.c")?;
        let positions = shape.n() * shape.spatial(); // no overflow: at most `total`
        const FROM: &str = "shape.n * shape.spatial";
        if let Some(mean) = &stats.mean {
            check.len("mean", mean.len(), positions, FROM)?;
        }
        if let Some(inv_std) = &stats.inv_std {
            check.len(stats.inv_name, inv_std.len(), positions, FROM)?;
        }
        if total == 0 {
            return Ok(()); // validated in full first: an empty tensor still needs right lengths
        }
        let rows = Rows {
            rows: positions,
            cols: shape.c(),
            eps: p.eps,
            gamma: p.gamma,
            beta: p.beta,
        };
        let mut report = Report {
            mean: stats.mean,
            inv_std: stats.inv_std,
        };
        let (c, spatial) = (shape.c(), shape.spatial());
        let channels_last = shape.layout() == Layout::ChannelsLast;
        if self.compact() {
            // One kernel for both layouts: channels-first, each position's channels are a row
            // `spatial` values apart, which a core without caches reads at no extra cost (and
            // the columns engine is not linked).
            if channels_last {
                self.normalize_strided::<St>(&mut io, 0, 1, rows, report);
                return Ok(());
            }
            let one = Rows { rows: 1, ..rows };
            let (mut mean, mut inv_std) = ([0.0f32], [0.0f32]);
            for position in 0..positions {
                let start = (position / spatial) * c * spatial + position % spatial;
                let wanted = Report {
                    mean: Some(&mut mean),
                    inv_std: Some(&mut inv_std),
                };
                self.normalize_strided::<St>(&mut io, start, spatial, one, wanted);
                report.record(position, mean[0], inv_std[0]);
            }
            return Ok(());
        }
        if channels_last {
            self.normalize_rows::<St, _>(&mut io, rows, report, Identity);
            return Ok(());
        }
        for n in 0..shape.n() {
            let set = Columns {
                start: n * c * spatial,
                rows: c,
                cols: spatial,
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
                report.record(n * spatial + pos, group.mean, inv);
                deviation_scale(inv)
            });
        }
        Ok(())
    }
}
