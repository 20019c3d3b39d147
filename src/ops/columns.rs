//! Channels-last engine: statistics down columns of a row-major `[rows, cols]` block.
//!
//! Used for NHWC/NTC (rows = positions, columns = channels) and for channels-first LayerNorm
//! over C (rows = channels, columns = positions). Columns are processed in windows of up to
//! [`WINDOW`] so the per-column state lives in fixed stack arrays (no allocation), and the
//! kernels vectorize across the window instead of gathering strided values. Adjacent columns
//! may form a group (GroupNorm): a window holds whole groups, or one slice of a wide group.

use super::affine::ChannelAffine;
use crate::element::Element;
use crate::io::InOut;
use crate::kernels::{ColumnGeometry, ColumnParams, ColumnState, ColumnTotals, Epilogue, Kernels};
use crate::stats::{GroupStats, SecondPass, WideMoments, corrected, one_pass_accepted, pivot_from};

/// Columns per window: the size of the stack arrays (a multiple of the widest vector).
///
/// A window sweeps its slice of every row, so it must be wide for speed: with 128 columns of
/// 768-channel rows the hardware prefetcher cannot follow 512-byte pieces 3 KiB apart and each
/// row waits on DRAM, far below the speed of a streaming pass. 1024 covers the channel counts
/// of common models in one sweep, at the cost of a larger stack frame; without `std`
/// (microcontrollers, small stacks and no prefetchers to feed) the window stays at 128.
#[cfg(feature = "std")]
pub(crate) const WINDOW: usize = 1024;
#[cfg(not(feature = "std"))]
pub(crate) const WINDOW: usize = 128;

/// Values per statistics block: a block stays in L2 between its first pass (from memory) and
/// its second (from cache).
const BLOCK_VALUES: usize = 64 * 1024;

/// Rows per statistics block at most: each column sums at most this many terms in one f32
/// accumulator before the block is merged in f64. (Longer sums let sparse data, whose one large
/// early term every later addition rounds against, drift past the tests' 64-ulp bound.)
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

/// Rows whose mean gives each column's pivot for the one-pass sums, spread evenly over the
/// block (a trend down the rows, such as an image brighter at the top, then does not bias
/// them). Data without a trend puts the pivot ~1/16 of a standard deviation from the column's
/// mean, and a column fails the acceptance test (a quarter) with probability ~6e-5: with 768
/// channels, a call falls back to the two-pass blocks once in 20. (Fewer rows put the pivots
/// further off, and nearly every call fell back to the slower two-pass blocks.)
const PIVOT_ROWS: usize = 256;

/// The per-column and per-group state of one call, on the stack.
struct Scratch {
    pivot: [f32; WINDOW],
    offset: [f32; WINDOW],
    dev: [f32; WINDOW],
    sq: [f32; WINDOW],
    scale: [f32; WINDOW],
    dev64: [f64; WINDOW],
    sq64: [f64; WINDOW],
    /// Per group of the current run of groups.
    moments: [WideMoments; WINDOW],
    offsets: [f64; WINDOW],
    squares: [f64; WINDOW],
}

impl Kernels {
    /// Normalizes every group of columns: statistics in one pass down the columns (or, where
    /// that falls short, block by block in two passes over each cached block), then
    /// `finish(group, &stats)` gives the factor its deviations are multiplied by (and records
    /// whatever the operator reports), then one pass writes the output.
    pub(crate) fn columns_normalize<T: Element, E: Epilogue>(
        &self,
        io: &mut InOut<'_, T>,
        set: &Columns<'_>,
        finish: &mut dyn FnMut(usize, &GroupStats) -> f32,
        epilogue: E,
    ) {
        if set.rows == 0 {
            return;
        }
        let gs = set.group_size;
        let groups = set.cols / gs;
        let groups_per_run = (WINDOW / gs).max(1);
        let mut s = Scratch {
            pivot: [0.0; WINDOW],
            offset: [0.0; WINDOW],
            dev: [0.0; WINDOW],
            sq: [0.0; WINDOW],
            scale: [0.0; WINDOW],
            dev64: [0.0; WINDOW],
            sq64: [0.0; WINDOW],
            moments: [WideMoments::EMPTY; WINDOW],
            offsets: [0.0; WINDOW],
            squares: [0.0; WINDOW],
        };
        // Per group of the current run: the normalize parameters.
        let mut group_pivot = [0.0f32; WINDOW];
        let mut group_offset = [0.0f32; WINDOW];
        let mut group_factor = [0.0f32; WINDOW];

        let mut first_group = 0;
        while first_group < groups {
            let run = groups_per_run.min(groups - first_group);
            let (c0, c1) = (first_group * gs, (first_group + run) * gs);
            self.columns_one_pass(io, set, (c0, c1), first_group, &mut s);
            // Groups whose sums fall short are redone on their own, so that a group's result
            // never depends on another's values.
            let inv_count = 1.0 / (set.rows * gs) as f64;
            for g in 0..run {
                if !one_pass_accepted(s.offsets[g], s.squares[g], inv_count) {
                    let group = first_group + g;
                    self.columns_two_pass(io, set, (group * gs, (group + 1) * gs), g, &mut s);
                }
            }
            for g in 0..run {
                let stats = s.moments[g].stats();
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
                    let scale = group_factor[g] * set.column_affine.gamma(c);
                    let shift = set.column_affine.beta(c) - group_offset[g] * scale;
                    (s.pivot[j], s.offset[j], s.dev[j]) = (group_pivot[g], scale, shift);
                }
                let p = ColumnParams {
                    pivot: &s.pivot,
                    scale: &s.offset,
                    shift: &s.dev,
                    row_scale: set.row_affine.gamma,
                    row_shift: set.row_affine.beta,
                };
                let g = ColumnGeometry {
                    rows: set.rows,
                    width,
                    stride: set.cols,
                };
                self.column_affine(io, set.start + w0, g, p, epilogue);
            }
            first_group += run;
        }
    }

    /// The statistics of every group of columns, without normalizing: `stats(group, &stats)`
    /// for each (the first half of [`Kernels::columns_normalize`], for the split-phase API).
    pub(crate) fn columns_stats<T: Element>(
        &self,
        io: &InOut<'_, T>,
        set: &Columns<'_>,
        stats: &mut dyn FnMut(usize, &GroupStats),
    ) {
        if set.rows == 0 {
            return;
        }
        let gs = set.group_size;
        let (groups, groups_per_run) = (set.cols / gs, (WINDOW / gs).max(1));
        let mut s = Scratch {
            pivot: [0.0; WINDOW],
            offset: [0.0; WINDOW],
            dev: [0.0; WINDOW],
            sq: [0.0; WINDOW],
            scale: [0.0; WINDOW],
            dev64: [0.0; WINDOW],
            sq64: [0.0; WINDOW],
            moments: [WideMoments::EMPTY; WINDOW],
            offsets: [0.0; WINDOW],
            squares: [0.0; WINDOW],
        };
        let inv_count = 1.0 / (set.rows * gs) as f64;
        for first_group in (0..groups).step_by(groups_per_run) {
            let run = groups_per_run.min(groups - first_group);
            let (c0, c1) = (first_group * gs, (first_group + run) * gs);
            self.columns_one_pass(io, set, (c0, c1), first_group, &mut s);
            for g in 0..run {
                if !one_pass_accepted(s.offsets[g], s.squares[g], inv_count) {
                    let group = first_group + g;
                    self.columns_two_pass(io, set, (group * gs, (group + 1) * gs), g, &mut s);
                }
                stats(first_group + g, &s.moments[g].stats());
            }
        }
    }

    /// The statistics of the groups of columns `c0..c1` (from `first_group` on) into
    /// `s.moments`, from one pass down the columns around pivots from rows spread over them,
    /// with what [`one_pass_accepted`] needs to judge each group in `s.offsets`, `s.squares`.
    fn columns_one_pass<T: Element>(
        &self,
        io: &InOut<'_, T>,
        set: &Columns<'_>,
        (c0, c1): (usize, usize),
        first_group: usize,
        s: &mut Scratch,
    ) {
        let gs = set.group_size;
        let run = (c1 - c0) / gs;
        s.moments[..run].fill(WideMoments::EMPTY);
        s.offsets[..run].fill(0.0);
        s.squares[..run].fill(0.0);
        let n = set.rows as f64;
        for w0 in (c0..c1).step_by(WINDOW) {
            let width = WINDOW.min(c1 - w0);
            let at = set.start + w0;
            let geometry = |rows| ColumnGeometry {
                rows,
                width,
                stride: set.cols,
            };
            s.pivot.fill(0.0);
            if set.center {
                // Pivots: the columns' means over rows spread evenly (summed around 0).
                let rows = PIVOT_ROWS.min(set.rows);
                let spread = ColumnGeometry {
                    stride: set.cols * (set.rows / rows),
                    ..geometry(rows)
                };
                self.column_sums_into(io, at, spread, s);
                for (k, &sum) in s.pivot.iter_mut().zip(&s.dev64[..width]) {
                    *k = pivot_from((sum / rows as f64) as f32);
                }
            }
            self.column_sums_into(io, at, geometry(set.rows), s);
            for j in 0..width {
                let g = (w0 + j) / gs - first_group;
                let d = if set.center { s.dev64[j] } else { 0.0 };
                let q = s.sq64[j];
                let offset = d * d / n;
                let m2 = q - offset;
                let mean = f64::from(s.pivot[j]) + d / n;
                s.moments[g].merge(n, mean, if m2 > 0.0 { m2 } else { 0.0 });
                s.offsets[g] += offset;
                s.squares[g] += q;
            }
        }
    }

    /// Sums of `x - s.pivot[j]` and of its square down the columns into `s.dev64`, `s.sq64`.
    fn column_sums_into<T: Element>(
        &self,
        io: &InOut<'_, T>,
        at: usize,
        g: ColumnGeometry,
        s: &mut Scratch,
    ) {
        s.dev64[..g.width].fill(0.0);
        s.sq64[..g.width].fill(0.0);
        let mut sums = ColumnTotals {
            pivot: &s.pivot,
            dev32: &mut s.dev,
            sq32: &mut s.sq,
            dev: &mut s.dev64,
            sq: &mut s.sq64,
        };
        self.column_sums(io, at, g, &mut sums);
    }

    /// The statistics of the groups of columns `c0..c1` into `s.moments` from index `slot`,
    /// exactly: block by block, two passes over each cached block (the second centered on the
    /// first's means, with power-of-two scaling where magnitudes are extreme), blocks merged in
    /// f64.
    fn columns_two_pass<T: Element>(
        &self,
        io: &InOut<'_, T>,
        set: &Columns<'_>,
        (c0, c1): (usize, usize),
        slot: usize,
        s: &mut Scratch,
    ) {
        let gs = set.group_size;
        s.moments[slot..slot + (c1 - c0) / gs].fill(WideMoments::EMPTY);
        for w0 in (c0..c1).step_by(WINDOW) {
            let width = WINDOW.min(c1 - w0);
            let block_rows = (BLOCK_VALUES / width).clamp(1, BLOCK_ROWS);
            for r0 in (0..set.rows).step_by(block_rows) {
                let rows = block_rows.min(set.rows - r0);
                let at = set.start + r0 * set.cols + w0;
                if set.center {
                    for (k, &x) in s.pivot.iter_mut().zip(io.input(at, width)) {
                        *k = pivot_from(x.to_f32());
                    }
                }
                let g = ColumnGeometry {
                    rows,
                    width,
                    stride: set.cols,
                };
                let mut state = ColumnState {
                    pivot: &mut s.pivot,
                    offset: &mut s.offset,
                    dev: &mut s.dev,
                    sq: &mut s.sq,
                    scale: &mut s.scale,
                };
                self.column_stats(io, at, g, set.center, &mut state);
                let inv_rows = 1.0 / rows as f32;
                for j in 0..width {
                    let second = SecondPass {
                        deviations: s.dev[j],
                        squares: s.sq[j],
                        scale: s.scale[j],
                    };
                    let (offset, scaled_var) = corrected(inv_rows, s.offset[j], second);
                    let (offset, scaled_var) = (f64::from(offset), f64::from(scaled_var));
                    let scale = f64::from(s.scale[j]);
                    let mean = f64::from(s.pivot[j]) + offset;
                    let m2 = scaled_var / (scale * scale) * rows as f64;
                    s.moments[slot + (w0 + j - c0) / gs].merge(rows as f64, mean, m2);
                }
            }
        }
    }
}
