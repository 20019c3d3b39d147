//! BatchNorm training, split: per-channel partials of each part, one `finish` for the saved
//! and running statistics, then each part normalized.

use super::apply::Normalize;
use super::part::Part;
use super::stats_check;
use crate::element::Element;
use crate::error::{ErrorKind, NormError};
use crate::io::InOut;
use crate::kernels::{Identity, Kernels};
use crate::ops::batch_norm_training::{BatchNormTraining, RunningStats, record_batch};
use crate::ops::check::Check;
use crate::ops::grouped::Reduce;
use crate::ops::saved::SavedStats;
use crate::shape::Shape;
use crate::stats::{GroupStats, Moments};

impl BatchNormTraining<'_> {
    /// The checks of [`Kernels::batch_norm_training`] that do not involve the tensor, in its
    /// order.
    pub(crate) fn check_params(
        &self,
        check: Check,
        shape: &Shape,
        running: &Option<RunningStats<'_>>,
        saved: &Option<SavedStats<'_>>,
    ) -> Result<(), NormError> {
        check.eps(self.eps)?;
        let c = shape.c();
        check.optional("gamma", self.gamma, c, "shape.c")?;
        check.optional("beta", self.beta, c, "shape.c")?;
        SavedStats::check(saved, check, c, "shape.c")?;
        if let Some(r) = running {
            check.len("running_mean", r.mean.len(), c, "shape.c")?;
            check.len("running_var", r.var.len(), c, "shape.c")?;
            r.momentum.check(check)?;
        }
        let per_channel = shape.n().saturating_mul(shape.spatial());
        if per_channel <= 1 {
            return check.fail(ErrorKind::TooFewValues { per_channel });
        }
        Ok(())
    }

    /// Phase two, once per step (after merging every part's partial): reports each channel's
    /// batch mean and `1 / sqrt(var + eps)` in `saved` and folds the batch statistics into
    /// `running`, by the same formulas as [`Kernels::batch_norm_training`].
    ///
    /// `stats` holds the merged statistics of every channel (`shape.c()`), each counting all
    /// `n * spatial` of its values. Writes nothing on error.
    pub fn finish(
        &self,
        shape: Shape,
        stats: &[Moments],
        mut running: Option<RunningStats<'_>>,
        mut saved: Option<SavedStats<'_>>,
    ) -> Result<(), NormError> {
        let check = Check::new("BatchNormTraining::finish");
        check.count(&shape)?;
        self.check_params(check, &shape, &running, &saved)?;
        stats_check(check, stats, shape.c(), "shape.c", per_channel(&shape))?;
        for (c, m) in stats.iter().enumerate() {
            record_batch(
                self.eps,
                c,
                &GroupStats::unscaled(*m),
                &mut running,
                &mut saved,
            );
        }
        Ok(())
    }
}

/// Values per channel.
fn per_channel(shape: &Shape) -> u64 {
    shape.n().saturating_mul(shape.spatial()) as u64
}

impl Kernels {
    /// Phase one: the moments of each channel over the part's values `x` (the part's values of
    /// the input, `x[part.range(&shape)]`) into `partial` (`shape.c()` of them; a channel with
    /// no value in the part gets an empty [`Moments`]). Merge the parts' partials with
    /// [`merge`](super::merge).
    pub fn batch_norm_training_stats<T: Element>(
        &self,
        shape: Shape,
        part: Part,
        x: &[T],
        partial: &mut [Moments],
    ) -> Result<(), NormError> {
        let check = Check::new("batch_norm_training_stats");
        part.check(check, &shape, x.len(), None)?;
        check.len("partial", partial.len(), shape.c(), "shape.c")?;
        let mut no_output: [T; 0] = [];
        let io = InOut::new(x, &mut no_output);
        self.part_stats(shape, Reduce::Channel, part, &io, partial);
        Ok(())
    }

    /// Phase three: normalizes the part (`io` over the part's values) with the merged
    /// statistics of every channel, `y = (x - mean) / sqrt(var + eps) * gamma + beta`, through
    /// the normalize kernels of [`Kernels::batch_norm_inference`]. Writes nothing on error.
    pub fn batch_norm_training_apply<T: Element>(
        &self,
        p: &BatchNormTraining<'_>,
        shape: Shape,
        part: Part,
        stats: &[Moments],
        mut io: InOut<'_, T>,
    ) -> Result<(), NormError> {
        let check = Check::new("batch_norm_training_apply");
        part.check(check, &shape, io.input_len(), Some(io.output_len()))?;
        p.check_params(check, &shape, &None, &None)?;
        stats_check(check, stats, shape.c(), "shape.c", per_channel(&shape))?;
        let norm = Normalize {
            stats,
            affine: p.affine(),
            eps: p.eps,
        };
        self.part_apply(shape, Reduce::Channel, part, &norm, &mut io, Identity);
        Ok(())
    }
}
