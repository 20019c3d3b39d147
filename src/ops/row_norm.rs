//! What LayerNorm and RMSNorm share: the values at each position normalized over its
//! channels, with optional per-channel gamma (and beta), then an epilogue; optionally of the
//! sum with a residual. Channels-last (and `[rows, cols]`) each position's channels are a row;
//! channels-first the kernels reduce across planes.

use super::affine::ChannelAffine;
use super::check::Check;
use super::columns::Columns;
use crate::element::Element;
use crate::error::{ErrorKind, NormError};
use crate::io::{InOut, Residual};
use crate::kernels::{Epilogue, Kernels, Report, RowAffine, Rows, Statistic};
use crate::shape::{Layout, Shape};
use crate::stats::deviation_scale;
use core::marker::PhantomData;

/// A LayerNorm (`Variance`) or RMSNorm (`MeanSquare`), and what follows it (`E`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct RowNorm<'a, St, E> {
    pub eps: f32,
    pub gamma: Option<&'a [f32]>,
    pub beta: Option<&'a [f32]>,
    pub epilogue: E,
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

impl<'a> RowStats<'a> {
    fn report(self) -> Report<'a> {
        Report {
            mean: self.mean,
            inv_std: self.inv_std,
        }
    }
}

impl<St: Statistic, E: Epilogue> RowNorm<'_, St, E> {
    /// Validates everything but the residual; returns the positions (rows) to normalize, or
    /// `None` when the tensor holds no values.
    fn check<T: Element>(
        &self,
        check: Check,
        shape: &Shape,
        io: &InOut<'_, T>,
        stats: &RowStats<'_>,
    ) -> Result<Option<Rows<'_>>, NormError> {
        let total = check.tensor(shape, io)?;
        if shape.c() == 0 {
            return check.fail(ErrorKind::ZeroDimension("shape.c"));
        }
        check.eps(self.eps)?;
        check.optional("gamma", self.gamma, shape.c(), "shape.c")?;
        check.optional("beta", self.beta, shape.c(), "shape.c")?;
        let positions = shape.n() * shape.spatial(); // no overflow: at most `total`
        const FROM: &str = "shape.n * shape.spatial";
        if let Some(mean) = &stats.mean {
            check.len("mean", mean.len(), positions, FROM)?;
        }
        if let Some(inv_std) = &stats.inv_std {
            check.len(stats.inv_name, inv_std.len(), positions, FROM)?;
        }
        // Validated in full first: an empty tensor still needs right lengths.
        Ok((total > 0).then_some(Rows {
            rows: positions,
            cols: shape.c(),
            eps: self.eps,
            gamma: self.gamma,
            beta: self.beta,
            per_row: RowAffine::default(),
        }))
    }
}

impl Kernels {
    /// Normalizes the channels at each position of `shape`; `stats` receive one value per
    /// (n, position).
    pub(crate) fn row_norm<T: Element, St: Statistic, E: Epilogue>(
        &self,
        check: Check,
        p: &RowNorm<'_, St, E>,
        shape: Shape,
        mut io: InOut<'_, T>,
        stats: RowStats<'_>,
    ) -> Result<(), NormError> {
        let Some(rows) = p.check(check, &shape, &io, &stats)? else {
            return Ok(());
        };
        let (c, spatial) = (shape.c(), shape.spatial());
        let channels_last = shape.layout() == Layout::ChannelsLast;
        let epilogue = p.epilogue;
        if self.compact() {
            // One kernel for both layouts: channels-first, each position's channels are a row
            // `spatial` values apart, which a core without caches reads at no extra cost (and
            // the columns engine is not linked).
            if channels_last {
                self.normalize_strided::<T, St, E>(&mut io, 0, 1, rows, stats.report(), epilogue);
                return Ok(());
            }
            let mut report = stats.report();
            let one = Rows { rows: 1, ..rows };
            let (mut mean, mut inv_std) = ([0.0f32], [0.0f32]);
            for position in 0..rows.rows {
                let start = (position / spatial) * c * spatial + position % spatial;
                let wanted = Report {
                    mean: Some(&mut mean),
                    inv_std: Some(&mut inv_std),
                };
                self.normalize_strided::<T, St, E>(&mut io, start, spatial, one, wanted, epilogue);
                report.record(position, mean[0], inv_std[0]);
            }
            return Ok(());
        }
        if channels_last {
            self.normalize_rows::<T, St, E>(&mut io, rows, stats.report(), epilogue);
            return Ok(());
        }
        let mut report = stats.report();
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
            let mut finish = |pos: usize, group: &crate::stats::GroupStats| {
                let inv = group.var.inv_sqrt_plus(p.eps);
                report.record(n * spatial + pos, group.mean, inv);
                deviation_scale(inv)
            };
            self.columns_normalize(&mut io, &set, &mut finish, epilogue);
        }
        Ok(())
    }

    /// [`Kernels::row_norm`] of `x + skip (+ bias)`, on channels-last data (a residual stream
    /// is `[tokens, hidden]`).
    pub(crate) fn add_row_norm<T: Element, St: Statistic, E: Epilogue>(
        &self,
        check: Check,
        p: &RowNorm<'_, St, E>,
        shape: Shape,
        mut io: InOut<'_, T>,
        mut residual: Residual<'_, T>,
        stats: RowStats<'_>,
    ) -> Result<(), NormError> {
        if shape.layout() != Layout::ChannelsLast {
            return check.fail(ErrorKind::Layout(shape.layout()));
        }
        let rows = p.check(check, &shape, &io, &stats)?;
        const FROM: &str = "shape.n * shape.c * shape.spatial";
        let total = io.input_len();
        check.len("skip", residual.skip_len(), total, FROM)?;
        if let Some(sum) = residual.sum_len() {
            check.len("sum", sum, total, FROM)?;
        }
        check.optional("bias", residual.bias_values(), shape.c(), "shape.c")?;
        let Some(rows) = rows else {
            return Ok(());
        };
        if self.compact() {
            self.add_normalize_strided::<T, St, E>(
                &mut io,
                &mut residual,
                rows,
                stats.report(),
                p.epilogue,
            );
        } else {
            let report = stats.report();
            self.add_normalize_rows::<T, St, E>(&mut io, &mut residual, rows, report, p.epilogue);
        }
        Ok(())
    }
}
