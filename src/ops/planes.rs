//! Channels-first engine: groups of contiguous planes (NCHW, NCL).
//!
//! A group is `count` planes of `len` values, `stride` apart: one plane for InstanceNorm, the
//! N planes of a channel for BatchNorm, the contiguous planes of a group's channels for
//! GroupNorm. Groups are normalized in order, each read twice: its sums from memory, then its
//! output from cache (L2 for a group up to about a megabyte; a second statistics pass, where
//! the sums fall short, also reads cache). The [`Schedule`] says whether each group is written
//! in the pass that sums the next one, a stream like a copy's (`Overlapped`, the faster on
//! Intel Xeons), or after its own sums pass (`Separate`, the faster on an AMD Zen 4 for groups
//! of 64 KiB and more: InstanceNorm 1x64x128x128 1.79x the one-channel floor overlapped and
//! 1.52x separate, BatchNorm training 32x64x56x56 2.94x and 2.05x).

use super::affine::ChannelAffine;
use crate::element::Element;
use crate::io::InOut;
use crate::kernels::{Affine, Epilogue, Kernels, Runs};
use crate::schedule::Schedule;
use crate::stats::GroupStats;

#[derive(Clone, Copy, Debug)]
pub(crate) struct Planes {
    pub first: usize,
    pub count: usize,
    pub stride: usize,
    pub len: usize,
    /// Channel of the first plane, and how the channel advances from plane to plane.
    pub channel: usize,
    pub channel_step: usize,
}

impl Planes {
    fn runs(&self) -> Runs {
        Runs {
            count: self.count,
            len: self.len,
            stride: self.stride,
        }
    }
}

impl Kernels {
    /// Normalizes the groups `group(0)..group(count)`, which share one geometry, in order:
    /// `finish(i, &stats)` returns the factor group `i`'s deviations are multiplied by, then
    /// `y = (x - mean) * factor * gamma[c] + beta[c]` is written over its planes.
    pub(crate) fn planes_normalize<T: Element, E: Epilogue>(
        &self,
        io: &mut InOut<'_, T>,
        count: usize,
        group: impl Fn(usize) -> Planes,
        affine: ChannelAffine<'_>,
        finish: &mut dyn FnMut(usize, &GroupStats) -> f32,
        epilogue: E,
    ) {
        if count == 0 {
            return;
        }
        let runs = group(0).runs();
        let overlapped = self.schedule() == Schedule::Overlapped;
        let mut sums = self.group_sums(io, group(0).first, runs);
        for i in 0..count {
            let set = group(i);
            debug_assert_eq!(
                (set.count, set.len, set.stride),
                (runs.count, runs.len, runs.stride)
            );
            if !overlapped && i > 0 {
                sums = self.group_sums(io, set.first, runs);
            }
            let stats = self.group_stats(io, set.first, runs, sums);
            let factor = finish(i, &stats);
            let m = stats.moments;
            let of_channel = |c: usize| {
                let scale = factor * affine.gamma(c);
                Affine {
                    pivot: m.pivot(),
                    scale,
                    shift: affine.beta(c) - m.mean_offset() * scale,
                }
            };
            // A BatchNorm channel's runs (its planes across the batch) share one affine,
            // folded once per group rather than per run.
            let first = of_channel(set.channel);
            let plane = |r: usize| match set.channel_step {
                0 => first,
                step => of_channel(set.channel + r * step),
            };
            if overlapped && i + 1 < count {
                let next = group(i + 1).first;
                sums = self.apply_runs_summing_next(io, set.first, runs, &plane, next, epilogue);
            } else {
                self.apply_runs(io, set.first, runs, &plane, epilogue);
            }
        }
    }
}
