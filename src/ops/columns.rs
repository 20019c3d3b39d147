//! Channels-last engine: statistics down columns of a row-major `[rows, cols]` block.
//!
//! Used for NHWC/NTC (rows = positions, columns = channels) and for channels-first LayerNorm
//! over C (rows = channels, columns = positions). Columns are processed in windows of up to
//! [`WINDOW`] so the per-column state lives in fixed stack arrays (no allocation), and the
//! kernels vectorize across the window instead of gathering strided values. Adjacent columns
//! may form a group (GroupNorm): a window holds whole groups, or one slice of a wide group.

use super::affine::ChannelAffine;
use crate::io::InOut;
use crate::kernels::{ColumnAffine, ColumnGeometry, ColumnStats, GroupStats, Kernels, corrected};
use crate::moments::{WideMoments, pivot_from};

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

/// Values per statistics block: a block stays in L2 between its first pass (from memory) and
/// its second (from cache).
const BLOCK_VALUES: usize = 64 * 1024;

/// Rows per statistics block at most: each column sums at most this many terms in one f32
/// accumulator before the block is merged in f64. (At 256, sparse data whose one large early
/// term every later addition rounds against was measured 20% past the 64-ulp bar.)
const BLOCK_ROWS: usize = 64;

#[derive(Clone, Copy, Debug)]
pub(crate) struct Columns<'a> {
    pub start: usize,
    pub rows: usize,
    pub cols: usize,
    /// Adjacent columns normalized together; divides `cols`.
    pub group_size: usize,
    /// Subtract the mean (false for RMSNorm: only scale by the root mean square).
    pub center: bool,
    /// Indexed by column.
    pub column_affine: ChannelAffine<'a>,
    /// Indexed by row.
    pub row_affine: ChannelAffine<'a>,
}

impl Kernels {
    /// Normalizes every group of columns: statistics block by block (two passes over each
    /// cached block, merged in f64), then `finish(group, &stats)` gives the factor its
    /// deviations are multiplied by (and records whatever the operator reports), then one pass
    /// writes the output.
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
        // Per column: the statistics state, reused as the normalize parameters.
        let mut pivot = [0.0f32; WINDOW];
        let mut offset = [0.0f32; WINDOW];
        let mut dev = [0.0f32; WINDOW];
        let mut sq = [0.0f32; WINDOW];
        let mut scale = [0.0f32; WINDOW];
        // Per group of the current run.
        let mut group_moments = [WideMoments::EMPTY; WINDOW];
        let mut group_pivot = [0.0f32; WINDOW];
        let mut group_offset = [0.0f32; WINDOW];
        let mut group_factor = [0.0f32; WINDOW];

        let mut first_group = 0;
        while first_group < groups {
            let run = groups_per_run.min(groups - first_group);
            let (c0, c1) = (first_group * gs, (first_group + run) * gs);
            group_moments[..run].fill(WideMoments::EMPTY);

            for w0 in (c0..c1).step_by(WINDOW) {
                let width = WINDOW.min(c1 - w0);
                let block_rows = (BLOCK_VALUES / width).clamp(1, BLOCK_ROWS);
                for r0 in (0..set.rows).step_by(block_rows) {
                    let rows = block_rows.min(set.rows - r0);
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
                    let mut state = ColumnStats {
                        pivot: &mut pivot,
                        offset: &mut offset,
                        dev: &mut dev,
                        sq: &mut sq,
                        scale: &mut scale,
                    };
                    self.column_stats(io, at, g, set.center, &mut state);
                    let inv_rows = 1.0 / rows as f64;
                    for j in 0..width {
                        let second = (f64::from(dev[j]), f64::from(sq[j]), scale[j]);
                        let (offset64, scaled_var) = corrected(inv_rows, offset[j], second);
                        let s = f64::from(scale[j]);
                        let mean = f64::from(pivot[j]) + offset64;
                        let m2 = scaled_var / (s * s) * rows as f64;
                        group_moments[(w0 + j) / gs - first_group].merge(rows as f64, mean, m2);
                    }
                }
            }
            for g in 0..run {
                let stats = group_moments[g].stats();
                group_factor[g] = finish(first_group + g, &stats);
                group_pivot[g] = if set.center {
                    stats.moments.pivot()
                } else {
                    0.0
                };
                group_offset[g] = if set.center {
                    stats.moments.mean_offset()
                } else {
                    0.0
                };
            }

            for w0 in (c0..c1).step_by(WINDOW) {
                let width = WINDOW.min(c1 - w0);
                for j in 0..width {
                    let c = w0 + j;
                    let g = c / gs - first_group;
                    let s = group_factor[g] * set.column_affine.gamma(c);
                    let shift = set.column_affine.beta(c) - group_offset[g] * s;
                    (pivot[j], offset[j], dev[j]) = (group_pivot[g], s, shift);
                }
                let p = ColumnAffine {
                    pivot: &pivot,
                    scale: &offset,
                    shift: &dev,
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
