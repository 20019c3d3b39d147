//! Channels-last engine: statistics down columns of a row-major `[rows, cols]` block.
//!
//! Used for NHWC/NTC (rows = positions, columns = channels) and for channels-first LayerNorm
//! over C (rows = channels, columns = positions). Columns are processed in windows of up to
//! [`WINDOW`] so the per-column state lives in fixed stack arrays (no allocation), and the
//! kernels vectorize across the window instead of gathering strided values. Adjacent columns
//! may form a group (GroupNorm): a window holds whole groups, or one slice of a wide group.

use super::affine::ChannelAffine;
use crate::io::InOut;
use crate::kernels::{ColumnAffine, ColumnGeometry, GroupStats, Kernels};
use crate::moments::{Moments, pivot_from};

/// Columns per window: the size of the stack arrays (a multiple of the widest vector).
///
/// A window sweeps its slice of every row, so it must be wide for speed: with 128 columns of
/// 768-channel rows the hardware prefetcher cannot follow 512-byte pieces 3 KiB apart and each
/// row waits on DRAM (measured: 1.3 GB/s for BatchNorm training over 32x128x768, against
/// 18 GB/s for streaming kernels). 1024 covers the channel counts of common models in one
/// sweep, for about 40 KiB of stack; without `std` (microcontrollers, small stacks and no
/// prefetchers to feed) the window stays at 128.
#[cfg(feature = "std")]
pub(crate) const WINDOW: usize = 1024;
#[cfg(not(feature = "std"))]
pub(crate) const WINDOW: usize = 128;

/// Rows accumulated by one Welford pass before merging (bounds each column's count).
const ROW_BLOCK: usize = 1024;

#[derive(Clone, Copy, Debug)]
pub(crate) struct Columns<'a> {
    pub start: usize,
    pub rows: usize,
    pub cols: usize,
    /// Adjacent columns normalized together; divides `cols`.
    pub group_size: usize,
    /// Subtract the mean (false for RMSNorm: moments are taken around 0 and only scaled).
    pub center: bool,
    /// Indexed by column.
    pub column_affine: ChannelAffine<'a>,
    /// Indexed by row.
    pub row_affine: ChannelAffine<'a>,
}

impl Kernels {
    /// Normalizes every group of columns: moments, then `finish(group, &moments)` gives the
    /// factor its deviations are multiplied by (and records whatever the operator reports),
    /// then one pass writes the output.
    pub(crate) fn columns_normalize(
        &self,
        io: &mut InOut<'_>,
        set: &Columns<'_>,
        finish: &mut dyn FnMut(usize, &GroupStats) -> f32,
    ) {
        if set.rows == 0 {
            return;
        }
        let gs = set.group_size;
        let groups = set.cols / gs;
        let groups_per_run = (WINDOW / gs).max(1);
        let mut pivot = [0.0f32; WINDOW];
        let mut mean = [0.0f32; WINDOW];
        let mut var = [0.0f32; WINDOW];
        let mut group_moments = [Moments::new(); WINDOW];
        let mut group_scale = [0.0f32; WINDOW];

        let mut first_group = 0;
        while first_group < groups {
            let run = groups_per_run.min(groups - first_group);
            let (c0, c1) = (first_group * gs, (first_group + run) * gs);
            group_moments[..run].fill(Moments::new());

            for w0 in (c0..c1).step_by(WINDOW) {
                let width = WINDOW.min(c1 - w0);
                for r0 in (0..set.rows).step_by(ROW_BLOCK) {
                    let rows = ROW_BLOCK.min(set.rows - r0);
                    let at = set.start + r0 * set.cols + w0;
                    if set.center {
                        for (k, &x) in pivot.iter_mut().zip(io.input(at, width)) {
                            *k = pivot_from(x);
                        }
                    }
                    let g = ColumnGeometry {
                        rows,
                        width,
                        stride: set.cols,
                    };
                    self.column_moments(io, at, g, &pivot, &mut mean, &mut var);
                    for j in 0..width {
                        let part = Moments::from_parts(rows as u64, pivot[j], mean[j], var[j]);
                        group_moments[(w0 + j) / gs - first_group].merge(&part);
                    }
                }
            }
            for (g, m) in group_moments[..run].iter().enumerate() {
                group_scale[g] = finish(first_group + g, &GroupStats::unscaled(*m));
            }

            for w0 in (c0..c1).step_by(WINDOW) {
                let width = WINDOW.min(c1 - w0);
                for j in 0..width {
                    let c = w0 + j;
                    let g = c / gs - first_group;
                    let s = group_scale[g] * set.column_affine.gamma(c);
                    let m = &group_moments[g];
                    let (k, shift) = if set.center {
                        (m.pivot(), set.column_affine.beta(c) - m.mean_offset() * s)
                    } else {
                        (0.0, set.column_affine.beta(c))
                    };
                    (pivot[j], mean[j], var[j]) = (k, s, shift);
                }
                let p = ColumnAffine {
                    pivot: &pivot,
                    scale: &mean,
                    shift: &var,
                    row_scale: set.row_affine.gamma,
                    row_shift: set.row_affine.beta,
                };
                let g = ColumnGeometry {
                    rows: set.rows,
                    width,
                    stride: set.cols,
                };
                self.column_affine(io, set.start + w0, g, &p);
            }
            first_group += run;
        }
    }
}
