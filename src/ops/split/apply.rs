//! Phase three: a part normalized with merged statistics, through the kernels BatchNorm
//! inference runs (an affine per plane channels-first, per column window channels-last).

use super::part::Part;
use crate::element::Element;
use crate::io::InOut;
use crate::kernels::{Affine, ColumnGeometry, ColumnParams, Epilogue, Kernels, Runs};
use crate::ops::affine::ChannelAffine;
use crate::ops::columns::WINDOW;
use crate::ops::grouped::Reduce;
use crate::shape::{Layout, Shape};
use crate::stats::{GroupStats, Moments, deviation_scale};

/// How merged statistics become the normalize pass's affine: the statistics, the layer's
/// gamma and beta, and epsilon.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Normalize<'a> {
    pub stats: &'a [Moments],
    pub affine: ChannelAffine<'a>,
    pub eps: f32,
}

impl Normalize<'_> {
    /// The factor group `g`'s deviations are multiplied by: `1 / sqrt(var + eps)` (0 for an
    /// exactly constant group with eps 0, as the operators do).
    pub(crate) fn factor(&self, g: usize) -> f32 {
        let stats = GroupStats::unscaled(self.stats[g]);
        deviation_scale(stats.var.inv_sqrt_plus(self.eps))
    }

    /// `y = (x - pivot) * scale + shift` of channel `ch` in group `g`, as the operators form it.
    fn channel(&self, g: usize, ch: usize, factor: f32) -> Affine {
        let m = &self.stats[g];
        let scale = factor * self.affine.gamma(ch);
        Affine {
            pivot: m.pivot(),
            scale,
            shift: self.affine.beta(ch) - m.mean_offset() * scale,
        }
    }
}

impl Kernels {
    /// Normalizes the part's values (`io` holds exactly them; everything validated by the
    /// caller) with `norm`, then the epilogue.
    pub(crate) fn part_apply<T: Element, E: Epilogue>(
        &self,
        shape: Shape,
        reduce: Reduce,
        part: Part,
        norm: &Normalize<'_>,
        io: &mut InOut<'_, T>,
        epilogue: E,
    ) {
        let (c, spatial) = (shape.c(), shape.spatial());
        let (p0, p1) = (part.first(), part.end());
        if part.count() == 0 || Part::line_len(&shape) == 0 {
            return;
        }
        let group = |sample: usize, ch: usize| match reduce {
            Reduce::Channel => ch,
            Reduce::SampleGroup { group_size } => (sample * c + ch) / group_size,
        };
        if shape.layout() == Layout::ChannelsFirst {
            // One plane per line, each with its channel's affine: one kernel call.
            let plane = |r: usize| {
                let line = p0 + r;
                let (sample, ch) = (line / c, line % c);
                let g = group(sample, ch);
                norm.channel(g, ch, norm.factor(g))
            };
            let runs = Runs {
                count: part.count(),
                len: spatial,
                stride: spatial,
            };
            self.apply_runs(io, 0, runs, &plane, epilogue);
            return;
        }
        let mut pivot = [0.0f32; WINDOW];
        let mut scale = [0.0f32; WINDOW];
        let mut shift = [0.0f32; WINDOW];
        let mut line = p0;
        while line < p1 {
            // Per-sample groups change at each sample's first position; channels do not.
            let (sample, end) = match reduce {
                Reduce::Channel => (0, p1),
                Reduce::SampleGroup { .. } => {
                    (line / spatial, ((line / spatial + 1) * spatial).min(p1))
                }
            };
            for w0 in (0..c).step_by(WINDOW) {
                let width = WINDOW.min(c - w0);
                for j in 0..width {
                    let g = group(sample, w0 + j);
                    let a = norm.channel(g, w0 + j, norm.factor(g));
                    (pivot[j], scale[j], shift[j]) = (a.pivot, a.scale, a.shift);
                }
                let params = ColumnParams {
                    pivot: &pivot,
                    scale: &scale,
                    shift: &shift,
                    row_scale: None,
                    row_shift: None,
                };
                let g = ColumnGeometry {
                    rows: end - line,
                    width,
                    stride: c,
                };
                self.column_affine(io, (line - p0) * c + w0, g, params, epilogue);
            }
            line = end;
        }
    }
}
