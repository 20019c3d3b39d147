//! LayerNorm and RMSNorm rows: each row's statistics, then its normalization with
//! per-element gamma and beta. Long rows are written in the pass that sums the next row
//! (under [`Schedule::Separate`], those of [`BLOCKED_ROW`] values or more go a block at a
//! time instead: [`super::row_blocks`]); short ones go a block at a time
//! ([`super::short_rows`]); the compact (scalar) set takes one plain pass for the sums and
//! one for the output, row after row. What these share is in [`super::row_parts`].
//!
//! An output far larger than the caches ([`Io::nontemporal`]) is streamed in that pass too,
//! as `map` streams it: on an Emerald Rapids Xeon (family 6 model 207) LayerNorm 8192x2048
//! took 1.45x the one-channel floor storing through the cache, 1.16x streaming.

use super::Kernel;
use super::group::{Write, sums_while};
use super::map::{Lanewise, StreamRun, prefetching, stream_head, stream_lanes, write_lanes};
use super::pivot::Sample;
use super::row_blocks::{BLOCKED_ROW, RowBlocks};
use super::row_parts::{
    AffineKind, Report, RowOp, RowParams, RowPath, Rows, WithAffine, by_kind, normalize_rows_as,
    normalize_rows_of, row_stats,
};
use super::seam::{Epilogue, Io, Sink, Source};
use super::short_rows::{SHORT_ROW, short_rows};
use super::walk::{Runs, Statistic};
use crate::schedule::Schedule;
use crate::simd::{Arch, Vector};
use crate::stats::Sums;
use core::marker::PhantomData;

/// Statistics and normalize of every row in one call.
pub(crate) struct NormalizeRows<'a, St, S, D, E> {
    /// Valid for `rows * cols` reads (`src`) and writes (`dst`).
    pub io: Io<S, D, E>,
    /// Gamma and beta hold `cols` values.
    pub rows: Rows<'a>,
    /// Holds `rows` values per statistic asked for.
    pub report: Report<'a>,
    /// Under [`Schedule::Separate`], rows of [`BLOCKED_ROW`] values or more go a block at a
    /// time rather than each written while the next is summed.
    pub schedule: Schedule,
    pub statistic: PhantomData<St>,
}

impl<St: Statistic, S: Source, D: Sink, E: Epilogue> Kernel for NormalizeRows<'_, St, S, D, E> {
    type Output = ();
    const ROUNDS_BF16: bool = Io::<S, D, E>::ROUNDS_BF16;

    fn streams(&self) -> bool {
        self.io.nontemporal
    }

    #[inline(always)]
    unsafe fn run<A: Arch>(mut self) {
        let (io, p) = (self.io, &self.rows);
        // SAFETY (each branch): the kernel's contract, forwarded.
        unsafe {
            if A::Wide::COMPACT {
                plain_rows::<A::Wide, St, S, D, E>(io, p, &mut self.report);
            } else if p.cols <= SHORT_ROW {
                short_rows::<A::Wide, St, S, D, E>(io, p, &mut self.report);
            } else if self.schedule == Schedule::Separate && p.cols >= BLOCKED_ROW {
                by_kind::<RowBlocks, A::Wide, St, S, D, E>(io, p, &mut self.report);
            } else {
                by_kind::<LongRows, A::Wide, St, S, D, E>(io, p, &mut self.report);
            }
        }
    }
}

/// The compact form: per row, one pass for the sums and one for the output.
///
/// # Safety
/// As [`NormalizeRows`], and `V`'s instruction set is available.
#[inline(always)]
unsafe fn plain_rows<V: Vector, St: Statistic, S: Source, D: Sink, E: Epilogue>(
    io: Io<S, D, E>,
    p: &Rows<'_>,
    report: &mut Report<'_>,
) {
    for i in 0..p.rows {
        let row = io.offset(i * p.cols);
        // SAFETY: row `i` lies in both buffers.
        unsafe {
            let sums = sums_while::<V, St, S>(row.src, Runs::row(p.cols), Sample::Prefix, &());
            let (params, mean, inv) = row_stats::<V, St, S>(row.src, p, sums);
            report.record(i, mean, inv);
            normalize_rows_of::<V, St, S, D, E>(row, p.cols, i, &[params], p);
        }
    }
}

/// Long rows: each row is written in the pass that takes the next one's sums, so rows stream
/// through like a copy.
struct LongRows;

impl RowPath for LongRows {
    #[inline(always)]
    unsafe fn rows<V: Vector, St: Statistic, K: AffineKind, S: Source, D: Sink, E: Epilogue>(
        io: Io<S, D, E>,
        p: &Rows<'_>,
        report: &mut Report<'_>,
    ) {
        if p.rows == 0 {
            return;
        }
        let row = |i: usize| io.offset(i * p.cols);
        let runs = Runs::row(p.cols);
        // SAFETY (every call): rows `i` and `i + 1` lie in both buffers.
        let mut sums = unsafe { sums_while::<V, St, S>(io.src, runs, Sample::Prefix, &()) };
        for i in 0..p.rows {
            let (params, mean, inv) = unsafe { row_stats::<V, St, S>(row(i).src, p, sums) };
            report.record(i, mean, inv);
            if i + 1 == p.rows {
                unsafe { normalize_rows_as::<V, K, S, D, E>(row(i), p.cols, 0, i, &[params], p) };
            } else {
                let write = NormalizeWhileSumming::<V, St, S, D, E> {
                    io: row(i),
                    params,
                    row: i,
                    p,
                    next: row(i + 1).src,
                    marker: PhantomData,
                };
                sums = unsafe { write.with::<K>() };
            }
        }
    }
}

/// A row written while the sums of the row at `next` are taken.
struct NormalizeWhileSumming<'a, 'p, V, St, S, D, E> {
    io: Io<S, D, E>,
    params: RowParams,
    /// The index of the row written.
    row: usize,
    p: &'a Rows<'p>,
    next: S,
    marker: PhantomData<(V, St)>,
}

impl<V: Vector, St: Statistic, S: Source, D: Sink, E: Epilogue> WithAffine
    for NormalizeWhileSumming<'_, '_, V, St, S, D, E>
{
    type Output = Sums;
    #[inline(always)]
    unsafe fn with<K: AffineKind>(self) -> Sums {
        let (io, cols) = (self.io, self.p.cols);
        let runs = Runs::row(cols);
        // SAFETY: both rows lie in the buffers (the caller's contract).
        unsafe {
            let op = RowOp::<V, K>::new(self.params, self.p, self.row);
            // Non-temporal stores for outputs far larger than the caches ([`StreamOp`]).
            if io.nontemporal && V::STREAMS {
                let write = StreamOp { io, op, cols };
                sums_while::<V, St, S>(self.next, runs, Sample::Prefix, &write)
            } else if prefetching::<V, _, _, _>(&io) {
                let write = WriteOp::<_, _, _, _, true> { io, op };
                sums_while::<V, St, S>(self.next, runs, Sample::Prefix, &write)
            } else {
                let write = WriteOp::<_, _, _, _, false> { io, op };
                sums_while::<V, St, S>(self.next, runs, Sample::Prefix, &write)
            }
        }
    }
}

/// Writes a row with one op, a vector at a time, for [`sums_while`] (each output line asked
/// for ahead where `PREFETCH`).
struct WriteOp<S, D, E, Op, const PREFETCH: bool> {
    io: Io<S, D, E>,
    op: Op,
}

impl<V: Vector, S: Source, D: Sink, E: Epilogue, Op: Lanewise<V>, const PREFETCH: bool> Write<V>
    for WriteOp<S, D, E, Op, PREFETCH>
{
    type Run = ();
    #[inline(always)]
    unsafe fn begin(&self, _: usize) {}
    #[cfg_attr(target_arch = "x86_64", inline(always))]
    #[cfg_attr(not(target_arch = "x86_64"), inline)]
    unsafe fn write(&self, _: &(), at: usize, lanes: usize) {
        // SAFETY: the write's contract covers `at..at + lanes`.
        unsafe { write_lanes::<V, S, D, E, PREFETCH>(self.io, &self.op, at, lanes) }
    }
}

/// [`WriteOp`] for an output stored non-temporally, as [`super::map::map`] stores outputs far
/// larger than the caches.
struct StreamOp<S, D, E, Op> {
    io: Io<S, D, E>,
    op: Op,
    /// Values in the row.
    cols: usize,
}

impl<V: Vector, S: Source, D: Sink, E: Epilogue, Op: Lanewise<V>> Write<V>
    for StreamOp<S, D, E, Op>
{
    type Run = StreamRun;
    #[inline(always)]
    unsafe fn begin(&self, _: usize) -> StreamRun {
        // SAFETY: the row lies in the buffers (the walk's contract).
        unsafe { stream_head(self.io, &self.op, 0, self.cols) }
    }
    #[inline(always)]
    unsafe fn write(&self, run: &StreamRun, at: usize, _: usize) {
        // SAFETY: the walk steps whole vectors from the row's start; the dispatch fences.
        unsafe { stream_lanes(self.io, &self.op, run, at) }
    }
}
