//! Operators whose groups are independent: cut between groups, each part the single-thread
//! call on its slice, so the result is bitwise the single-thread call's.

use super::{Trips, first_error, part_count, split_io, split_stats};
use crate::activation::Activation;
use crate::element::Element;
use crate::error::NormError;
use crate::io::InOut;
use crate::kernels::Kernels;
use crate::ops::batch_norm::BatchNorm;
use crate::ops::check::Check;
use crate::ops::group_norm::GroupNorm;
use crate::ops::instance_norm::InstanceNorm;
use crate::ops::layer_norm::LayerNorm;
use crate::ops::mvn::{MeanVarianceNorm, MvnAxes};
use crate::ops::rms_norm::RmsNorm;
use crate::ops::saved::SavedStats;
use crate::ops::split::Part;
use crate::shape::{Layout, Shape};
use rayon::prelude::*;
use std::vec::Vec;

/// Per-part outputs: up to two per-unit statistics buffers.
type Stats<'a> = [Option<&'a mut [f32]>; 2];

/// Where a tensor is cut: `units` units of `unit_len` values, each with `per_unit` values of
/// each statistics buffer; units are positions of a channels-last tensor or samples.
struct Cut {
    units: usize,
    unit_len: usize,
    per_unit: usize,
    positions: bool,
}

impl Cut {
    /// Whole samples.
    fn samples(shape: &Shape, per_unit: usize) -> Cut {
        Cut {
            units: shape.n(),
            unit_len: shape.c() * shape.spatial(),
            per_unit,
            positions: false,
        }
    }

    /// The positions of a channels-last tensor, the samples of a channels-first one (a
    /// position's channels are then `spatial` apart): what LayerNorm and RMSNorm normalize.
    fn positions(shape: &Shape) -> Cut {
        match shape.layout() {
            Layout::ChannelsLast => Cut {
                units: shape.n() * shape.spatial(),
                unit_len: shape.c(),
                per_unit: 1,
                positions: true,
            },
            Layout::ChannelsFirst => Cut::samples(shape, shape.spatial()),
        }
    }

    /// The shape of `count` units of `shape`.
    fn shape(&self, shape: &Shape, count: usize) -> Shape {
        match shape.layout() {
            Layout::ChannelsLast if self.positions => Shape::channels_last(1, count, shape.c()),
            Layout::ChannelsLast => Shape::channels_last(count, shape.spatial(), shape.c()),
            Layout::ChannelsFirst => Shape::channels_first(count, shape.c(), shape.spatial()),
        }
    }

    /// Runs `op` on each part, in parallel, with its share of `stats`.
    fn run<T: Element>(
        &self,
        io: InOut<'_, T>,
        stats: Stats<'_>,
        op: impl Fn(Part, InOut<'_, T>, Stats<'_>) -> Result<(), NormError> + Sync,
    ) -> Result<(), NormError> {
        let parts = part_count(self.units, self.unit_len, Trips::One);
        if parts == 1 {
            return op(Part::new(0, self.units), io, stats);
        }
        let pieces = split_io(io, self.units, self.unit_len, parts);
        let cuts: Vec<Part> = pieces.iter().map(|(part, _)| *part).collect();
        let [a, b] = stats;
        let a = split_stats(a, &cuts, self.per_unit);
        let b = split_stats(b, &cuts, self.per_unit);
        let work: Vec<_> = pieces.into_iter().zip(a).zip(b).collect();
        let results = work
            .into_par_iter()
            .map(|(((part, io), a), b)| op(part, io, [a, b]))
            .collect();
        first_error(results)
    }
}

/// The same shape with no samples: validates an operator's parameters without a tensor.
fn no_samples(shape: &Shape) -> Shape {
    match shape.layout() {
        Layout::ChannelsLast => Shape::channels_last(0, shape.spatial(), shape.c()),
        Layout::ChannelsFirst => Shape::channels_first(0, shape.c(), shape.spatial()),
    }
}

/// An empty input and output.
macro_rules! empty {
    ($t:ty) => {
        InOut::<$t>::new(&[], &mut [])
    };
}

/// `values` holds `expected` values (`from`), checked for `op`.
fn check_stats(
    check: Check,
    buffers: [(&'static str, &Option<&mut [f32]>); 2],
    expected: usize,
    from: &'static str,
) -> Result<(), NormError> {
    for (name, buffer) in buffers {
        if let Some(b) = buffer {
            check.len(name, b.len(), expected, from)?;
        }
    }
    Ok(())
}

fn saved_parts(saved: Option<SavedStats<'_>>) -> Stats<'_> {
    match saved {
        Some(s) => {
            let (mean, inv_std) = s.into_buffers();
            [Some(mean), Some(inv_std)]
        }
        None => [None, None],
    }
}

fn saved_of<'a>([mean, inv_std]: Stats<'a>) -> Option<SavedStats<'a>> {
    Some(SavedStats::new(mean?, inv_std?))
}

impl Kernels {
    /// [`Kernels::layer_norm`] on rayon's pool: positions cut into one part per thread
    /// (channels-first: samples). Bitwise the single-thread result.
    pub fn par_layer_norm<T: Element, A: Activation>(
        &self,
        p: &LayerNorm<'_, A>,
        shape: Shape,
        io: InOut<'_, T>,
        saved: Option<SavedStats<'_>>,
    ) -> Result<(), NormError> {
        let check = Check::new("layer_norm");
        check.tensor(&shape, &io)?;
        self.layer_norm(p, no_samples(&shape), empty!(T), None)?;
        let stats = saved_parts(saved);
        let positions = shape.n() * shape.spatial();
        let from = "shape.n * shape.spatial";
        check_stats(
            check,
            [("mean", &stats[0]), ("inv_std", &stats[1])],
            positions,
            from,
        )?;
        let cut = Cut::positions(&shape);
        cut.run(io, stats, |part, io, stats| {
            self.layer_norm(p, cut.shape(&shape, part.count()), io, saved_of(stats))
        })
    }

    /// [`Kernels::rms_norm`] on rayon's pool (see [`Kernels::par_layer_norm`]).
    pub fn par_rms_norm<T: Element, A: Activation>(
        &self,
        p: &RmsNorm<'_, A>,
        shape: Shape,
        io: InOut<'_, T>,
        inv_rms: Option<&mut [f32]>,
    ) -> Result<(), NormError> {
        let check = Check::new("rms_norm");
        check.tensor(&shape, &io)?;
        self.rms_norm(p, no_samples(&shape), empty!(T), None)?;
        let positions = shape.n() * shape.spatial();
        let from = "shape.n * shape.spatial";
        check_stats(check, [("inv_rms", &inv_rms), ("", &None)], positions, from)?;
        let cut = Cut::positions(&shape);
        cut.run(io, [inv_rms, None], |part, io, [inv_rms, _]| {
            self.rms_norm(p, cut.shape(&shape, part.count()), io, inv_rms)
        })
    }

    /// [`Kernels::batch_norm_inference`] on rayon's pool: positions channels-last; samples
    /// channels-first, or the channels of a single sample. Bitwise the single-thread result.
    pub fn par_batch_norm_inference<T: Element, A: Activation>(
        &self,
        bn: &BatchNorm<'_, A>,
        shape: Shape,
        io: InOut<'_, T>,
    ) -> Result<(), NormError> {
        let check = Check::new("batch_norm_inference");
        check.tensor(&shape, &io)?;
        self.batch_norm_inference(bn, no_samples(&shape), empty!(T))?;
        if shape.layout() == Layout::ChannelsFirst && shape.n() == 1 {
            // One sample: its channels, each part with its slice of the parameters.
            let cut = Cut {
                units: shape.c(),
                unit_len: shape.spatial(),
                per_unit: 0,
                positions: false,
            };
            return cut.run(io, [None, None], |part, io, _| {
                let r = part.first()..part.first() + part.count();
                let slice = BatchNorm {
                    mean: &bn.mean[r.clone()],
                    var: &bn.var[r.clone()],
                    gamma: bn.gamma.map(|g| &g[r.clone()]),
                    beta: bn.beta.map(|b| &b[r.clone()]),
                    ..*bn
                };
                let sub = Shape::channels_first(1, part.count(), shape.spatial());
                self.batch_norm_inference(&slice, sub, io)
            });
        }
        let cut = match shape.layout() {
            Layout::ChannelsLast => Cut::positions(&shape),
            Layout::ChannelsFirst => Cut::samples(&shape, 0),
        };
        cut.run(io, [None, None], |part, io, _| {
            self.batch_norm_inference(bn, cut.shape(&shape, part.count()), io)
        })
    }

    /// [`Kernels::instance_norm`] on rayon's pool: samples cut into one part per thread, or
    /// one channels-first sample's planes (bitwise the single-thread result); with fewer
    /// samples than threads otherwise, positions or planes through the
    /// [split-phase API](crate::split) (within its tolerance).
    pub fn par_instance_norm<T: Element, A: Activation>(
        &self,
        p: &InstanceNorm<'_, A>,
        shape: Shape,
        io: InOut<'_, T>,
        saved: Option<SavedStats<'_>>,
    ) -> Result<(), NormError> {
        let check = Check::new("instance_norm");
        check.tensor(&shape, &io)?;
        self.instance_norm(p, no_samples(&shape), empty!(T), None)?;
        self.par_sample_groups(check, p, shape, 1, io, saved)
    }

    /// [`Kernels::group_norm`] on rayon's pool (see [`Kernels::par_instance_norm`]).
    pub fn par_group_norm<T: Element, A: Activation>(
        &self,
        p: &GroupNorm<'_, A>,
        shape: Shape,
        io: InOut<'_, T>,
        saved: Option<SavedStats<'_>>,
    ) -> Result<(), NormError> {
        let check = Check::new("group_norm");
        self.group_norm(p, no_samples(&shape), empty!(T), None)?;
        check.tensor(&shape, &io)?;
        let layer = InstanceNorm {
            eps: p.eps,
            gamma: p.gamma,
            beta: p.beta,
            activation: p.activation,
        };
        self.par_sample_groups(check, &layer, shape, shape.c() / p.groups, io, saved)
    }

    /// InstanceNorm and GroupNorm, parameters and tensor checked.
    fn par_sample_groups<T: Element, A: Activation>(
        &self,
        check: Check,
        p: &InstanceNorm<'_, A>,
        shape: Shape,
        group_size: usize,
        io: InOut<'_, T>,
        saved: Option<SavedStats<'_>>,
    ) -> Result<(), NormError> {
        let groups = shape.c() / group_size.max(1);
        let (count, from) = if group_size == 1 {
            (shape.n().saturating_mul(shape.c()), "shape.n * shape.c")
        } else {
            (shape.n().saturating_mul(groups), "shape.n * groups")
        };
        let stats = saved_parts(saved);
        check_stats(
            check,
            [("mean", &stats[0]), ("inv_std", &stats[1])],
            count,
            from,
        )?;
        let cut = Cut::samples(&shape, groups);
        // Fewer samples than threads: one channels-first sample is cut between its groups;
        // otherwise lines are cut and their statistics merged, where the tensor is worth two
        // trips to the pool (else the samples' cut runs, on one thread if it is one part).
        let (lines, line_len) = (Part::lines(&shape), Part::line_len(&shape));
        if part_count(cut.units, cut.unit_len, Trips::One) < part_count(lines, line_len, Trips::One)
        {
            if shape.layout() == Layout::ChannelsFirst && shape.n() == 1 {
                return self.par_sample_of_groups(check, p, shape, group_size, io, stats);
            }
            if part_count(lines, line_len, Trips::Two) > 1 {
                return self.par_split_groups(p, shape, group_size, io, saved_of(stats));
            }
        }
        cut.run(io, stats, |part, io, stats| {
            let sub = cut.shape(&shape, part.count());
            self.sample_groups(check, p, sub, group_size, io, saved_of(stats))
        })
    }

    /// One channels-first sample's groups (each `group_size` planes, one run of memory), cut
    /// between groups, each part the single-thread call on its channels: bitwise the
    /// single-thread result, and each value read from memory once, where merged statistics
    /// read it twice (once for the sums, once to normalize, the tensor being beyond L2).
    fn par_sample_of_groups<T: Element, A: Activation>(
        &self,
        check: Check,
        p: &InstanceNorm<'_, A>,
        shape: Shape,
        group_size: usize,
        io: InOut<'_, T>,
        stats: Stats<'_>,
    ) -> Result<(), NormError> {
        let group_size = group_size.max(1);
        let cut = Cut {
            units: shape.c() / group_size,
            unit_len: group_size * shape.spatial(),
            per_unit: 1,
            positions: false,
        };
        cut.run(io, stats, |part, io, stats| {
            let first = part.first() * group_size;
            let channels = first..first + part.count() * group_size;
            let layer = InstanceNorm {
                gamma: p.gamma.map(|g| &g[channels.clone()]),
                beta: p.beta.map(|b| &b[channels.clone()]),
                ..*p
            };
            let sub = Shape::channels_first(1, channels.len(), shape.spatial());
            self.sample_groups(check, &layer, sub, group_size, io, saved_of(stats))
        })
    }

    /// [`Kernels::mean_variance_norm`] on rayon's pool: samples cut into one part per thread
    /// for the per-sample axes (bitwise the single-thread result); the default axes
    /// ([`MvnAxes::BatchAndSpatial`], each channel over the whole batch) run on the calling
    /// thread.
    pub fn par_mean_variance_norm<T: Element>(
        &self,
        p: &MeanVarianceNorm,
        shape: Shape,
        io: InOut<'_, T>,
    ) -> Result<(), NormError> {
        if p.axes == MvnAxes::BatchAndSpatial {
            return self.mean_variance_norm(p, shape, io);
        }
        Check::new("mean_variance_norm").tensor(&shape, &io)?;
        let cut = Cut::samples(&shape, 0);
        cut.run(io, [None, None], |part, io, _| {
            self.mean_variance_norm(p, cut.shape(&shape, part.count()), io)
        })
    }
}
