//! Channels-first engine: groups of contiguous planes (NCHW, NCL).
//!
//! A group is `count` planes of `len` values, `stride` apart: one plane for InstanceNorm, the
//! N planes of a channel for BatchNorm, the contiguous planes of a group's channels for
//! GroupNorm. Statistics stream over each plane once; the normalize pass then revisits only
//! this group's planes, which are usually still in cache.

use super::affine::ChannelAffine;
use crate::io::InOut;
use crate::kernels::{Affine, GroupStats, Kernels, Runs};
use crate::moments::Moments;

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
    fn start(&self, i: usize) -> usize {
        self.first + i * self.stride
    }
}

impl Kernels {
    pub(crate) fn planes_moments(&self, io: &InOut<'_>, p: &Planes) -> GroupStats {
        let runs = if p.stride == p.len {
            Runs::row(p.count * p.len)
        } else {
            Runs {
                count: p.count,
                len: p.len,
                stride: p.stride,
            }
        };
        self.group_stats(io, p.first, runs)
    }

    /// `y = ((x - mean) * scale) * gamma[c] + beta[c]` over every plane of the group.
    pub(crate) fn planes_apply(
        &self,
        io: &mut InOut<'_>,
        p: &Planes,
        m: &Moments,
        scale: f32,
        affine: ChannelAffine<'_>,
    ) {
        for i in 0..p.count {
            let c = p.channel + i * p.channel_step;
            let s = scale * affine.gamma(c);
            let shift = affine.beta(c) - m.mean_offset() * s;
            self.affine(
                io,
                p.start(i),
                p.len,
                Affine {
                    pivot: m.pivot(),
                    scale: s,
                    shift,
                },
            );
        }
    }
}
