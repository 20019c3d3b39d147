//! The entry points the operators call: each checks that what the kernel will touch lies in
//! the buffers (a failed check is a bug in the operator, which validated the shapes first, so
//! it panics rather than returning an error), builds the kernel and runs it.

use super::Kernels;
use super::columns::{
    ColumnAffine, ColumnGeometry, ColumnParams, ColumnState, ColumnStats, ColumnSums, ColumnTotals,
};
use super::group::{GroupStatsFromSums, GroupSums};
use super::rows::{NormalizeRows, Report, Rows};
use super::runs::{Affine, ApplyRuns};
use super::seam::{Epilogue, F32Sink, F32Source, Identity, Io, StridedSink, StridedSource};
use super::walk::{Runs, Statistic};
use super::welford::SliceMoments;
use crate::io::InOut;
use crate::stats::{GroupStats, Moments, Sums};
use core::marker::PhantomData;

impl Kernels {
    /// One-pass moments of `x` around `pivot`.
    pub(crate) fn moments_around(&self, x: &[f32], pivot: f32) -> Moments {
        let kernel = SliceMoments {
            src: F32Source(x.as_ptr()),
            len: x.len(),
            pivot,
        };
        // SAFETY: `x` is valid for its length.
        unsafe { self.run(kernel) }
    }

    /// One-pass sums of the group of runs at `start`, which is normalized right after.
    pub(crate) fn group_sums(&self, io: &InOut<'_>, start: usize, runs: Runs) -> Sums {
        let src = F32Source(io.input_ptr(start, runs.span()));
        // SAFETY: every run lies inside the input (span checked).
        unsafe { self.run(GroupSums { src, runs }) }
    }

    /// The statistics of the group of runs at `start` from its sums (a second pass over the
    /// group only where the sums fall short).
    pub(crate) fn group_stats(
        &self,
        io: &InOut<'_>,
        start: usize,
        runs: Runs,
        sums: Sums,
    ) -> GroupStats {
        let src = F32Source(io.input_ptr(start, runs.span()));
        // SAFETY: every run lies inside the input (span checked).
        unsafe { self.run(GroupStatsFromSums { src, runs, sums }) }
    }

    /// Writes `y = (x - pivot) * scale + shift` over each run `r` of the group at `start`
    /// with `affine(r)`; with `next` (the start of a group of the same geometry), returns that
    /// group's sums, taken in the same pass.
    pub(crate) fn apply_runs(
        &self,
        io: &mut InOut<'_>,
        start: usize,
        runs: Runs,
        affine: &dyn Fn(usize) -> Affine,
        next: Option<usize>,
    ) -> Option<Sums> {
        let next = next.map(|at| F32Source(io.input_ptr(at, runs.span())));
        let kernel = ApplyRuns {
            io: f32_io(io, start, runs.span(), Identity),
            runs,
            affine,
            next,
        };
        // SAFETY: both groups lie inside the buffers (spans checked), and the caller's groups
        // are disjoint, so the reads of `next` see input values.
        unsafe { self.run(kernel) }
    }

    /// LayerNorm or RMSNorm (`St`) of every row of `io`, which holds exactly `rows * cols`
    /// values, each normalized row passed through `epilogue`.
    pub(crate) fn normalize_rows<St: Statistic, E: Epilogue>(
        &self,
        io: &mut InOut<'_>,
        rows: Rows<'_>,
        report: Report<'_>,
        epilogue: E,
    ) {
        assert!(rows.gamma.is_none_or(|g| g.len() == rows.cols));
        assert!(
            rows.beta
                .is_none_or(|b| b.len() == rows.cols && St::CENTERED)
        );
        assert!(report.mean.as_ref().is_none_or(|m| m.len() >= rows.rows));
        assert!(report.inv_std.as_ref().is_none_or(|v| v.len() >= rows.rows));
        let kernel = NormalizeRows {
            io: f32_io(io, 0, rows.rows * rows.cols, epilogue),
            rows,
            report,
            statistic: PhantomData::<St>,
        };
        // SAFETY: every row, parameter and statistic lies in bounds (checked above).
        unsafe { self.run(kernel) }
    }

    /// LayerNorm or RMSNorm (`St`) of rows whose values lie `stride` apart, row `i` starting
    /// at `start + i * cols * stride`: each row of a `[rows, cols]` tensor (`stride` 1), or one
    /// position of a channels-first tensor (one row, `stride` = positions). For the compact
    /// set, which runs both layouts through this one kernel.
    pub(crate) fn normalize_strided<St: Statistic>(
        &self,
        io: &mut InOut<'_>,
        start: usize,
        stride: usize,
        rows: Rows<'_>,
        report: Report<'_>,
    ) {
        assert!(rows.cols > 0 && stride > 0);
        assert!(rows.gamma.is_none_or(|g| g.len() == rows.cols));
        assert!(
            rows.beta
                .is_none_or(|b| b.len() == rows.cols && St::CENTERED)
        );
        assert!(report.mean.as_ref().is_none_or(|m| m.len() >= rows.rows));
        assert!(report.inv_std.as_ref().is_none_or(|v| v.len() >= rows.rows));
        let span = match rows.rows {
            0 => 0,
            n => (n * rows.cols - 1) * stride + 1,
        };
        let (src, dst) = io.ptrs(start, span);
        let kernel = NormalizeRows {
            io: Io {
                src: StridedSource { ptr: src, stride },
                dst: StridedSink { ptr: dst, stride },
                epilogue: Identity,
                nontemporal: false,
            },
            rows,
            report,
            statistic: PhantomData::<St>,
        };
        // SAFETY: every value of every row lies in the span checked above, and the report's
        // buffers hold a value per row.
        unsafe { self.run_compact(kernel) };
    }

    /// One-pass sums of the group at `place` (compact set).
    pub(crate) fn strided_sums(&self, io: &InOut<'_>, place: Strided) -> Sums {
        let src = place.source(io);
        let runs = place.runs;
        // SAFETY: every value of the group lies in the checked span.
        unsafe { self.run_compact(GroupSums { src, runs }) }
    }

    /// The statistics of the group at `place` from its sums (compact set).
    pub(crate) fn strided_stats(&self, io: &InOut<'_>, place: Strided, sums: Sums) -> GroupStats {
        let src = place.source(io);
        let runs = place.runs;
        // SAFETY: every value of the group lies in the checked span.
        unsafe { self.run_compact(GroupStatsFromSums { src, runs, sums }) }
    }

    /// Writes `y = (x - pivot) * scale + shift` over each run `r` of the group at `place`
    /// with `affine(r)` (compact set).
    pub(crate) fn strided_affine(
        &self,
        io: &mut InOut<'_>,
        place: Strided,
        affine: &dyn Fn(usize) -> Affine,
    ) {
        let (src, dst) = io.ptrs(place.start, place.span());
        let kernel = ApplyRuns {
            io: Io {
                src: StridedSource {
                    ptr: src,
                    stride: place.stride,
                },
                dst: StridedSink {
                    ptr: dst,
                    stride: place.stride,
                },
                epilogue: Identity,
                nontemporal: false,
            },
            runs: place.runs,
            affine,
            next: None,
        };
        // SAFETY: every value of the group lies in both buffers (span checked).
        unsafe { self.run_compact(kernel) };
    }

    /// Two-pass statistics down the columns of the block at `start` (see [`ColumnStats`]).
    pub(crate) fn column_stats(
        &self,
        io: &InOut<'_>,
        start: usize,
        g: ColumnGeometry,
        center: bool,
        state: &mut ColumnState<'_>,
    ) {
        let padded = g.padded();
        assert!(g.width <= g.stride || g.rows <= 1);
        assert!(state.pivot.len() >= padded && state.offset.len() >= padded);
        assert!(state.dev.len() >= padded && state.sq.len() >= padded);
        assert!(state.scale.len() >= padded);
        let src = F32Source(io.input_ptr(start, g.span()));
        let kernel = ColumnStats {
            src,
            g,
            center,
            state,
        };
        // SAFETY: the span and the padded column arrays were checked above.
        unsafe { self.run(kernel) }
    }

    /// One-pass sums down the columns of the block at `start` (see [`ColumnSums`]).
    pub(crate) fn column_sums(
        &self,
        io: &InOut<'_>,
        start: usize,
        g: ColumnGeometry,
        totals: &mut ColumnTotals<'_>,
    ) {
        let padded = g.padded();
        assert!(g.width <= g.stride || g.rows <= 1);
        assert!(totals.pivot.len() >= padded);
        assert!(totals.dev32.len() >= padded && totals.sq32.len() >= padded);
        assert!(totals.dev.len() >= g.width && totals.sq.len() >= g.width);
        let src = F32Source(io.input_ptr(start, g.span()));
        // SAFETY: the span and the column arrays were checked above.
        unsafe { self.run(ColumnSums { src, g, totals }) }
    }

    /// The per-column affine of the block at `start` (see [`ColumnParams`]).
    pub(crate) fn column_affine(
        &self,
        io: &mut InOut<'_>,
        start: usize,
        g: ColumnGeometry,
        params: ColumnParams<'_>,
    ) {
        let padded = g.padded();
        assert!(g.width <= g.stride || g.rows <= 1);
        assert!(params.pivot.len() >= padded && params.scale.len() >= padded);
        assert!(params.shift.len() >= padded);
        assert!(params.row_scale.is_none_or(|s| s.len() >= g.rows));
        assert!(params.row_shift.is_none_or(|b| b.len() >= g.rows));
        let kernel = ColumnAffine {
            io: f32_io(io, start, g.span(), Identity),
            g,
            params,
        };
        // SAFETY: the span, the padded column arrays and the row arrays were checked above.
        unsafe { self.run(kernel) }
    }
}

/// A group of values for the compact set: `runs` of elements `stride` values apart from
/// `start` (element `e` of the walk at `start + e * stride`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Strided {
    pub start: usize,
    pub stride: usize,
    pub runs: Runs,
}

impl Strided {
    /// Values from the group's first to its last.
    fn span(self) -> usize {
        match self.runs.span() {
            0 => 0,
            elements => (elements - 1) * self.stride + 1,
        }
    }

    /// The group's values to read (bounds-checked).
    fn source(self, io: &InOut<'_>) -> StridedSource {
        StridedSource {
            ptr: io.input_ptr(self.start, self.span()),
            stride: self.stride,
        }
    }
}

/// The kernel view of `io`'s values `start..start + len` (bounds-checked).
fn f32_io<E: Epilogue>(
    io: &mut InOut<'_>,
    start: usize,
    len: usize,
    epilogue: E,
) -> Io<F32Source, F32Sink, E> {
    let nontemporal = io.streams();
    let (src, dst) = io.ptrs(start, len);
    Io {
        src: F32Source(src),
        dst: F32Sink(dst),
        epilogue,
        nontemporal,
    }
}
