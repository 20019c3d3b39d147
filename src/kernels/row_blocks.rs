//! Long rows, a block of [`BLOCK_ROWS`] at a time: each row's statistics,
//! then one normalize sweep down the block's columns that loads each vector of gamma and beta
//! once for all the block's rows. Row by row, a 4096-wide row's 32 KiB of gamma and beta
//! compete with its input and output for a 32 KiB L1, and came from L2 for every row: on an
//! AMD Zen 4 (EPYC, family 25 model 17) the normalize pass alone of LayerNorm 128x4096 took
//! 1.85x the one-channel floor that way, against 1.15x where gamma and beta stay in L1.

use super::group::sums_while;
use super::map::map;
use super::pivot::Sample;
use super::row_parts::{
    AffineKind, Report, RowOp, RowParams, RowPath, Rows, WithAffine, row_stats,
};
use super::seam::{Epilogue, Io, Sink, Source};
use super::walk::{Runs, Statistic};
use crate::simd::Vector;
use core::marker::PhantomData;

/// Rows from this long go a block at a time under [`crate::Schedule::Separate`] (under
/// `Overlapped`, the Intel choice, every long row is written while the next is summed: on an
/// Emerald Rapids Xeon LayerNorm 128x4096 took 1.30-1.36x the floor that way and 1.34-1.39x
/// by blocks, 8192x2048 1.40-1.43x and 1.62-1.67x). Shorter ones are written in the pass that sums
/// the next row ([`super::rows`]): there the two rows, the output and gamma and beta fit in
/// L1 together, and on the Zen 4 LayerNorm 512x768 without gamma and beta took 1.56x the floor
/// that way and 1.83x by blocks, where 128x4096 took 1.88x and 1.52x.
pub(crate) const BLOCKED_ROW: usize = 2048;

/// Rows normalized in one sweep: their inputs (64 KiB at 4096 f32 values) stay in L2 between
/// the statistics and the sweep, and gamma and beta are read once per four rows.
pub(crate) const BLOCK_ROWS: usize = 4;

/// See the module docs.
pub(crate) struct RowBlocks;

impl RowPath for RowBlocks {
    #[inline(always)]
    unsafe fn rows<V: Vector, St: Statistic, K: AffineKind, S: Source, D: Sink, E: Epilogue>(
        io: Io<S, D, E>,
        p: &Rows<'_>,
        report: &mut Report<'_>,
    ) {
        let mut first = 0;
        while first < p.rows {
            let block = BLOCK_ROWS.min(p.rows - first);
            let mut params = [RowParams::default(); BLOCK_ROWS];
            for (i, params) in params.iter_mut().enumerate().take(block) {
                let row = io.src.offset((first + i) * p.cols);
                // SAFETY: row `first + i` lies in the input.
                unsafe {
                    let sums = sums_while::<V, St, S>(row, Runs::row(p.cols), Sample::Prefix, &());
                    let (row_params, mean, inv) = row_stats::<V, St, S>(row, p, sums);
                    report.record(first + i, mean, inv);
                    *params = row_params;
                }
            }
            let sweep = Sweep::<V, S, D, E> {
                io: io.offset(first * p.cols),
                first,
                params: &params[..block],
                p,
                vector: PhantomData,
            };
            // SAFETY: the block's rows lie in both buffers.
            unsafe { sweep.with::<K>() };
            first += block;
        }
    }
}

/// The normalize sweep over a block's rows, a stretch of [`SWEEP_COLUMNS`] columns at a time
/// down the rows.
struct Sweep<'a, 'p, V, S, D, E> {
    io: Io<S, D, E>,
    /// The index of the block's first row.
    first: usize,
    params: &'a [RowParams],
    p: &'a Rows<'p>,
    vector: PhantomData<V>,
}

/// Columns of one stretch: 4 KiB of each of gamma and beta, read from L1 by every row of the
/// block after the first. (Sweeping a vector at a time across the rows instead was slower at
/// 4096-wide rows, whose starts 16 KiB apart share L1 sets.)
pub(crate) const SWEEP_COLUMNS: usize = 1024;

impl<V: Vector, S: Source, D: Sink, E: Epilogue> WithAffine for Sweep<'_, '_, V, S, D, E> {
    type Output = ();
    #[inline(always)]
    unsafe fn with<K: AffineKind>(self) {
        let cols = self.p.cols;
        let mut from = 0;
        while from < cols {
            let len = SWEEP_COLUMNS.min(cols - from);
            let stretch = Rows {
                gamma: self.p.gamma.map(|g| &g[from..]),
                beta: self.p.beta.map(|b| &b[from..]),
                ..*self.p
            };
            for (i, &params) in self.params.iter().enumerate() {
                // SAFETY: the stretch of row `i` lies in both buffers, and gamma and beta
                // hold its columns (the caller's contract).
                unsafe {
                    let op = RowOp::<V, K>::new(params, &stretch, self.first + i);
                    let row = self.io.offset(i * cols).offset_in_row(from);
                    map::<V, S, D, E>(row, len, &op);
                }
            }
            from += len;
        }
    }
}
