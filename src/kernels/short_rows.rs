//! Short rows (up to [`SHORT_ROW`] values), a block of `ROWS` at a time and each stage across
//! the block's rows, so that their dependency chains overlap and their reductions share one
//! add tree ([`Vector::reduce_add_rows`]): the rows' means (the pivots), their sums around the
//! pivots, the statistics in f32 where those sums are accepted (the general path otherwise,
//! after the block), then the normalize pass over the block, still in L1. While the block is
//! summed, the next one is prefetched: a block's stages are too long for the hardware to start
//! its loads in time.

use super::lanes::{UNROLL, load_masked, slot_sum};
use super::row_parts::{
    AffineKind, Report, RowParams, RowPath, Rows, by_kind, normalize_rows_as, row_stats,
};
use super::seam::{Epilogue, Io, LINE_BYTES, Sink, Source};
use super::walk::{Pair, Statistic};
use crate::simd::{ROWS, Vector};
use crate::stats::{Sums, deviation_scale, pivot_from, sums_accepted};
use core::marker::PhantomData;

/// Rows up to this long are normalized a block at a time: each row alone is too short to
/// hide the latency of its statistics (reductions, square root, division).
pub(crate) const SHORT_ROW: usize = 256;

/// What the loops of a block know of the row length at compile time.
trait RowWidth {
    /// Whole vectors per row, or 0 for any length.
    const VECTORS: usize;
    /// Whether rows are whole groups of `UNROLL` vectors (as most model widths are), so the
    /// code for the rest is left out.
    const WHOLE: bool;
}

/// Any row length.
struct AnyWidth;
impl RowWidth for AnyWidth {
    const VECTORS: usize = 0;
    const WHOLE: bool = false;
}

/// Rows of whole groups of `UNROLL` vectors.
struct WholeGroups;
impl RowWidth for WholeGroups {
    const VECTORS: usize = 0;
    const WHOLE: bool = true;
}

/// Rows of exactly `N` vectors: every loop's count known.
struct Vectors<const N: usize>;
impl<const N: usize> RowWidth for Vectors<N> {
    const VECTORS: usize = N;
    const WHOLE: bool = true;
}

/// See the module docs.
///
/// # Safety
/// `io` is valid for `p.rows * p.cols` reads and writes, gamma and beta hold `p.cols` values,
/// `p.cols <= SHORT_ROW`, and `V`'s instruction set is available.
#[inline(always)]
pub(crate) unsafe fn short_rows<V: Vector, St: Statistic, S: Source, D: Sink, E: Epilogue>(
    io: Io<S, D, E>,
    p: &Rows<'_>,
    report: &mut Report<'_>,
) {
    // SAFETY (every branch): forwarded from the caller.
    unsafe {
        // The common widths of 4, 8 or 16 whole vectors get copies with every loop's count
        // known at compile time.
        if !V::SPECIALIZE {
            return of_width::<V, St, AnyWidth, S, D, E>(io, p, report);
        }
        let vectors = p.cols.is_multiple_of(V::LANES).then_some(p.cols / V::LANES);
        match vectors {
            Some(4) => of_width::<V, St, Vectors<4>, S, D, E>(io, p, report),
            Some(8) => of_width::<V, St, Vectors<8>, S, D, E>(io, p, report),
            Some(16) => of_width::<V, St, Vectors<16>, S, D, E>(io, p, report),
            _ if p.cols.is_multiple_of(UNROLL * V::LANES) => {
                of_width::<V, St, WholeGroups, S, D, E>(io, p, report)
            }
            _ => of_width::<V, St, AnyWidth, S, D, E>(io, p, report),
        }
    }
}

/// [`ShortBlocks`] for rows of width `W`, with `p`'s affine kind picked once for all blocks.
///
/// # Safety
/// As [`short_rows`], and the rows are of width `W`.
#[inline(always)]
unsafe fn of_width<V: Vector, St: Statistic, W: RowWidth, S: Source, D: Sink, E: Epilogue>(
    io: Io<S, D, E>,
    p: &Rows<'_>,
    report: &mut Report<'_>,
) {
    // SAFETY: forwarded from the caller.
    unsafe { by_kind::<ShortBlocks<W>, V, St, S, D, E>(io, p, report) }
}

/// Short rows of width `W`, a block at a time.
struct ShortBlocks<W>(PhantomData<W>);

impl<W: RowWidth> RowPath for ShortBlocks<W> {
    /// [`short_rows`] for rows of width `W` and affine kind `K`.
    ///
    /// # Safety
    /// As [`short_rows`], the rows are of width `W`, and `K` is `p`'s kind.
    #[inline(always)]
    unsafe fn rows<V: Vector, St: Statistic, K: AffineKind, S: Source, D: Sink, E: Epilogue>(
        io: Io<S, D, E>,
        p: &Rows<'_>,
        report: &mut Report<'_>,
    ) {
        let cols = if W::VECTORS > 0 {
            W::VECTORS * V::LANES
        } else {
            p.cols
        };
        let row = |i: usize| io.src.offset(i * cols);
        let inv_n = 1.0 / cols as f32;
        let mut first = 0;
        // SAFETY (every load below): rows `first..first + block` lie in the input, and the next
        // block's prefetches never fault.
        unsafe {
            let zero = V::splat(0.0);
            while first < p.rows {
                let block = ROWS.min(p.rows - first);
                let mut pivots = [0.0f32; ROWS];
                if St::CENTERED {
                    let mut totals = [zero; ROWS];
                    for (i, total) in totals.iter_mut().enumerate().take(block) {
                        let sum = row_lane_sums::<V, W, _, _>(row(first + i), cols, ValueSum);
                        *total = sum.deviations;
                    }
                    let totals = V::reduce_add_rows(&totals);
                    for (pivot, total) in pivots.iter_mut().zip(totals) {
                        *pivot = pivot_from(total * inv_n);
                    }
                }
                let (mut deviations, mut squares) = ([zero; ROWS], [zero; ROWS]);
                for i in 0..block {
                    let next = first + ROWS + i;
                    if next < p.rows {
                        prefetch_row::<V, S>(row(next), cols);
                    }
                    let sums = DeviationSums::<V, St> {
                        pivot: V::splat(pivots[i]),
                        statistic: PhantomData,
                    };
                    let sum = row_lane_sums::<V, W, _, _>(row(first + i), cols, sums);
                    (deviations[i], squares[i]) = (sum.deviations, sum.squares);
                }
                let deviations = V::reduce_add_rows(&deviations);
                let squares = V::reduce_add_rows(&squares);
                // Every row's parameters as its one-pass sums give them, then the rows whose sums
                // fall short redone by the general path, out of this loop (inlined in it, the
                // general path slowed the common case).
                let mut inv_stds = block_inv_stds::<V, St>(&deviations, &squares, inv_n, p.eps);
                let mut params = [RowParams::default(); ROWS];
                let mut means = [0.0f32; ROWS];
                let mut rejected = 0u32;
                for i in 0..block {
                    let (pivot, offset) = if St::CENTERED {
                        (pivots[i], deviations[i] * inv_n)
                    } else {
                        (0.0, 0.0)
                    };
                    let accepted = sums_accepted(deviations[i], squares[i], inv_n);
                    rejected |= u32::from(!accepted) << i;
                    params[i] = RowParams {
                        pivot,
                        offset,
                        scale: deviation_scale(inv_stds[i]),
                        shift: 0.0,
                    };
                    means[i] = pivot + offset;
                }
                while rejected != 0 {
                    let i = rejected.trailing_zeros() as usize;
                    rejected &= rejected - 1;
                    let sums = Sums {
                        pivot: pivots[i],
                        deviations: deviations[i],
                        squares: squares[i],
                    };
                    let (row_params, mean, inv) = row_stats::<V, St, S>(row(first + i), p, sums);
                    params[i] = row_params;
                    (means[i], inv_stds[i]) = (mean, inv);
                }
                if report.wanted() {
                    for i in 0..block {
                        report.record(first + i, means[i], inv_stds[i]);
                    }
                }
                let io = io.offset(first * cols);
                let params = &params[..block];
                normalize_rows_as::<V, K, S, D, E>(io, cols, W::VECTORS, first, params, p);
                first += block;
            }
        }
    }
}

/// Each row's `1 / sqrt(variance + eps)` from its one-pass sums (valid for the rows whose sums
/// are accepted): `LANES` rows per square root and division.
///
/// # Safety
/// `V`'s instruction set is available.
#[inline(always)]
unsafe fn block_inv_stds<V: Vector, St: Statistic>(
    deviations: &[f32; ROWS],
    squares: &[f32; ROWS],
    inv_n: f32,
    eps: f32,
) -> [f32; ROWS] {
    // SAFETY: every load and store lies in the ROWS-value arrays (ROWS is a multiple of LANES).
    unsafe {
        let (n, eps, zero) = (V::splat(inv_n), V::splat(eps), V::splat(0.0));
        let mut inv_stds = [0.0f32; ROWS];
        let mut i = 0;
        while i < ROWS {
            let mean_square = V::load(squares.as_ptr().add(i)).mul(n);
            let var = if St::CENTERED {
                let offset = V::load(deviations.as_ptr().add(i)).mul(n);
                mean_square.sub(offset.mul(offset)).max(zero)
            } else {
                mean_square
            };
            var.add(eps)
                .recip_sqrt()
                .store(inv_stds.as_mut_ptr().add(i));
            i += V::LANES;
        }
        inv_stds
    }
}

/// What [`row_lane_sums`] accumulates per vector.
trait LaneSums<V: Vector> {
    /// The accumulator a row's first vector starts.
    ///
    /// # Safety
    /// `V`'s instruction set is available.
    unsafe fn start(&self, v: V) -> Pair<V>;
    /// Adds the loaded vector (masked to its lanes).
    ///
    /// # Safety
    /// `V`'s instruction set is available.
    unsafe fn add(&self, acc: &mut Pair<V>, v: V, mask: Option<V>);
    /// The sums over a row of exactly `UNROLL` vectors: each starts an accumulator, and the
    /// accumulators are added up.
    ///
    /// # Safety
    /// `V`'s instruction set is available.
    #[inline(always)]
    unsafe fn group(&self, v: [V; UNROLL]) -> Pair<V> {
        // SAFETY: forwarded from the caller.
        unsafe {
            let starts = [
                self.start(v[0]),
                self.start(v[1]),
                self.start(v[2]),
                self.start(v[3]),
            ];
            add_slots(starts)
        }
    }
}

/// The sum of the values, in `deviations` (for the pivots).
struct ValueSum;

impl<V: Vector> LaneSums<V> for ValueSum {
    #[inline(always)]
    unsafe fn start(&self, v: V) -> Pair<V> {
        // SAFETY: forwarded from the caller.
        Pair {
            deviations: v,
            squares: unsafe { V::splat(0.0) },
        }
    }
    #[inline(always)]
    unsafe fn add(&self, acc: &mut Pair<V>, v: V, _: Option<V>) {
        // SAFETY: register arithmetic only (lanes past a partial load are 0).
        acc.deviations = unsafe { acc.deviations.add(v) };
    }
}

/// `d = x - pivot` (`x` for [`crate::kernels::walk::MeanSquare`]) and `d²`.
struct DeviationSums<V, St> {
    pivot: V,
    statistic: PhantomData<St>,
}

impl<V: Vector, St: Statistic> DeviationSums<V, St> {
    /// `x - pivot` (`x` for the mean square).
    ///
    /// # Safety
    /// `V`'s instruction set is available.
    #[inline(always)]
    unsafe fn center(&self, x: V) -> V {
        // SAFETY: register arithmetic only.
        if St::CENTERED {
            unsafe { x.sub(self.pivot) }
        } else {
            x
        }
    }
}

impl<V: Vector, St: Statistic> LaneSums<V> for DeviationSums<V, St> {
    #[inline(always)]
    unsafe fn start(&self, v: V) -> Pair<V> {
        // SAFETY: register arithmetic only.
        unsafe {
            let d = self.center(v);
            Pair {
                deviations: if St::CENTERED { d } else { V::splat(0.0) },
                squares: d.mul(d),
            }
        }
    }
    #[inline(always)]
    unsafe fn add(&self, acc: &mut Pair<V>, v: V, mask: Option<V>) {
        // SAFETY: register arithmetic only.
        unsafe {
            let d = self.center(v);
            acc.add::<St>(d, mask);
        }
    }
    /// The squares in one chain of fused multiply-adds: a product and three FMAs where
    /// [`row_lane_sums`]'s accumulators take four products and three adds.
    #[inline(always)]
    unsafe fn group(&self, v: [V; UNROLL]) -> Pair<V> {
        // SAFETY: register arithmetic only.
        unsafe {
            let [a, b, c, d] = [
                self.center(v[0]),
                self.center(v[1]),
                self.center(v[2]),
                self.center(v[3]),
            ];
            Pair {
                deviations: if St::CENTERED {
                    slot_sum([a, b, c, d])
                } else {
                    V::splat(0.0)
                },
                squares: d.mul_add(d, c.mul_add(c, b.mul_add(b, a.mul(a)))),
            }
        }
    }
}

/// Per-lane sums over a row of `cols` values, for [`Vector::reduce_add_rows`]. `UNROLL`
/// accumulators, none summing more than a quarter of the row's vectors (so at most 64 terms
/// per lane in a short row).
///
/// # Safety
/// `row` is valid for `cols` reads, `cols` is of width `W`, and `V`'s set is available.
#[inline(always)]
unsafe fn row_lane_sums<V: Vector, W: RowWidth, S: Source, L: LaneSums<V>>(
    row: S,
    cols: usize,
    sums: L,
) -> Pair<V> {
    // SAFETY: every load lies in `0..cols`.
    unsafe {
        if W::VECTORS == UNROLL {
            // (Spelled out: an intrinsic in a closure can be compiled as a call.)
            let n = V::LANES;
            return sums.group([
                row.load::<V>(0, n),
                row.load::<V>(n, n),
                row.load::<V>(2 * n, n),
                row.load::<V>(3 * n, n),
            ]);
        }
        let mut acc = [Pair::<V>::zero(); UNROLL];
        let mut j = 0;
        if V::SPECIALIZE && cols >= UNROLL * V::LANES {
            // The first vectors start the accumulators: an add to 0 is an instruction LLVM
            // cannot drop (0 + -0 is +0). Worth its code on the x86 sets only.
            for (u, acc) in acc.iter_mut().enumerate() {
                *acc = sums.start(row.load::<V>(u * V::LANES, V::LANES));
            }
            j = UNROLL * V::LANES;
        }
        while j + UNROLL * V::LANES <= cols {
            for (u, acc) in acc.iter_mut().enumerate() {
                sums.add(acc, row.load::<V>(j + u * V::LANES, V::LANES), None);
            }
            j += UNROLL * V::LANES;
        }
        if !W::WHOLE {
            // Up to three whole vectors go to the other accumulators, the partial one to the
            // first.
            for acc in &mut acc[1..] {
                if j + V::LANES <= cols {
                    sums.add(acc, row.load::<V>(j, V::LANES), None);
                    j += V::LANES;
                }
            }
            if j < cols {
                let (v, mask) = load_masked::<V, S>(row, j, cols - j);
                sums.add(&mut acc[0], v, mask);
            }
        }
        add_slots(acc)
    }
}

/// The accumulators' deviations and squares, each added up by [`slot_sum`].
///
/// # Safety
/// `V`'s instruction set is available.
#[inline(always)]
unsafe fn add_slots<V: Vector>(acc: [Pair<V>; UNROLL]) -> Pair<V> {
    // SAFETY: register arithmetic only.
    unsafe {
        let [a, b, c, d] = acc;
        Pair {
            deviations: slot_sum([a.deviations, b.deviations, c.deviations, d.deviations]),
            squares: slot_sum([a.squares, b.squares, c.squares, d.squares]),
        }
    }
}

/// Prefetches the lines of a row of `cols` elements.
///
/// # Safety
/// `V`'s instruction set is available (a prefetch never faults).
#[inline(always)]
unsafe fn prefetch_row<V: Vector, S: Source>(row: S, cols: usize) {
    let line = LINE_BYTES / S::ELEMENT_BYTES;
    let mut i = 0;
    // SAFETY: prefetches only.
    unsafe {
        while i < cols {
            row.prefetch::<V>(i);
            i += line;
        }
        if cols > 0 {
            row.prefetch::<V>(cols - 1);
        }
    }
}
