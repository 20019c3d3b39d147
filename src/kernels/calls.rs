//! The entry points the operators call: each checks that what the kernel will touch lies in
//! the buffers (a failed check is a bug in the operator, which validated the shapes first, so
//! it panics rather than returning an error), builds the kernel and runs it.

use super::Kernels;
use super::columns::{
    ColumnAffine, ColumnGeometry, ColumnParams, ColumnState, ColumnStats, ColumnSums, ColumnTotals,
};
use super::elements::{StridedValues, StridedValuesMut, Values, ValuesMut};
use super::group::{GroupStatsFromSums, GroupSums};
use super::residual::{AddRows, Sum};
use super::row_parts::{Report, Rows};
use super::rows::NormalizeRows;
use super::runs::{Affine, ApplyRuns, ApplyRunsSummingNext, RunAffine};
use super::seam::{Epilogue, Identity, Io, Sink, Source};
use super::walk::{Runs, Statistic};
use super::welford::SliceMoments;
use crate::element::{Element, ElementKind};
use crate::io::{InOut, Residual};
use crate::schedule::Schedule;
use crate::stats::{GroupStats, Moments, Sums};
use core::marker::PhantomData;

/// Values per block of a fused add's rows: the block's sums, stored by the add pass, are
/// still in L1 or L2 when the norm reads them (whole rows, at least one).
const STAGED_VALUES: usize = 16384;

impl Kernels {
    /// One-pass moments of `x` around `pivot`.
    pub(crate) fn moments_around(&self, x: &[f32], pivot: f32) -> Moments {
        let kernel = SliceMoments {
            src: Values(x.as_ptr()),
            len: x.len(),
            pivot,
        };
        // SAFETY: `x` is valid for its length.
        unsafe { self.run(kernel) }
    }

    /// One-pass sums of the group of runs at `start`, which is normalized right after.
    pub(crate) fn group_sums<T: Element>(
        &self,
        io: &InOut<'_, T>,
        start: usize,
        runs: Runs,
    ) -> Sums {
        let src = Values(io.runs_input_ptr(start, runs));
        // SAFETY: every run lies inside the input (checked).
        unsafe { self.run(GroupSums { src, runs }) }
    }

    /// The statistics of the group of runs at `start` from its sums (a second pass over the
    /// group only where the sums fall short).
    pub(crate) fn group_stats<T: Element>(
        &self,
        io: &InOut<'_, T>,
        start: usize,
        runs: Runs,
        sums: Sums,
    ) -> GroupStats {
        let src = Values(io.runs_input_ptr(start, runs));
        // SAFETY: every run lies inside the input (checked).
        unsafe { self.run(GroupStatsFromSums { src, runs, sums }) }
    }

    /// Writes `y = (x - pivot) * scale + shift` over each run `r` of the group at `start`
    /// with `affine(r)`, then the epilogue.
    pub(crate) fn apply_runs<T: Element, E: Epilogue, F: RunAffine + ?Sized>(
        &self,
        io: &mut InOut<'_, T>,
        start: usize,
        runs: Runs,
        affine: &F,
        epilogue: E,
    ) {
        let kernel = self.apply_runs_kernel(io, start, runs, affine, epilogue);
        // SAFETY: the group lies inside the buffers (checked).
        unsafe { self.run(kernel) }
    }

    /// [`Kernels::apply_runs`] in the same pass that takes the sums of the group at `next`
    /// (same geometry, disjoint from the group written), which it returns.
    pub(crate) fn apply_runs_summing_next<T: Element, E: Epilogue, F: RunAffine + ?Sized>(
        &self,
        io: &mut InOut<'_, T>,
        start: usize,
        runs: Runs,
        affine: &F,
        next: usize,
        epilogue: E,
    ) -> Sums {
        let next = Values(io.runs_input_ptr(next, runs));
        let apply = self.apply_runs_kernel(io, start, runs, affine, epilogue);
        // SAFETY: both groups lie inside the buffers (checked), and the caller's groups
        // are disjoint, so the reads of `next` see input values.
        unsafe { self.run(ApplyRunsSummingNext { apply, next }) }
    }

    /// LayerNorm or RMSNorm (`St`) of every row of `io`, which holds exactly `rows * cols`
    /// values, each normalized row passed through `epilogue`.
    pub(crate) fn normalize_rows<T: Element, St: Statistic, E: Epilogue>(
        &self,
        io: &mut InOut<'_, T>,
        rows: Rows<'_>,
        report: Report<'_>,
        epilogue: E,
    ) {
        let io = self.contiguous_io(io, 0, rows.rows * rows.cols, epilogue);
        // SAFETY: the span was checked.
        unsafe {
            self.run(rows_kernel::<St, _, _, _>(
                io,
                rows,
                report,
                self.schedule(),
            ))
        }
    }

    /// [`Kernels::normalize_rows`] of the sums `x + skip (+ bias)` (see [`Residual`]).
    ///
    /// LayerNorm reads each row three times (its pivot, its deviations, the normalize pass):
    /// its sums are stored once and read back ([`Kernels::add_then_normalize_rows`]), which
    /// measured 11-21% faster than recomputing them in f32 and f16 (Zen 4, 512x768).
    /// RMSNorm reads each row twice. In f32 its sums are recomputed in both passes: storing
    /// them measured slower on a Zen 4 (128x4096) and 0.96-1.08x the time on a Zen 3. In
    /// 16 bits they are stored, so that each is rounded to the element type once rather than
    /// in both passes: 0.77x the time in bf16 (rounded in software on AVX2) and 0.86-0.88x in
    /// f16 on a Zen 3 (128x4096 and 512x768); no faster in bf16 on a Zen 4, whose AVX-512
    /// BF16 rounds in one instruction.
    pub(crate) fn add_normalize_rows<T: Element, St: Statistic, E: Epilogue>(
        &self,
        io: &mut InOut<'_, T>,
        residual: &mut Residual<'_, T>,
        rows: Rows<'_>,
        report: Report<'_>,
        epilogue: E,
    ) {
        if St::CENTERED || T::KIND != ElementKind::F32 {
            return self.add_then_normalize_rows::<T, St, E>(io, residual, rows, report, epilogue);
        }
        let len = rows.rows * rows.cols;
        let io = self.contiguous_io(io, 0, len, epilogue);
        let (skip, sum) = residual.ptrs(0, len);
        let io = with_residual(io, Values(skip), sum.map(ValuesMut), residual, rows.cols);
        // SAFETY: every span was checked.
        unsafe {
            self.run(rows_kernel::<St, _, _, _>(
                io,
                rows,
                report,
                self.schedule(),
            ))
        }
    }

    /// [`Kernels::add_normalize_rows`] a block of rows at a time: the add pass stores the
    /// block's rounded sums where the caller wants them (their own buffer, or over the
    /// residual) or else in the output, and the norm reads them back from there while they
    /// are still in cache.
    fn add_then_normalize_rows<T: Element, St: Statistic, E: Epilogue>(
        &self,
        io: &mut InOut<'_, T>,
        residual: &mut Residual<'_, T>,
        rows: Rows<'_>,
        mut report: Report<'_>,
        epilogue: E,
    ) {
        assert!(rows.per_row.gamma.is_none() && rows.per_row.beta.is_none());
        let cols = rows.cols;
        let len = rows.rows * cols;
        let io = self.contiguous_io(io, 0, len, epilogue);
        let (skip, sum) = residual.ptrs(0, len);
        let staged = sum.map_or(io.dst, ValuesMut);
        let sums = Io {
            src: io.src,
            dst: staged,
            epilogue: Identity,
            nontemporal: false,
            prefetch: io.prefetch,
        };
        let sums = with_residual(sums, Values(skip), None, residual, cols);
        let block = (STAGED_VALUES / cols.max(1)).max(1);
        let mut first = 0;
        while first < rows.rows {
            let n = block.min(rows.rows - first);
            let at = first * cols;
            let add = AddRows {
                io: sums.offset(at),
                rows: n,
                cols,
            };
            // Streaming stores gain nothing over lines the add pass has just brought in.
            let norm = Io {
                src: Values(staged.0.cast_const()),
                nontemporal: io.nontemporal && sum.is_some(),
                ..io
            };
            let part = Rows { rows: n, ..rows };
            // SAFETY: every span was checked; rows `first..first + n` lie in each buffer.
            unsafe {
                self.run(add);
                self.run(rows_kernel::<St, _, _, _>(
                    norm.offset(at),
                    part,
                    report.part(first, n),
                    self.schedule(),
                ));
            }
            first += n;
        }
    }

    /// LayerNorm or RMSNorm (`St`) of rows whose values lie `stride` apart, row `i` starting
    /// at `start + i * cols * stride`: each row of a `[rows, cols]` tensor (`stride` 1), or one
    /// position of a channels-first tensor (one row, `stride` = positions). For the compact
    /// set, which runs both layouts through this one kernel.
    pub(crate) fn normalize_strided<T: Element, St: Statistic, E: Epilogue>(
        &self,
        io: &mut InOut<'_, T>,
        start: usize,
        stride: usize,
        rows: Rows<'_>,
        report: Report<'_>,
        epilogue: E,
    ) {
        let io = self.strided_io(io, start, stride, strided_span(&rows, stride), epilogue);
        // SAFETY: the span was checked.
        unsafe {
            self.run_compact(rows_kernel::<St, _, _, _>(
                io,
                rows,
                report,
                self.schedule(),
            ))
        }
    }

    /// [`Kernels::normalize_strided`] of the sums `x + skip (+ bias)` (rows of
    /// `[rows, cols]`, `stride` 1).
    pub(crate) fn add_normalize_strided<T: Element, St: Statistic, E: Epilogue>(
        &self,
        io: &mut InOut<'_, T>,
        residual: &mut Residual<'_, T>,
        rows: Rows<'_>,
        report: Report<'_>,
        epilogue: E,
    ) {
        let span = strided_span(&rows, 1);
        let io = self.strided_io(io, 0, 1, span, epilogue);
        let (skip, sum) = residual.ptrs(0, span);
        let skip = StridedValues {
            ptr: skip,
            stride: 1,
        };
        let sum = sum.map(|ptr| StridedValuesMut { ptr, stride: 1 });
        let io = with_residual(io, skip, sum, residual, rows.cols);
        // SAFETY: every span was checked.
        unsafe {
            self.run_compact(rows_kernel::<St, _, _, _>(
                io,
                rows,
                report,
                self.schedule(),
            ))
        }
    }

    /// One-pass sums of the group at `place` (compact set).
    pub(crate) fn strided_sums<T: Element>(&self, io: &InOut<'_, T>, place: Strided) -> Sums {
        let src = place.source(io);
        let runs = place.runs;
        // SAFETY: every value of the group lies in the checked span.
        unsafe { self.run_compact(GroupSums { src, runs }) }
    }

    /// The statistics of the group at `place` from its sums (compact set).
    pub(crate) fn strided_stats<T: Element>(
        &self,
        io: &InOut<'_, T>,
        place: Strided,
        sums: Sums,
    ) -> GroupStats {
        let src = place.source(io);
        let runs = place.runs;
        // SAFETY: every value of the group lies in the checked span.
        unsafe { self.run_compact(GroupStatsFromSums { src, runs, sums }) }
    }

    /// Writes `y = (x - pivot) * scale + shift` over each run `r` of the group at `place`
    /// with `affine(r)`, then the epilogue (compact set).
    pub(crate) fn strided_affine<T: Element, E: Epilogue>(
        &self,
        io: &mut InOut<'_, T>,
        place: Strided,
        affine: &dyn Fn(usize) -> Affine,
        epilogue: E,
    ) {
        let kernel = ApplyRuns {
            io: self.strided_io(io, place.start, place.stride, place.span(), epilogue),
            runs: place.runs,
            affine,
        };
        // SAFETY: every value of the group lies in both buffers (span checked).
        unsafe { self.run_compact(kernel) };
    }

    /// Two-pass statistics down the columns of the block at `start` (see [`ColumnStats`]).
    pub(crate) fn column_stats<T: Element>(
        &self,
        io: &InOut<'_, T>,
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
        let src = Values(io.input_ptr(start, g.span()));
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
    pub(crate) fn column_sums<T: Element>(
        &self,
        io: &InOut<'_, T>,
        start: usize,
        g: ColumnGeometry,
        totals: &mut ColumnTotals<'_>,
    ) {
        let padded = g.padded();
        assert!(g.width <= g.stride || g.rows <= 1);
        assert!(totals.pivot.len() >= padded);
        assert!(totals.dev32.len() >= padded && totals.sq32.len() >= padded);
        assert!(totals.dev.len() >= g.width && totals.sq.len() >= g.width);
        let src = Values(io.input_ptr(start, g.span()));
        // SAFETY: the span and the column arrays were checked above.
        unsafe { self.run(ColumnSums { src, g, totals }) }
    }

    /// The per-column affine of the block at `start`, then the epilogue (see
    /// [`ColumnParams`]).
    pub(crate) fn column_affine<T: Element, E: Epilogue>(
        &self,
        io: &mut InOut<'_, T>,
        start: usize,
        g: ColumnGeometry,
        params: ColumnParams<'_>,
        epilogue: E,
    ) {
        let padded = g.padded();
        assert!(g.width <= g.stride || g.rows <= 1);
        assert!(params.pivot.len() >= padded && params.scale.len() >= padded);
        assert!(params.shift.len() >= padded);
        assert!(params.row_scale.is_none_or(|s| s.len() >= g.rows));
        assert!(params.row_shift.is_none_or(|b| b.len() >= g.rows));
        let io = self.contiguous_io(io, start, g.span(), epilogue);
        let kernel = ColumnAffine { io, g, params };
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
    fn source<T: Element>(self, io: &InOut<'_, T>) -> StridedValues<T> {
        StridedValues {
            ptr: io.input_ptr(self.start, self.span()),
            stride: self.stride,
        }
    }
}

/// The rows kernel over `io`, its parameters and report checked (`io` itself is the
/// caller's to check: running the kernel is unsafe).
fn rows_kernel<'a, St: Statistic, S: Source, D: Sink, E: Epilogue>(
    io: Io<S, D, E>,
    rows: Rows<'a>,
    report: Report<'a>,
    schedule: Schedule,
) -> NormalizeRows<'a, St, S, D, E> {
    assert!(rows.gamma.is_none_or(|g| g.len() == rows.cols));
    assert!(
        rows.beta
            .is_none_or(|b| b.len() == rows.cols && St::CENTERED)
    );
    assert!(report.mean.as_ref().is_none_or(|m| m.len() >= rows.rows));
    assert!(report.inv_std.as_ref().is_none_or(|v| v.len() >= rows.rows));
    NormalizeRows {
        io,
        rows,
        report,
        schedule,
        statistic: PhantomData,
    }
}

/// Values from the first to the last element of `rows` rows of `cols`, `stride` apart.
fn strided_span(rows: &Rows<'_>, stride: usize) -> usize {
    assert!(stride > 0);
    match rows.rows * rows.cols {
        0 => 0,
        n => (n - 1) * stride + 1,
    }
}

impl Kernels {
    /// Whether kernels writing `io`'s output ask for its lines ahead of their stores: where
    /// this CPU's pick says so ([`Kernels::output_prefetch`]), and for every output whose
    /// lines come mostly from memory.
    fn prefetches<T: Element>(&self, io: &InOut<'_, T>) -> bool {
        self.output_prefetch() || io.output_from_memory()
    }

    /// The kernel that writes the group of runs at `start` (its runs bounds-checked).
    fn apply_runs_kernel<'a, T: Element, E: Epilogue, F: RunAffine + ?Sized>(
        &self,
        io: &mut InOut<'_, T>,
        start: usize,
        runs: Runs,
        affine: &'a F,
        epilogue: E,
    ) -> ApplyRuns<'a, Values<T>, ValuesMut<T>, E, F> {
        let ptrs = io.runs_ptrs(start, runs);
        ApplyRuns {
            io: self.io_view(io, ptrs, epilogue),
            runs,
            affine,
        }
    }

    /// The kernel view of `io`'s values `start..start + len` (bounds-checked).
    fn contiguous_io<T: Element, E: Epilogue>(
        &self,
        io: &mut InOut<'_, T>,
        start: usize,
        len: usize,
        epilogue: E,
    ) -> Io<Values<T>, ValuesMut<T>, E> {
        let ptrs = io.ptrs(start, len);
        self.io_view(io, ptrs, epilogue)
    }

    /// The kernel view of `io` from `(src, dst)`, pointers into its buffers.
    fn io_view<T: Element, E: Epilogue>(
        &self,
        io: &InOut<'_, T>,
        (src, dst): (*const T, *mut T),
        epilogue: E,
    ) -> Io<Values<T>, ValuesMut<T>, E> {
        let nontemporal = io.streams();
        Io {
            src: Values(src),
            dst: ValuesMut(dst),
            epilogue,
            nontemporal,
            prefetch: self.prefetches(io),
        }
    }

    /// The kernel view of `io`'s values `start..start + span`, `stride` apart (bounds-checked).
    fn strided_io<T: Element, E: Epilogue>(
        &self,
        io: &mut InOut<'_, T>,
        start: usize,
        stride: usize,
        span: usize,
        epilogue: E,
    ) -> Io<StridedValues<T>, StridedValuesMut<T>, E> {
        let (src, dst) = io.ptrs(start, span);
        Io {
            src: StridedValues { ptr: src, stride },
            dst: StridedValuesMut { ptr: dst, stride },
            epilogue,
            nontemporal: false,
            prefetch: self.prefetches(io),
        }
    }
}

/// `io` reading `x + skip (+ bias)` instead of `x`, writing the sum to `sum` if given.
fn with_residual<S: Source, D: Sink, E: Epilogue>(
    io: Io<S, D, E>,
    skip: S,
    sum: Option<D>,
    residual: &Residual<'_, impl Element>,
    cols: usize,
) -> Io<Sum<S, D>, D, E> {
    let bias = residual.bias_values().map_or(core::ptr::null(), |b| {
        assert!(b.len() == cols);
        b.as_ptr()
    });
    Io {
        src: Sum {
            x: io.src,
            skip,
            bias,
            sum,
        },
        dst: io.dst,
        epilogue: io.epilogue,
        nontemporal: io.nontemporal,
        prefetch: io.prefetch,
    }
}
