//! The statistics-then-normalize driver shared by BatchNorm (training), InstanceNorm,
//! GroupNorm and MeanVarianceNormalization: which values form a group, on either layout.

use super::affine::ChannelAffine;
use super::columns::Columns;
use super::planes::Planes;
use crate::element::Element;
use crate::io::InOut;
use crate::kernels::{Epilogue, Kernels};
use crate::shape::{Layout, Shape};
use crate::stats::GroupStats;
use core::ops::Range;

/// Which values are normalized together.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Reduce {
    /// Each channel over the batch and all positions (BatchNorm, ONNX MVN's default axes).
    /// Group index: the channel.
    Channel,
    /// Each run of `group_size` adjacent channels of one sample over its positions (GroupNorm;
    /// InstanceNorm is `group_size = 1`). Group index: `n * groups + g`.
    SampleGroup { group_size: usize },
}

impl Kernels {
    /// [`Kernels::normalize_groups`] of BatchNorm's groups `channels` of a channels-first
    /// `shape` (each channel's planes across the batch), on the full set; `finish` numbers
    /// them from 0. Touches those channels' planes only.
    pub(crate) fn channel_planes_normalize<T: Element, E: Epilogue>(
        &self,
        shape: Shape,
        channels: Range<usize>,
        affine: ChannelAffine<'_>,
        io: &mut InOut<'_, T>,
        finish: &mut dyn FnMut(usize, &GroupStats) -> f32,
        epilogue: E,
    ) {
        debug_assert!(shape.layout() == Layout::ChannelsFirst && !self.compact());
        let (n, c, spatial) = (shape.n(), shape.c(), shape.spatial());
        let planes = |i: usize| Planes {
            first: (channels.start + i) * spatial,
            count: n,
            stride: c * spatial,
            len: spatial,
            channel: channels.start + i,
            channel_step: 0,
        };
        let count = channels.len();
        self.planes_normalize(io, count, planes, affine, finish, epilogue);
    }

    /// Normalizes every group of `shape`: moments in one pass, then `finish(group, &moments)`
    /// returns the factor deviations are multiplied by (recording whatever the operator
    /// reports), then one pass writes `y = (x - mean) * factor * gamma[c] + beta[c]`.
    /// Shapes and buffers were validated by the caller.
    pub(crate) fn normalize_groups<T: Element, E: Epilogue>(
        &self,
        shape: Shape,
        reduce: Reduce,
        affine: ChannelAffine<'_>,
        io: &mut InOut<'_, T>,
        finish: &mut dyn FnMut(usize, &GroupStats) -> f32,
        epilogue: E,
    ) {
        if self.compact() {
            return self.strided_groups(shape, reduce, affine, io, finish, epilogue);
        }
        let (n, c, spatial) = (shape.n(), shape.c(), shape.spatial());
        match (shape.layout(), reduce) {
            (Layout::ChannelsFirst, Reduce::Channel) => {
                self.channel_planes_normalize(shape, 0..c, affine, io, finish, epilogue);
            }
            (Layout::ChannelsFirst, Reduce::SampleGroup { group_size }) => {
                let groups = c / group_size;
                // Group `i` is group `i % groups` of sample `i / groups`: contiguous planes.
                let group = |i: usize| Planes {
                    first: i * group_size * spatial,
                    count: group_size,
                    stride: spatial,
                    len: spatial,
                    channel: (i % groups) * group_size,
                    channel_step: 1,
                };
                self.planes_normalize(io, n * groups, group, affine, finish, epilogue);
            }
            (Layout::ChannelsLast, Reduce::Channel) => {
                let set = Columns {
                    start: 0,
                    rows: n * spatial,
                    cols: c,
                    group_size: 1,
                    center: true,
                    column_affine: affine,
                    row_affine: ChannelAffine::default(),
                };
                self.columns_normalize(io, &set, finish, epilogue);
            }
            (Layout::ChannelsLast, Reduce::SampleGroup { group_size }) => {
                let groups = c / group_size;
                for sample in 0..n {
                    let set = Columns {
                        start: sample * spatial * c,
                        rows: spatial,
                        cols: c,
                        group_size,
                        center: true,
                        column_affine: affine,
                        row_affine: ChannelAffine::default(),
                    };
                    let mut per_sample = |g: usize, m: &GroupStats| finish(sample * groups + g, m);
                    self.columns_normalize(io, &set, &mut per_sample, epilogue);
                }
            }
        }
    }
}
