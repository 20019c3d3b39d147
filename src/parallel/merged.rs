//! Operators whose groups span the parts: the split-phase API on the pool (statistics per
//! part, merged in part order, then each part normalized).

use super::{Trips, part_count, split_io};
use crate::activation::Activation;
use crate::element::Element;
use crate::error::NormError;
use crate::io::InOut;
use crate::kernels::{Activate, Epilogue, Identity, Kernels};
use crate::ops::affine::ChannelAffine;
use crate::ops::batch_norm_training::{BatchNormTraining, RunningStats, record_batch};
use crate::ops::check::Check;
use crate::ops::grouped::Reduce;
use crate::ops::instance_norm::InstanceNorm;
use crate::ops::saved::SavedStats;
use crate::ops::split::Part;
use crate::ops::split::apply::Normalize;
use crate::shape::Shape;
use crate::stats::{GroupStats, Moments};
use rayon::prelude::*;
use std::vec;
use std::vec::Vec;

/// The statistics of the groups of `reduce` over `shape`, from the parts of `io` (cut into
/// one per thread), merged in part order; and the parts, to normalize.
fn merged_stats<'a, T: Element>(
    k: &Kernels,
    shape: Shape,
    reduce: Reduce,
    groups: usize,
    io: InOut<'a, T>,
) -> (Vec<Moments>, Vec<(Part, InOut<'a, T>)>) {
    let (lines, line_len) = (Part::lines(&shape), Part::line_len(&shape));
    let parts = split_io(io, lines, line_len, part_count(lines, line_len, Trips::Two));
    let partials: Vec<Vec<Moments>> = parts
        .par_iter()
        .map(|(part, io)| {
            let mut partial = vec![Moments::new(); groups];
            k.part_stats(shape, reduce, *part, io, &mut partial);
            partial
        })
        .collect();
    let mut stats = vec![Moments::new(); groups];
    for partial in &partials {
        for (total, m) in stats.iter_mut().zip(partial) {
            total.merge(m);
        }
    }
    (stats, parts)
}

/// Normalizes every part with the merged statistics, in parallel.
fn apply_parts<T: Element, E: Epilogue + Sync>(
    k: &Kernels,
    shape: Shape,
    reduce: Reduce,
    norm: &Normalize<'_>,
    parts: Vec<(Part, InOut<'_, T>)>,
    epilogue: E,
) {
    parts.into_par_iter().for_each(|(part, mut io)| {
        k.part_apply(shape, reduce, part, norm, &mut io, epilogue);
    });
}

impl Kernels {
    /// [`Kernels::batch_norm_training`] on rayon's pool. Channels-first, each thread takes a
    /// range of channels (their planes across the batch), the single-thread kernel on each:
    /// bitwise the single-thread call. Channels-last, with fewer channels than threads, or
    /// on the compact set, each thread takes its part of the lines (planes or positions),
    /// statistics merged as in the [split-phase API](crate::split) and within its
    /// tolerance; the saved and running statistics written once.
    pub fn par_batch_norm_training<T: Element>(
        &self,
        p: &BatchNormTraining<'_>,
        shape: Shape,
        io: InOut<'_, T>,
        mut running: Option<RunningStats<'_>>,
        mut saved: Option<SavedStats<'_>>,
    ) -> Result<(), NormError> {
        let check = Check::new("batch_norm_training");
        check.tensor(&shape, &io)?;
        p.check_params(check, &shape, &running, &saved)?;
        if let Some(parts) = self.channel_parts(&shape) {
            self.batch_norm_training_by_channels(p, shape, io, running, saved, parts);
            return Ok(());
        }
        if part_count(Part::lines(&shape), Part::line_len(&shape), Trips::Two) == 1 {
            return self.batch_norm_training(p, shape, io, running, saved);
        }
        let c = shape.c();
        let (stats, parts) = merged_stats(self, shape, Reduce::Channel, c, io);
        for (ch, m) in stats.iter().enumerate() {
            let group = GroupStats::unscaled(*m);
            record_batch(p.eps, ch, &group, &mut running, &mut saved);
        }
        let norm = Normalize {
            stats: &stats,
            affine: p.affine(),
            eps: p.eps,
        };
        apply_parts(self, shape, Reduce::Channel, &norm, parts, Identity);
        Ok(())
    }

    /// InstanceNorm and GroupNorm (groups of `group_size` channels) with fewer samples than
    /// threads (but one channels-first sample, which is cut between its groups), everything
    /// checked: the split-phase API on the pool.
    pub(crate) fn par_split_groups<T: Element, A: Activation>(
        &self,
        p: &InstanceNorm<'_, A>,
        shape: Shape,
        group_size: usize,
        io: InOut<'_, T>,
        mut saved: Option<SavedStats<'_>>,
    ) -> Result<(), NormError> {
        let groups = shape.n() * (shape.c() / group_size);
        let reduce = Reduce::SampleGroup { group_size };
        let (stats, parts) = merged_stats(self, shape, reduce, groups, io);
        for (g, m) in stats.iter().enumerate() {
            let group = GroupStats::unscaled(*m);
            SavedStats::record(&mut saved, g, group.mean, group.var.inv_sqrt_plus(p.eps));
        }
        let norm = Normalize {
            stats: &stats,
            affine: ChannelAffine {
                gamma: p.gamma,
                beta: p.beta,
            },
            eps: p.eps,
        };
        apply_parts(self, shape, reduce, &norm, parts, Activate(p.activation));
        Ok(())
    }
}
