//! Groups on the compact (scalar) set, which microcontrollers run: each group walked in
//! place through a strided source, one group after another, with no window of columns and no
//! scratch arrays on the stack. A core without caches reads strided values as fast as
//! contiguous ones, so the channels-last layouts need no engine of their own here.

use super::affine::ChannelAffine;
use super::grouped::Reduce;
use crate::element::Element;
use crate::io::InOut;
use crate::kernels::{Affine, Epilogue, Kernels, Runs, Strided};
use crate::shape::{Layout, Shape};
use crate::stats::GroupStats;

impl Kernels {
    /// [`Kernels::normalize_groups`] on the compact set.
    pub(crate) fn strided_groups<T: Element, E: Epilogue>(
        &self,
        shape: Shape,
        reduce: Reduce,
        affine: ChannelAffine<'_>,
        io: &mut InOut<'_, T>,
        finish: &mut dyn FnMut(usize, &GroupStats) -> f32,
        epilogue: E,
    ) {
        let (n, c, spatial) = (shape.n(), shape.c(), shape.spatial());
        let channels_last = shape.layout() == Layout::ChannelsLast;
        // The group's values, and how its channels are laid over them.
        let (count, group_size) = match reduce {
            Reduce::Channel => (c, 1),
            Reduce::SampleGroup { group_size } => (n * (c / group_size), group_size),
        };
        for i in 0..count {
            let (group, first_channel) = match reduce {
                Reduce::Channel if channels_last => (
                    Strided {
                        start: i,
                        stride: c,
                        runs: Runs::row(n * spatial),
                    },
                    i,
                ),
                Reduce::Channel => (
                    Strided {
                        start: i * spatial,
                        stride: 1,
                        runs: Runs {
                            count: n,
                            len: spatial,
                            stride: c * spatial,
                        },
                    },
                    i,
                ),
                Reduce::SampleGroup { .. } => {
                    let groups = c / group_size;
                    let (sample, g) = (i / groups, i % groups);
                    let first_channel = g * group_size;
                    let runs = if channels_last {
                        Runs {
                            count: spatial,
                            len: group_size,
                            stride: c,
                        }
                    } else {
                        Runs::row(group_size * spatial)
                    };
                    let start = if channels_last {
                        sample * spatial * c + first_channel
                    } else {
                        (sample * c + first_channel) * spatial
                    };
                    let group = Strided {
                        start,
                        stride: 1,
                        runs,
                    };
                    (group, first_channel)
                }
            };
            let sums = self.strided_sums(io, group);
            let stats = self.strided_stats(io, group, sums);
            let factor = finish(i, &stats);
            let m = stats.moments;
            let channel_affine = |channel: usize| {
                let scale = factor * affine.gamma(channel);
                Affine {
                    pivot: m.pivot(),
                    scale,
                    shift: affine.beta(channel) - m.mean_offset() * scale,
                }
            };
            // The normalize pass, one channel (a strided run, or planes) at a time.
            for j in 0..group_size {
                let a = channel_affine(first_channel + j);
                let channel = match reduce {
                    Reduce::SampleGroup { .. } if channels_last => Strided {
                        start: group.start + j,
                        stride: c,
                        runs: Runs::row(spatial),
                    },
                    Reduce::SampleGroup { .. } => Strided {
                        start: group.start + j * spatial,
                        stride: 1,
                        runs: Runs::row(spatial),
                    },
                    Reduce::Channel => group,
                };
                self.strided_affine(io, channel, &|_| a, epilogue);
            }
        }
    }
}
