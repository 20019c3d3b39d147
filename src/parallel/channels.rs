//! BatchNorm training over a channels-first tensor, cut between channels: each thread runs
//! the single-thread kernel on its channels' planes, which interleave with the other threads'
//! in every sample. One read of each value and one trip to the pool, where a cut between
//! planes reads each value twice around a merge of the statistics and takes two trips; and
//! the result is bitwise the single-thread call's. (Channels-last, the same cut between
//! columns measured slower than the merge: BENCHMARKS.md.)

use super::{Trips, part_count, split_stats};
use crate::element::Element;
use crate::io::InOut;
use crate::kernels::Kernels;
use crate::ops::batch_norm_training::{BatchNormTraining, RunningStats};
use crate::ops::saved::SavedStats;
use crate::ops::split::Part;
use crate::shape::{Layout, Shape};
use core::ops::Range;
use rayon::prelude::*;
use std::vec::Vec;

impl Kernels {
    /// How many ranges of channels BatchNorm training over `shape` is cut into: one per
    /// thread, where that gives as many parts as a cut between planes would, or more; `None`
    /// where it would not, channels-last, or on the compact set (whose groups walk the
    /// tensor another way).
    pub(super) fn channel_parts(&self, shape: &Shape) -> Option<usize> {
        if shape.layout() != Layout::ChannelsFirst || self.compact() {
            return None;
        }
        let parts = part_count(shape.c(), shape.n() * shape.spatial(), Trips::One);
        let planes = part_count(Part::lines(shape), Part::line_len(shape), Trips::Two);
        (parts > 1 && parts >= planes).then_some(parts)
    }

    /// BatchNorm training over a channels-first `shape`, everything validated, its channels
    /// cut into `parts` ranges on the pool.
    pub(super) fn batch_norm_training_by_channels<T: Element>(
        &self,
        p: &BatchNormTraining<'_>,
        shape: Shape,
        io: InOut<'_, T>,
        running: Option<RunningStats<'_>>,
        saved: Option<SavedStats<'_>>,
        parts: usize,
    ) {
        let work = ChannelPart::cut(shape, io, running, saved, parts);
        work.into_par_iter()
            .for_each(|part| part.run(self, p, shape));
    }
}

/// One thread's share of a channel cut: its channels, its window of the tensor, and its
/// channels' running and saved statistics.
struct ChannelPart<'a, T: Element> {
    channels: Range<usize>,
    io: InOut<'a, T>,
    running: Option<RunningStats<'a>>,
    saved: Option<SavedStats<'a>>,
}

impl<'a, T: Element> ChannelPart<'a, T> {
    /// The channels of a channels-first `shape` cut into `parts` near-equal ranges.
    fn cut(
        shape: Shape,
        io: InOut<'a, T>,
        running: Option<RunningStats<'a>>,
        saved: Option<SavedStats<'a>>,
        parts: usize,
    ) -> Vec<Self> {
        let (c, spatial) = (shape.c(), shape.spatial());
        let cuts: Vec<Part> = (0..parts).map(|i| Part::nth_of(c, i, parts)).collect();
        // Each part's planes within one sample.
        let planes = |part: &Part| part.first() * spatial..(part.first() + part.count()) * spatial;
        let ios = io.interleaved(c * spatial, cuts.iter().map(planes));
        let momentum = running.as_ref().map(|r| r.momentum);
        let running = split_pair(running.map(|r| (r.mean, r.var)), &cuts);
        let saved = split_pair(saved.map(SavedStats::into_buffers), &cuts);
        let parts = cuts.iter().zip(ios).zip(running).zip(saved);
        parts
            .map(|(((part, io), running), saved)| ChannelPart {
                channels: part.first()..part.first() + part.count(),
                io,
                running: running
                    .zip(momentum)
                    .map(|((mean, var), m)| RunningStats::new(mean, var, m)),
                saved: saved.map(|(mean, inv_std)| SavedStats::new(mean, inv_std)),
            })
            .collect()
    }

    fn run(mut self, k: &Kernels, p: &BatchNormTraining<'_>, shape: Shape) {
        let (io, running, saved) = (&mut self.io, self.running, self.saved);
        k.batch_norm_training_channels(p, shape, self.channels, io, running, saved);
    }
}

/// Two buffers of one value per channel (running or saved statistics), cut like the
/// channels, `cuts`.
fn split_pair<'a>(
    pair: Option<(&'a mut [f32], &'a mut [f32])>,
    cuts: &[Part],
) -> Vec<Option<(&'a mut [f32], &'a mut [f32])>> {
    let (a, b) = pair.unzip();
    let (a, b) = (split_stats(a, cuts, 1), split_stats(b, cuts, 1));
    a.into_iter().zip(b).map(|(a, b)| a.zip(b)).collect()
}

#[cfg(test)]
mod tests {
    use super::ChannelPart;
    use crate::isa::Isa;
    use crate::ops::batch_norm_training::Momentum;
    use crate::{BatchNormTraining, InOut, Kernels, RunningStats, SavedStats, Shape};
    use std::vec::Vec;

    /// Two and three threads write the interleaved channels of one tensor (in place too),
    /// each through its window: bitwise the one-thread call, saved and running statistics
    /// included. Plain threads, small enough for Miri, which checks that the windows'
    /// accesses neither race nor alias (`.ci/hardening`).
    #[test]
    fn threads_write_their_own_channels() {
        let (shape, len, c) = (Shape::nchw(2, 5, 3, 3), 90, 5);
        let x: Vec<f32> = (0..len)
            .map(|i| ((i * 37) % 23) as f32 * 0.25 - 2.0)
            .collect();
        let gamma: Vec<f32> = (0..c).map(|c| 1.0 + c as f32 * 0.125).collect();
        let bn = BatchNormTraining::new().gamma(&gamma);
        let kernels = Isa::available().map(|isa| Kernels::new(isa).unwrap());
        for k in kernels.filter(|k| !k.compact()) {
            // `parts == 0`: the one-thread call.
            let run = |parts: usize| {
                let (mut y, mut xy) = (std::vec![0.0f32; len], x.clone());
                let (mut mean, mut inv_std) = ([0.0f32; 5], [0.0f32; 5]);
                let (mut rm, mut rv) = ([0.5f32; 5], [2.0f32; 5]);
                let running = Some(RunningStats::new(&mut rm, &mut rv, Momentum::Onnx(0.9)));
                let saved = Some(SavedStats::new(&mut mean, &mut inv_std));
                let (io, in_place) = (InOut::new(&x, &mut y), InOut::in_place(&mut xy));
                if parts == 0 {
                    k.batch_norm_training(&bn, shape, io, running, saved)
                        .unwrap();
                    k.batch_norm_training(&bn, shape, in_place, None, None)
                        .unwrap();
                } else {
                    let mut work = ChannelPart::cut(shape, io, running, saved, parts);
                    work.extend(ChannelPart::cut(shape, in_place, None, None, parts));
                    let (k, bn) = (&k, &bn);
                    std::thread::scope(|s| {
                        for part in work {
                            s.spawn(move || part.run(k, bn, shape));
                        }
                    });
                }
                [
                    y,
                    xy,
                    mean.to_vec(),
                    inv_std.to_vec(),
                    rm.to_vec(),
                    rv.to_vec(),
                ]
                .map(|v| v.iter().map(|v| v.to_bits()).collect::<Vec<u32>>())
            };
            let one = run(0);
            assert!(run(2) == one && run(3) == one, "{:?}", k.isa());
        }
    }
}
