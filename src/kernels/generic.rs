//! The kernel algorithms, written once over [`Vector`] and instantiated per instruction set by
//! [`super::kernel_set!`]. Everything here is `#[inline(always)]` so that it compiles inside the
//! caller's `#[target_feature]` context.
//!
//! Pointer arguments are valid for the lengths given; the safe wrappers in `kernels::mod` check
//! that before calling.

use super::vector::{MAX_LANES, ROWS, Vector};
use super::{
    Affine, ColumnAffine, ColumnGeometry, ColumnStats, ColumnSums, GroupStats, RowNormalize, Rows,
    Runs, Scaled, StatsOut, Sums, corrected, deviation_scale,
};
use crate::moments::Moments;
use crate::moments::pivot_from;
use core::ptr;

/// Independent accumulators per step: hides the latency of Welford's dependent chain.
const UNROLL: usize = 4;

/// Steps (of `UNROLL` vectors) accumulated before a block is merged into the total. Bounds the
/// per-lane count, so the rounding error of each Welford update stays a few ulps however long
/// the slice, and the counts stay exact in `f32`.
const BLOCK_STEPS: usize = 256;

/// One Welford update of every lane by `z`, with `rn = 1 / count` (count after the update).
/// The variance is kept as `M2 / count` rather than `M2`, so it cannot overflow for |x| up to
/// ~1e19 however many values are accumulated.
#[inline(always)]
unsafe fn welford<V: Vector>(mean: &mut V, var: &mut V, z: V, rn: V) {
    unsafe {
        let d = z.sub(*mean);
        *mean = d.mul_add(rn, *mean);
        let e = z.sub(*mean);
        // var += (d * e - var) / count; d * e >= 0 since the new mean lies between z and the old.
        *var = d.mul_sub(e, *var).mul_add(rn, *var);
    }
}

/// Chan's merge of two accumulators holding the same count.
#[inline(always)]
unsafe fn merge_equal<V: Vector>(a: (V, V), b: (V, V)) -> (V, V) {
    unsafe {
        let half = V::splat(0.5);
        let mean = a.0.add(b.0).mul(half);
        let d = b.0.sub(a.0).mul(half);
        (mean, a.1.add(b.1).mul_add(half, d.mul(d)))
    }
}

/// Welford moments of `x` around `pivot`, one pass.
#[inline(always)]
pub(crate) unsafe fn moments<V: Vector>(x: &[f32], pivot: f32) -> Moments {
    let mut total = Moments::new();
    for block in x.chunks(V::LANES * UNROLL * BLOCK_STEPS) {
        total.merge(&unsafe { block_moments::<V>(block, pivot) });
    }
    total
}

#[inline(always)]
unsafe fn block_moments<V: Vector>(x: &[f32], pivot: f32) -> Moments {
    unsafe {
        let k = V::splat(pivot);
        let zero = V::splat(0.0);
        let width = V::LANES * UNROLL;
        let steps = x.len() / width;
        let src = x.as_ptr();

        let mut acc = [(zero, zero); UNROLL];
        for step in 0..steps {
            let rn = V::splat(1.0 / (step + 1) as f32);
            let base = src.add(step * width);
            for (u, (mean, var)) in acc.iter_mut().enumerate() {
                welford(mean, var, V::load(base.add(u * V::LANES)).sub(k), rn);
            }
        }
        let (mut mean, mut var) =
            merge_equal(merge_equal(acc[0], acc[1]), merge_equal(acc[2], acc[3]));

        // Whole vectors left over continue the merged accumulator (all lanes share one count).
        let mut per_lane = steps * UNROLL;
        let mut done = steps * width;
        while done + V::LANES <= x.len() {
            per_lane += 1;
            let rn = V::splat(1.0 / per_lane as f32);
            welford(&mut mean, &mut var, V::load(src.add(done)).sub(k), rn);
            done += V::LANES;
        }

        let mut total = Moments::with_pivot(pivot);
        if per_lane > 0 {
            let mut means = [0.0f32; MAX_LANES];
            let mut vars = [0.0f32; MAX_LANES];
            mean.store(means.as_mut_ptr());
            var.store(vars.as_mut_ptr());
            // Pairwise tree over the lanes: equal counts at every level.
            let mut width = V::LANES;
            while width > 1 {
                width /= 2;
                for j in 0..width {
                    (means[j], vars[j]) =
                        merge_equal((means[j], vars[j]), (means[j + width], vars[j + width]));
                }
            }
            total = Moments::from_parts((per_lane * V::LANES) as u64, pivot, means[0], vars[0]);
        }
        for &value in &x[done..] {
            total.push(value);
        }
        total
    }
}

/// A power of two `s` that brings `max_abs * s` into [1, 2) when `max_abs` lies outside
/// [2^-40, 2^40], else 1: squares of scaled deviations then neither overflow (|x| up to 1e18
/// and beyond) nor sink into subnormals (|x| down to 1e-20 and below).
#[inline(always)]
fn square_scale(max_abs: f32) -> f32 {
    const LOW: f32 = 1.0 / 1_099_511_627_776.0; // 2^-40
    const HIGH: f32 = 1_099_511_627_776.0; // 2^40
    if !max_abs.is_finite() || max_abs == 0.0 || (LOW..=HIGH).contains(&max_abs) {
        return 1.0;
    }
    let exponent = ((max_abs.to_bits() >> 23) & 0xff) as i32 - 127;
    f32::from_bits(((127 - exponent).clamp(1, 254) as u32) << 23)
}

/// Vectors summed per lane before the partial sums are folded into an f64 total: bounds the
/// f32 rounding error of long sums to that of 256-term sums.
const FOLD_VECTORS: usize = 256;

/// Where [`walk_runs`] empties its accumulator slots. A trait with an always-inlined method
/// rather than a closure: rustc compiles a closure called from code inlined in several places
/// as a function of its own, without the caller's instruction set, and every intrinsic in it
/// becomes a call (the AVX2 row kernels did so once per row before).
trait Flush<V, A> {
    unsafe fn flush(&mut self, slots: &[A; UNROLL]);
}

/// f64 totals of `sum(d)` and `sum(d²)` from `(sum, squares)` slots.
#[derive(Default)]
struct SumTotals {
    deviations: f64,
    squares: f64,
}

impl<V: Vector> Flush<V, (V, V)> for SumTotals {
    #[inline(always)]
    unsafe fn flush(&mut self, slots: &[(V, V); UNROLL]) {
        unsafe {
            self.deviations += lane_sum(&slots.map(|a| a.0));
            self.squares += lane_sum(&slots.map(|a| a.1));
        }
    }
}

/// The largest lane of any slot.
struct MaxTotal(f32);

impl<V: Vector> Flush<V, V> for MaxTotal {
    #[inline(always)]
    unsafe fn flush(&mut self, slots: &[V; UNROLL]) {
        unsafe {
            let m = slots[0]
                .max(slots[1])
                .max(slots[2].max(slots[3]))
                .reduce_max();
            self.0 = self.0.max(m);
        }
    }
}

/// What [`walk_runs`] does at each run and each vector: a trait with always-inlined methods
/// rather than closures, for the reason given at [`Flush`] (a closure here, grown by one
/// prefetch, was compiled out of line on AVX2 and made RMSNorm 20x slower). The per-vector
/// methods are always inlined on x86 only: elsewhere no instruction set is at stake, and
/// leaving it to LLVM keeps the microcontroller builds 7% (Cortex-M4) to 23% (RV32) smaller.
trait Walk<V> {
    /// An accumulator slot.
    type Slot: Copy;
    /// What a run's steps share.
    type Run;
    /// Run `r`'s state.
    unsafe fn begin(&self, r: usize) -> Self::Run;
    /// The vector at `offset` from the group's first value: `lanes = LANES` (a constant the
    /// step's branches fold away) for whole vectors, fewer for each run's last partial one.
    unsafe fn step(&self, slot: &mut Self::Slot, run: &Self::Run, offset: usize, lanes: usize);
}

/// Walks every value of the runs as vectors, `UNROLL` at a time into independent accumulator
/// slots (hiding add latency). `totals` takes in the slots every `FOLD_VECTORS` vectors and at
/// the end.
#[inline(always)]
unsafe fn walk_runs<V: Vector, W: Walk<V>>(
    runs: Runs,
    empty: W::Slot,
    walk: &W,
    totals: &mut impl Flush<V, W::Slot>,
) {
    let width = V::LANES * UNROLL;
    let mut slots = [empty; UNROLL];
    let (mut r, mut i) = (0, 0);
    let mut state = (runs.count > 0).then(|| unsafe { walk.begin(0) });
    loop {
        let mut pending = 0;
        while let Some(run_state) = &state {
            let run = r * runs.stride;
            while i + width <= runs.len && pending < FOLD_VECTORS {
                for (u, slot) in slots.iter_mut().enumerate() {
                    unsafe { walk.step(slot, run_state, run + i + u * V::LANES, V::LANES) };
                }
                i += width;
                pending += UNROLL;
            }
            if pending >= FOLD_VECTORS {
                break;
            }
            while i < runs.len {
                let n = (runs.len - i).min(V::LANES);
                unsafe { walk.step(&mut slots[0], run_state, run + i, n) };
                i += n;
                pending += 1;
            }
            (r, i) = (r + 1, 0);
            state = (r < runs.count).then(|| unsafe { walk.begin(r) });
            if pending >= FOLD_VECTORS {
                break;
            }
        }
        unsafe { totals.flush(&slots) };
        slots = [empty; UNROLL];
        if state.is_none() {
            return;
        }
    }
}

/// The `lanes` values at `src` (0 past them), with the mask of those lanes when `lanes <
/// LANES` (to zero what the caller derives from the padding).
#[inline(always)]
unsafe fn load_lanes<V: Vector>(src: *const f32, lanes: usize) -> (V, Option<V>) {
    unsafe {
        if lanes == V::LANES {
            (V::load(src), None)
        } else {
            (V::load_partial(src, lanes), Some(V::mask(lanes)))
        }
    }
}

/// Stores the first `lanes` lanes of `v` to `dst`.
#[inline(always)]
unsafe fn store_lanes<V: Vector>(v: V, dst: *mut f32, lanes: usize) {
    unsafe {
        if lanes == V::LANES {
            v.store(dst)
        } else {
            v.store_partial(dst, lanes)
        }
    }
}

/// Sum of the lanes of every slot, widened to f64.
#[inline(always)]
unsafe fn lane_sum<V: Vector>(slots: &[V; UNROLL]) -> f64 {
    unsafe {
        f64::from(
            slots[0]
                .add(slots[1])
                .add(slots[2].add(slots[3]))
                .reduce_add(),
        )
    }
}

/// Largest `|x - pivot|` over every run (only needed to pick a scale for extreme data).
#[inline(always)]
unsafe fn runs_max_abs<V: Vector>(src: *const f32, runs: Runs, pivot: f32) -> f32 {
    unsafe {
        let mut max = MaxTotal(0.0);
        let walk = MaxAbs(src, V::splat(pivot));
        walk_runs::<V, _>(runs, V::splat(0.0), &walk, &mut max);
        max.0
    }
}

/// `slot = max(slot, |x - pivot|)` over the values at `.0`, pivot `.1`.
struct MaxAbs<V>(*const f32, V);

impl<V: Vector> Walk<V> for MaxAbs<V> {
    type Slot = V;
    type Run = ();
    #[inline(always)]
    unsafe fn begin(&self, _: usize) {}
    #[cfg_attr(target_arch = "x86_64", inline(always))]
    #[cfg_attr(not(target_arch = "x86_64"), inline)]
    unsafe fn step(&self, slot: &mut V, _: &(), at: usize, lanes: usize) {
        unsafe {
            let (v, mask) = load_lanes::<V>(self.0.add(at), lanes);
            let z = v.sub(self.1).abs();
            *slot = slot.max(mask.map_or(z, |m| z.mul(m)));
        }
    }
}

/// Adds `d = (v - center) * scale` (`d = v * scale` when not centering; `scale` 1 when not
/// `SCALED`), masked to the loaded lanes, to `sum(d)` and `d²` to `sum(d²)` (`acc.0` unused
/// when not centering).
#[inline(always)]
unsafe fn accumulate<V: Vector, const CENTER: bool, const SCALED: bool>(
    acc: &mut (V, V),
    (v, mask): (V, Option<V>),
    center: V,
    scale: V,
) {
    unsafe {
        let d = if CENTER { v.sub(center) } else { v };
        let d = if SCALED { d.mul(scale) } else { d };
        let d = mask.map_or(d, |m| d.mul(m));
        acc.1 = d.mul_add(d, acc.1);
        if CENTER {
            acc.0 = acc.0.add(d);
        }
    }
}

/// `sum(d)` and `sum(d²)` of `d = (x - center) * scale` over every run (`d = x * scale` and no
/// `sum(d)` when not centering).
#[inline(always)]
unsafe fn runs_sum_squares<V: Vector, const CENTER: bool, const SCALED: bool>(
    src: *const f32,
    runs: Runs,
    center: f32,
    scale: f32,
) -> (f64, f64) {
    unsafe {
        let zero = V::splat(0.0);
        let mut totals = SumTotals::default();
        let walk = SumSquares::<V, CENTER, SCALED>(src, V::splat(center), V::splat(scale));
        walk_runs::<V, _>(runs, (zero, zero), &walk, &mut totals);
        (totals.deviations, totals.squares)
    }
}

/// [`accumulate`] over the values at `.0`, center `.1`, scale `.2`.
struct SumSquares<V, const CENTER: bool, const SCALED: bool>(*const f32, V, V);

impl<V: Vector, const CENTER: bool, const SCALED: bool> Walk<V> for SumSquares<V, CENTER, SCALED> {
    type Slot = (V, V);
    type Run = ();
    #[inline(always)]
    unsafe fn begin(&self, _: usize) {}
    #[cfg_attr(target_arch = "x86_64", inline(always))]
    #[cfg_attr(not(target_arch = "x86_64"), inline)]
    unsafe fn step(&self, slot: &mut (V, V), _: &(), at: usize, lanes: usize) {
        unsafe {
            let loaded = load_lanes::<V>(self.0.add(at), lanes);
            accumulate::<V, CENTER, SCALED>(slot, loaded, self.1, self.2);
        }
    }
}

/// Smallest mean square taken without scaling: below it the squares of the smaller
/// deviations would already be losing bits to f32 subnormals.
pub(crate) const UNSCALED_MIN: f64 = 1.0 / (1u128 << 100) as f64;
const UNSCALED_MIN_F32: f32 = UNSCALED_MIN as f32;

/// Whether one-pass sums around pivots give a group's mean and variance as exactly as a
/// centered second pass: the mean square (`squares * inv_n`) is where f32 squares keep full
/// precision (none overflowed or went subnormal), and the pivots lie within a quarter of a
/// standard deviation of the means (`offsets`, the sum over the group's columns of
/// `sum(d)² / n`, at most a seventeenth of `squares`). Then the squares summed exceed the
/// centered ones by at most 1/16 (their rounding error grows by as much), removing the offsets
/// cancels no bit, and the error of `sum(d)`, whose partial sums drift by the offset at each
/// term (at most 64 terms per accumulator lane), stays within 8u of the standard deviation.
pub(crate) fn one_pass_accepted(offsets: f64, squares: f64, inv_n: f64) -> bool {
    let mean_square = squares * inv_n;
    mean_square.is_finite() && mean_square >= UNSCALED_MIN && 17.0 * offsets <= squares
}

/// The centered pass, `(sum(d), sum(d²), scale)`: unscaled first (the common case, with no
/// dependence on a maximum); redone with a power-of-two scale from the largest magnitude when
/// the mean square overflowed or fell where f32 squares lose precision (|x| beyond ~1e19 or
/// below ~1e-30), so no square overflows or goes subnormal on any finite input.
#[inline(always)]
unsafe fn second_pass<V: Vector, const CENTER: bool>(
    src: *const f32,
    runs: Runs,
    center: f32,
    inv_n: f64,
) -> (f64, f64, f32) {
    unsafe {
        let (d, q) = runs_sum_squares::<V, CENTER, false>(src, runs, center, 1.0);
        if q.is_finite() && q * inv_n >= UNSCALED_MIN {
            return (d, q, 1.0);
        }
        let s = square_scale(runs_max_abs::<V>(
            src,
            runs,
            if CENTER { center } else { 0.0 },
        ));
        if s == 1.0 {
            return (d, q, 1.0);
        }
        let (d, q) = runs_sum_squares::<V, CENTER, true>(src, runs, center, s);
        (d, q, s)
    }
}

impl Sums {
    fn accepts(&self, inv_n: f64) -> bool {
        one_pass_accepted(
            self.deviations * self.deviations * inv_n,
            self.squares,
            inv_n,
        )
    }

    /// The sums as a (centered, unscaled) second pass's result.
    fn second(&self) -> (f64, f64, f32) {
        (self.deviations, self.squares, 1.0)
    }
}

/// Values averaged for a group's pivot estimate: for data without a trend its offset from the
/// mean is then ~1/16 of a standard deviation, and the sums are accepted unless it is 4 times
/// that.
const PIVOT_SAMPLE: usize = 256;

/// Pieces the pivot's sample of a larger group is taken in, spread evenly over it.
const PIVOT_PIECES: usize = 16;

/// The mean of a sample of a group's values, rounded to f32: all of them up to
/// `PIVOT_SAMPLE`, else with `SPREAD` `PIVOT_PIECES` pieces spread evenly over the group (so
/// that a trend across it, such as an image brighter at the top, does not bias the sample), and
/// without it the first `PIVOT_SAMPLE` values. Rows of features take the first values: they
/// have no such trend, and reading ahead of the pass breaks the memory stream a row pass is
/// (LayerNorm 8192x2048: 1.09 vs 1.27 x copy, alternating runs). A pivot within a fraction of a
/// standard deviation of the group's mean, so sums around it lose almost nothing to
/// cancellation ([`Sums::accepts`] checks that for each group). The group holds at least one
/// value.
#[inline(always)]
unsafe fn pivot_estimate<V: Vector, const SPREAD: bool>(src: *const f32, runs: Runs) -> f32 {
    unsafe {
        let total = runs.count * runs.len;
        let (mut sum, mut count) = (V::splat(0.0), 0);
        let mut add = |at: usize, n: usize| {
            let mut i = 0;
            while i < n {
                let lanes = (n - i).min(V::LANES);
                sum = sum.add(load_lanes::<V>(src.add(at + i), lanes).0);
                i += lanes;
            }
            count += n;
        };
        if !SPREAD {
            add(0, runs.len.min(PIVOT_SAMPLE));
        } else if total <= PIVOT_SAMPLE {
            for r in 0..runs.count {
                add(r * runs.stride, runs.len);
            }
        } else {
            let spacing = total / PIVOT_PIECES;
            for i in 0..PIVOT_PIECES {
                let (r, offset) = (i * spacing / runs.len, i * spacing % runs.len);
                let n = (PIVOT_SAMPLE / PIVOT_PIECES).min(runs.len - offset);
                add(r * runs.stride + offset, n);
            }
        }
        pivot_from(sum.reduce_add() / count as f32)
    }
}

/// What [`sums_while`] writes at each vector of the group before (`()`: nothing).
trait Write<V> {
    /// What a run's writes share.
    type Run;
    unsafe fn begin(&self, r: usize) -> Self::Run;
    /// Writes the `lanes` values at `offset` from the group's first value.
    unsafe fn write(&self, run: &Self::Run, offset: usize, lanes: usize);
}

impl<V> Write<V> for () {
    type Run = ();
    #[inline(always)]
    unsafe fn begin(&self, _: usize) {}
    #[cfg_attr(target_arch = "x86_64", inline(always))]
    #[cfg_attr(not(target_arch = "x86_64"), inline)]
    unsafe fn write(&self, _: &(), _: usize, _: usize) {}
}

/// Sums `d = x - pivot` and `d²` over the group at `src` (`pivot` 0 when not centering) while
/// `write` writes the group before it: one stream that reads the next group from memory while
/// the current one goes out, as a copy's reads and writes overlap.
#[inline(always)]
unsafe fn sums_while<V: Vector, const CENTER: bool, const SPREAD: bool>(
    src: *const f32,
    runs: Runs,
    write: &impl Write<V>,
) -> Sums {
    unsafe {
        let pivot = if CENTER {
            pivot_estimate::<V, SPREAD>(src, runs)
        } else {
            0.0
        };
        let zero = V::splat(0.0);
        let mut totals = SumTotals::default();
        let walk = SumsWhile::<V, _, CENTER> {
            src,
            pivot: V::splat(pivot),
            write,
        };
        walk_runs::<V, _>(runs, (zero, zero), &walk, &mut totals);
        Sums {
            pivot,
            deviations: totals.deviations,
            squares: totals.squares,
        }
    }
}

/// The [`Walk`] of [`sums_while`]: each vector written, then the next group's summed.
struct SumsWhile<'a, V, W, const CENTER: bool> {
    src: *const f32,
    pivot: V,
    write: &'a W,
}

impl<V: Vector, W: Write<V>, const CENTER: bool> Walk<V> for SumsWhile<'_, V, W, CENTER> {
    type Slot = (V, V);
    type Run = W::Run;
    #[inline(always)]
    unsafe fn begin(&self, r: usize) -> W::Run {
        unsafe { self.write.begin(r) }
    }
    #[cfg_attr(target_arch = "x86_64", inline(always))]
    #[cfg_attr(not(target_arch = "x86_64"), inline)]
    unsafe fn step(&self, slot: &mut (V, V), run: &W::Run, at: usize, lanes: usize) {
        unsafe {
            self.write.write(run, at, lanes);
            let loaded = load_lanes::<V>(self.src.add(at), lanes);
            accumulate::<V, CENTER, false>(slot, loaded, self.pivot, self.pivot);
        }
    }
}

/// One-pass sums of the group at `src`, which is normalized right after: what a group's
/// statistics start from when no group before it is being written.
#[inline(always)]
pub(crate) unsafe fn group_sums<V: Vector>(src: *const f32, runs: Runs) -> Sums {
    unsafe { sums_while::<V, true, true>(src, runs, &()) }
}

/// A group's mean and variance from its one-pass sums ([`Sums::accepts`]), or else from a
/// centered second pass over the group (usually in cache, just read): the corrected two-pass
/// algorithm, centered on the first pass's mean rounded to f32.
#[inline(always)]
pub(crate) unsafe fn group_stats<V: Vector>(src: *const f32, runs: Runs, sums: Sums) -> GroupStats {
    let count = runs.count * runs.len;
    if count == 0 {
        return GroupStats::unscaled(Moments::with_pivot(sums.pivot));
    }
    let inv_n = 1.0 / count as f64;
    if sums.accepts(inv_n) {
        return two_pass_stats(count, inv_n, sums.pivot, sums.second());
    }
    let center = first_pass_mean(sums.deviations, inv_n, sums.pivot);
    let second = unsafe { second_pass::<V, true>(src, runs, center, inv_n) };
    two_pass_stats(count, inv_n, center, second)
}

/// A group's mean square (RMSNorm) from its one-pass sum of squares, or else from a second,
/// scaled pass where that sum overflowed or lost precision.
#[inline(always)]
unsafe fn mean_square<V: Vector>(src: *const f32, runs: Runs, sums: Sums, inv_n: f64) -> Scaled {
    let (squares, scale) = if sums.squares.is_finite() && sums.squares * inv_n >= UNSCALED_MIN {
        (sums.squares, 1.0)
    } else {
        let (_, q, s) = unsafe { second_pass::<V, false>(src, runs, 0.0, inv_n) };
        (q, s)
    };
    Scaled {
        value: (squares * inv_n) as f32,
        scale,
    }
}

/// `y = (x - pivot) * scale + shift` over every run of the group at `src`/`dst`, each run with
/// its own `affine(r)`; with `next`, the next group's sums (same geometry) are taken in the
/// same stream.
#[inline(always)]
pub(crate) unsafe fn apply_runs<V: Vector, S: Vector>(
    src: *const f32,
    dst: *mut f32,
    runs: Runs,
    affine: &dyn Fn(usize) -> Affine,
    next: Option<*const f32>,
    stream: bool,
) -> Option<Sums> {
    unsafe {
        let Some(next) = next else {
            for r in 0..runs.count {
                let at = r * runs.stride;
                self::affine::<S>(src.add(at), dst.add(at), runs.len, affine(r), stream);
            }
            return None;
        };
        let write = RunsAffine { src, dst, affine };
        Some(sums_while::<V, true, true>(next, runs, &write))
    }
}

/// Writes `y = (x - pivot) * scale + shift` with each run's `affine(r)`.
struct RunsAffine<'a> {
    src: *const f32,
    dst: *mut f32,
    affine: &'a dyn Fn(usize) -> Affine,
}

impl<V: Vector> Write<V> for RunsAffine<'_> {
    type Run = (V, V, V);
    #[inline(always)]
    unsafe fn begin(&self, r: usize) -> (V, V, V) {
        let a = (self.affine)(r);
        unsafe { (V::splat(a.pivot), V::splat(a.scale), V::splat(a.shift)) }
    }
    #[cfg_attr(target_arch = "x86_64", inline(always))]
    #[cfg_attr(not(target_arch = "x86_64"), inline)]
    unsafe fn write(&self, &(k, s, b): &(V, V, V), at: usize, lanes: usize) {
        unsafe {
            prefetch_output::<V>(self.dst, at);
            let (x, _) = load_lanes::<V>(self.src.add(at), lanes);
            store_lanes(x.sub(k).mul_add(s, b), self.dst.add(at), lanes);
        }
    }
}

/// The first pass's mean rounded to f32, to center the second pass on (0 where it is not
/// finite: the second pass then carries the inf or NaN through).
#[inline(always)]
fn first_pass_mean(sum: f64, inv_n: f64, pivot: f32) -> f32 {
    pivot_from((f64::from(pivot) + sum * inv_n) as f32)
}

/// Assembles a group's statistics from the second pass around `pivot`.
#[inline(always)]
fn two_pass_stats(count: usize, inv_n: f64, pivot: f32, second: (f64, f64, f32)) -> GroupStats {
    let s = second.2;
    let (offset64, scaled_var) = corrected(inv_n, 0.0, second);
    let unscaled_var = scaled_var / (f64::from(s) * f64::from(s));
    let moments = Moments::from_parts(count as u64, pivot, offset64 as f32, unscaled_var as f32);
    GroupStats {
        moments,
        var: Scaled {
            value: scaled_var as f32,
            scale: s,
        },
        mean: (f64::from(pivot) + offset64) as f32,
    }
}

/// Rows up to this long are normalized a block at a time: each row alone is too short to
/// hide the latency of its statistics (reductions, square root, division).
const SHORT_ROW: usize = 256;

/// LayerNorm (`center`) or RMSNorm of every row, statistics and normalize fused in one call.
/// `mean` and `inv_std`, when given, receive each row's.
#[inline(always)]
pub(crate) unsafe fn normalize_rows<V: Vector>(
    src: *const f32,
    dst: *mut f32,
    p: &Rows<'_>,
    mut stats: StatsOut<'_>,
    stream: bool,
) {
    unsafe {
        if p.cols <= SHORT_ROW {
            short_rows::<V>(src, dst, p, &mut stats, stream);
        } else {
            long_rows::<V>(src, dst, p, &mut stats, stream);
        }
    }
}

/// Records row `i`'s mean and inverse std where asked to.
#[inline(always)]
fn report(stats: &mut StatsOut<'_>, i: usize, mean: f32, inv_std: f32) {
    if let Some((means, inv_stds)) = stats {
        (means[i], inv_stds[i]) = (mean, inv_std);
    }
}

/// Long rows: each row is written in the pass that takes the next one's sums, so rows stream
/// through like a copy.
#[inline(always)]
unsafe fn long_rows<V: Vector>(
    src: *const f32,
    dst: *mut f32,
    p: &Rows<'_>,
    stats: &mut StatsOut<'_>,
    stream: bool,
) {
    unsafe {
        if p.rows == 0 {
            return;
        }
        let row = |i: usize| src.add(i * p.cols);
        let out = |i: usize| dst.add(i * p.cols);
        let mut sums = row_sums::<V>(row(0), Runs::row(p.cols), p.center);
        for i in 0..p.rows {
            let (params, mean, inv) = row_stats::<V>(row(i), p, sums);
            report(stats, i, mean, inv);
            if i + 1 == p.rows {
                normalize_row::<V>(row(i), out(i), p.cols, &params, stream);
            } else if p.center {
                sums = normalize_row_while::<V, true>(row(i), out(i), p.cols, &params, row(i + 1));
            } else {
                sums = normalize_row_while::<V, false>(row(i), out(i), p.cols, &params, row(i + 1));
            }
        }
    }
}

/// Short rows, a block of `ROWS` at a time and each stage across the block's rows, so that
/// their dependency chains overlap and their reductions share one add tree
/// ([`Vector::reduce_add_rows`]): the rows' means (the pivots), their sums around the pivots,
/// the statistics in f32 where those sums are accepted (the general f64 path otherwise), then
/// the normalize pass over the block, still in L1. While the block is summed, the next one is
/// prefetched: a block's stages are too long for the hardware to start its loads in time.
#[inline(always)]
unsafe fn short_rows<V: Vector>(
    src: *const f32,
    dst: *mut f32,
    p: &Rows<'_>,
    stats: &mut StatsOut<'_>,
    stream: bool,
) {
    unsafe {
        // The common widths of 4, 8 or 16 whole vectors get copies with every loop's count
        // known at compile time (LayerNorm 4096x64 with AVX-512: 1.9 vs 2.5 x copy).
        if !V::SPECIALIZE {
            return short_blocks::<V, false, 0>(src, dst, p, stats, stream);
        }
        let vectors = p.cols.is_multiple_of(V::LANES).then(|| p.cols / V::LANES);
        match vectors {
            Some(4) => short_blocks::<V, true, 4>(src, dst, p, stats, stream),
            Some(8) => short_blocks::<V, true, 8>(src, dst, p, stats, stream),
            Some(16) => short_blocks::<V, true, 16>(src, dst, p, stats, stream),
            _ if p.cols.is_multiple_of(UNROLL * V::LANES) => {
                short_blocks::<V, true, 0>(src, dst, p, stats, stream)
            }
            _ => short_blocks::<V, false, 0>(src, dst, p, stats, stream),
        }
    }
}

/// [`short_rows`], `WHOLE` as in [`row_lane_sums`]; rows of `VECTORS` whole vectors, or any
/// length where `VECTORS` is 0.
#[inline(always)]
unsafe fn short_blocks<V: Vector, const WHOLE: bool, const VECTORS: usize>(
    src: *const f32,
    dst: *mut f32,
    p: &Rows<'_>,
    stats: &mut StatsOut<'_>,
    stream: bool,
) {
    unsafe {
        let cols = if VECTORS > 0 {
            VECTORS * V::LANES
        } else {
            p.cols
        };
        let row = |i: usize| src.add(i * cols);
        let inv_n = 1.0 / cols as f32;
        let zero = V::splat(0.0);
        let mut first = 0;
        while first < p.rows {
            let block = ROWS.min(p.rows - first);
            let mut pivots = [0.0f32; ROWS];
            if p.center {
                let mut totals = [zero; ROWS];
                for (i, total) in totals.iter_mut().enumerate().take(block) {
                    *total = row_lane_sums::<V, false, false, WHOLE>(row(first + i), cols, zero).0;
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
                    prefetch_row::<V>(row(next), cols);
                }
                let pivot = V::splat(pivots[i]);
                (deviations[i], squares[i]) = if p.center {
                    row_lane_sums::<V, true, true, WHOLE>(row(first + i), cols, pivot)
                } else {
                    row_lane_sums::<V, true, false, WHOLE>(row(first + i), cols, pivot)
                };
            }
            let deviations = V::reduce_add_rows(&deviations);
            let squares = V::reduce_add_rows(&squares);
            // Every row's parameters as its one-pass sums give them, then the rows whose sums
            // fall short redone by the general path, out of this loop (with that path inside
            // it, LayerNorm 4096x64 measured 1.65 against 1.40 x copy).
            let mut inv_stds = block_inv_stds::<V>(&deviations, &squares, inv_n, p);
            let mut params = [(0.0f32, 0.0f32, 0.0f32); ROWS];
            let mut means = [0.0f32; ROWS];
            let mut rejected = 0u32;
            for i in 0..block {
                let (pivot, offset) = if p.center {
                    (pivots[i], deviations[i] * inv_n)
                } else {
                    (0.0, 0.0)
                };
                let accepted = short_sums_accepted(deviations[i], squares[i], inv_n);
                rejected |= u32::from(!accepted) << i;
                params[i] = (pivot, offset, deviation_scale(inv_stds[i]));
                means[i] = pivot + offset;
            }
            while rejected != 0 {
                let i = rejected.trailing_zeros() as usize;
                rejected &= rejected - 1;
                let sums = Sums {
                    pivot: pivots[i],
                    deviations: f64::from(deviations[i]),
                    squares: f64::from(squares[i]),
                };
                let (row_params, mean, inv) = row_stats::<V>(row(first + i), p, sums);
                params[i] = (row_params.pivot, row_params.mean, deviation_scale(inv));
                (means[i], inv_stds[i]) = (mean, inv);
            }
            if stats.is_some() {
                for i in 0..block {
                    report(stats, first + i, means[i], inv_stds[i]);
                }
            }
            let (src, dst) = (row(first), dst.add(first * cols));
            let params = &params[..block];
            normalize_block::<V>(src, dst, cols, params, (p.gamma, p.beta), stream);
            first += block;
        }
    }
}

/// Consecutive rows of `cols` values, row `i` with `params[i]`'s `(pivot, mean offset,
/// deviation scale)`: `y = ((x - pivot) - mean) * scale * gamma[j] + beta[j]`, gamma and beta
/// optional and matched once for all the rows (matched per row, 64-value rows measured 0.3 x
/// copy slower).
#[inline(always)]
unsafe fn normalize_block<V: Vector>(
    src: *const f32,
    dst: *mut f32,
    cols: usize,
    params: &[(f32, f32, f32)],
    (gamma, beta): (Option<&[f32]>, Option<&[f32]>),
    stream: bool,
) {
    unsafe {
        let (s, d) = (src, dst);
        let gb = (gamma, beta);
        match (gamma.is_some(), beta.is_some()) {
            (true, true) => normalize_block_with::<V, true, true>(s, d, cols, params, gb, stream),
            (true, false) => normalize_block_with::<V, true, false>(s, d, cols, params, gb, stream),
            (false, true) => normalize_block_with::<V, false, true>(s, d, cols, params, gb, stream),
            (false, false) => {
                normalize_block_with::<V, false, false>(s, d, cols, params, gb, stream)
            }
        }
    }
}

/// [`normalize_block`] with gamma and beta known present or absent at compile time.
#[inline(always)]
unsafe fn normalize_block_with<V: Vector, const GAMMA: bool, const BETA: bool>(
    src: *const f32,
    dst: *mut f32,
    cols: usize,
    params: &[(f32, f32, f32)],
    (gamma, beta): (Option<&[f32]>, Option<&[f32]>),
    stream: bool,
) {
    unsafe {
        for (i, &(pivot, mean, inv_std)) in params.iter().enumerate() {
            let op = RowOp::<V>::new(&RowNormalize {
                pivot,
                mean,
                inv_std,
                gamma,
                beta,
            });
            let at = i * cols;
            let op = RowOpWith::<V, GAMMA, BETA>(&op);
            map::<V>(src.add(at), dst.add(at), cols, stream, &op);
        }
    }
}

/// Each row's `1 / sqrt(variance + eps)` from its one-pass sums, for the rows whose sums are
/// accepted: `LANES` rows per square root and division.
#[inline(always)]
unsafe fn block_inv_stds<V: Vector>(
    deviations: &[f32; ROWS],
    squares: &[f32; ROWS],
    inv_n: f32,
    p: &Rows<'_>,
) -> [f32; ROWS] {
    unsafe {
        let (n, eps, zero) = (V::splat(inv_n), V::splat(p.eps), V::splat(0.0));
        let mut inv_stds = [0.0f32; ROWS];
        let mut i = 0;
        while i < ROWS {
            let mean_square = V::load(squares.as_ptr().add(i)).mul(n);
            let var = if p.center {
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

/// Whether a short row's one-pass sums give its statistics ([`one_pass_accepted`]; a short
/// row's sums are single f32 sums, so the statistics are then exact). The test is taken in f32
/// here (in f64 it measured ~3% slower on 64-value rows): a product that overflows rejects, one
/// that underflows was far below the bound anyway.
#[inline(always)]
fn short_sums_accepted(deviations: f32, squares: f32, inv_n: f32) -> bool {
    let mean_square = squares * inv_n;
    mean_square.is_finite()
        & (mean_square >= UNSCALED_MIN_F32)
        & (17.0 * (deviations * (deviations * inv_n)) <= squares)
}

/// Per-lane sums over a row, for [`Vector::reduce_add_rows`]: of `x` (without `SQUARES`; the
/// first vector), or of `d = x - pivot` and of `d²` (with `SQUARES`; `d = x`, and no sum of
/// it, without `CENTER`). `UNROLL` accumulators, none summing more than a quarter of the row's
/// vectors (so at most 64 terms per lane in a short row). `WHOLE`: the row is whole groups of
/// `UNROLL` vectors (as most model widths are), so the code for the rest is left out.
#[inline(always)]
unsafe fn row_lane_sums<V: Vector, const SQUARES: bool, const CENTER: bool, const WHOLE: bool>(
    row: *const f32,
    cols: usize,
    pivot: V,
) -> (V, V) {
    unsafe {
        let zero = V::splat(0.0);
        let mut acc = [(zero, zero); UNROLL];
        let mut j = 0;
        if V::SPECIALIZE && cols >= UNROLL * V::LANES {
            // The first vectors start the accumulators: an add to 0 is an instruction LLVM
            // cannot drop (0 + -0 is +0). Worth its code on the x86 sets only.
            for (u, acc) in acc.iter_mut().enumerate() {
                let v = V::load(row.add(u * V::LANES));
                let d = if CENTER { v.sub(pivot) } else { v };
                *acc = match (SQUARES, CENTER) {
                    (false, _) => (v, zero),
                    (true, true) => (d, d.mul(d)),
                    (true, false) => (zero, d.mul(d)),
                };
            }
            j = UNROLL * V::LANES;
        }
        while j + UNROLL * V::LANES <= cols {
            for (u, acc) in acc.iter_mut().enumerate() {
                lane_step::<V, SQUARES, CENTER>(
                    acc,
                    (V::load(row.add(j + u * V::LANES)), None),
                    pivot,
                );
            }
            j += UNROLL * V::LANES;
        }
        if !WHOLE {
            // Up to three whole vectors go to the other accumulators, the partial one to the
            // first.
            for acc in &mut acc[1..] {
                if j + V::LANES <= cols {
                    lane_step::<V, SQUARES, CENTER>(acc, (V::load(row.add(j)), None), pivot);
                    j += V::LANES;
                }
            }
            if j < cols {
                let loaded = load_lanes::<V>(row.add(j), cols - j);
                lane_step::<V, SQUARES, CENTER>(&mut acc[0], loaded, pivot);
            }
        }
        let [a, b, c, d] = acc;
        (
            a.0.add(b.0).add(c.0.add(d.0)),
            a.1.add(b.1).add(c.1.add(d.1)),
        )
    }
}

/// One vector into a [`row_lane_sums`] accumulator.
#[inline(always)]
unsafe fn lane_step<V: Vector, const SQUARES: bool, const CENTER: bool>(
    acc: &mut (V, V),
    loaded: (V, Option<V>),
    pivot: V,
) {
    unsafe {
        if SQUARES {
            accumulate::<V, CENTER, false>(acc, loaded, pivot, pivot);
        } else {
            acc.0 = acc.0.add(loaded.0);
        }
    }
}

/// Prefetches the lines of a row of `cols` values.
#[inline(always)]
unsafe fn prefetch_row<V: Vector>(row: *const f32, cols: usize) {
    unsafe {
        let mut i = 0;
        while i < cols {
            V::prefetch(row.add(i));
            i += LINE;
        }
        if cols > 0 {
            V::prefetch(row.add(cols - 1));
        }
    }
}

/// A row's one-pass sums: around a pivot estimate for LayerNorm, of squares for RMSNorm.
#[inline(always)]
unsafe fn row_sums<V: Vector>(row: *const f32, runs: Runs, center: bool) -> Sums {
    unsafe {
        if center {
            sums_while::<V, true, false>(row, runs, &())
        } else {
            sums_while::<V, false, false>(row, runs, &())
        }
    }
}

/// A row's normalization from its sums, with the mean and inverse std to report.
#[inline(always)]
unsafe fn row_stats<'a, V: Vector>(
    row: *const f32,
    p: &Rows<'a>,
    sums: Sums,
) -> (RowNormalize<'a>, f32, f32) {
    unsafe {
        let runs = Runs::row(p.cols);
        let (pivot, mean, inv, reported) = if p.center {
            let st = group_stats::<V>(row, runs, sums);
            let inv = st.var.inv_sqrt_plus(p.eps);
            (st.moments.pivot(), st.moments.mean_offset(), inv, st.mean)
        } else {
            let ms = mean_square::<V>(row, runs, sums, 1.0 / p.cols as f64);
            (0.0, 0.0, ms.inv_sqrt_plus(p.eps), 0.0)
        };
        let params = RowNormalize {
            pivot,
            mean,
            inv_std: deviation_scale(inv),
            gamma: p.gamma,
            beta: p.beta,
        };
        (params, reported, inv)
    }
}

/// What [`map`] applies: the outputs for the `lanes` values `x` at offset `i`. A trait with an
/// always-inlined method rather than a closure: rustc compiles a closure that `map` calls from
/// several places as a function of its own, without the caller's instruction set, and every
/// intrinsic in it becomes a call (AVX2 and channels-last AVX-512 paths did so before).
trait Lanewise<V: Vector> {
    unsafe fn at(&self, x: V, i: usize, lanes: usize) -> V;
}

/// `y = (x - pivot) * scale + shift`, splatted.
struct AffineOp<V>(V, V, V);

impl<V: Vector> Lanewise<V> for AffineOp<V> {
    #[inline(always)]
    unsafe fn at(&self, x: V, _: usize, _: usize) -> V {
        unsafe { x.sub(self.0).mul_add(self.1, self.2) }
    }
}

/// A row's normalization with gamma and beta known present or absent at compile time.
struct RowOpWith<'a, V, const GAMMA: bool, const BETA: bool>(&'a RowOp<V>);

impl<V: Vector, const GAMMA: bool, const BETA: bool> Lanewise<V> for RowOpWith<'_, V, GAMMA, BETA> {
    #[inline(always)]
    unsafe fn at(&self, x: V, i: usize, lanes: usize) -> V {
        unsafe { self.0.at::<GAMMA, BETA>(x, i, lanes) }
    }
}

/// Runs `op.at(values, offset, lanes)` over `len` values: whole vectors with `lanes = LANES` (a
/// constant the op's branches fold away), then the tail as a partial vector of `lanes` values,
/// rounded exactly like the others. `src` may equal `dst` (in place). With `stream` (outputs
/// far larger than the caches) whole vectors are stored non-temporally, from the first aligned
/// one, so the output lines are not read in before being overwritten.
#[inline(always)]
unsafe fn map<V: Vector>(
    src: *const f32,
    dst: *mut f32,
    len: usize,
    stream: bool,
    op: &impl Lanewise<V>,
) {
    unsafe {
        let mut i = 0;
        if !V::SPECIALIZE {
            // The compact form: `op` inlined twice rather than six times.
            while i < len {
                let n = (len - i).min(V::LANES);
                if n == V::LANES {
                    op.at(V::load(src.add(i)), i, V::LANES).store(dst.add(i));
                } else {
                    op.at(V::load_partial(src.add(i), n), i, n)
                        .store_partial(dst.add(i), n);
                }
                i += n;
            }
            return;
        }
        // Long runs first store up to a vector-aligned output, so that no later store splits
        // a cache line (streaming stores need the alignment).
        if len >= ALIGNED_RUN * V::LANES || (stream && V::STREAMS) {
            let head = aligned_head::<V>(dst, len);
            if head > 0 {
                op.at(V::load_partial(src, head), 0, head)
                    .store_partial(dst, head);
                i = head;
            }
        }
        if stream && V::STREAMS {
            while i + V::LANES <= len {
                op.at(V::load(src.add(i)), i, V::LANES)
                    .store_stream(dst.add(i));
                i += V::LANES;
            }
            V::fence();
        }
        const PAIR: usize = 2;
        while i + PAIR * V::LANES <= len {
            prefetch_output::<V>(dst, i);
            prefetch_output::<V>(dst, i + V::LANES);
            let a = V::load(src.add(i));
            let b = V::load(src.add(i + V::LANES));
            op.at(a, i, V::LANES).store(dst.add(i));
            op.at(b, i + V::LANES, V::LANES)
                .store(dst.add(i + V::LANES));
            i += PAIR * V::LANES;
        }
        while i + V::LANES <= len {
            op.at(V::load(src.add(i)), i, V::LANES).store(dst.add(i));
            i += V::LANES;
        }
        if i < len {
            let n = len - i;
            op.at(V::load_partial(src.add(i), n), i, n)
                .store_partial(dst.add(i), n);
        }
    }
}

/// Asks for the output line `OUTPUT_AHEAD` values past `dst + at`, once per line's worth of
/// offsets. An ordinary store must first read its line in, and left to the store that read
/// stalls the loop; asked for ahead, it overlaps the work before. In one process against the
/// same code without it: GroupNorm 0.79x the time (NCHW) and 0.83x (NHWC), InstanceNorm 0.82x,
/// BatchNorm inference 0.89-0.95x, LayerNorm 128x4096 0.91x.
#[inline(always)]
unsafe fn prefetch_output<V: Vector>(dst: *mut f32, at: usize) {
    if once_per_line::<V>(at) {
        unsafe { V::prefetch(dst.wrapping_add(at + OUTPUT_AHEAD)) }
    }
}

/// Values in a 64-byte cache line.
const LINE: usize = 64 / size_of::<f32>();

/// For offsets that step a vector at a time from 0: true at one offset of each line's worth,
/// where a loop issues that line's prefetch.
#[inline(always)]
fn once_per_line<V: Vector>(offset: usize) -> bool {
    offset % LINE < V::LANES
}

/// How far ahead `prefetch_output` asks: 2.5 KiB, two rows of GroupNorm NHWC's 320 channels
/// (one row ahead, or four, measured the same).
const OUTPUT_AHEAD: usize = 640;

/// Vectors a run must hold for `map` to align its stores first.
const ALIGNED_RUN: usize = 64;

/// Values before `dst + head` is aligned to a whole vector (0 when it already is), at most
/// `len`.
#[inline(always)]
fn aligned_head<V: Vector>(dst: *const f32, len: usize) -> usize {
    let align = V::LANES * size_of::<f32>();
    let misalignment = dst as usize % align;
    ((align - misalignment) % align / size_of::<f32>()).min(len)
}

/// Loads the `lanes` values of a per-element parameter at `offset` (0 past them).
#[inline(always)]
unsafe fn load_param<V: Vector>(param: *const f32, offset: usize, lanes: usize) -> V {
    unsafe {
        if lanes == V::LANES {
            V::load(param.add(offset))
        } else {
            V::load_partial(param.add(offset), lanes)
        }
    }
}

/// `y = (x - pivot) * scale + shift` with scalar parameters.
#[inline(always)]
unsafe fn affine<V: Vector>(src: *const f32, dst: *mut f32, len: usize, p: Affine, stream: bool) {
    unsafe {
        let (k, s, b) = (V::splat(p.pivot), V::splat(p.scale), V::splat(p.shift));
        map::<V>(src, dst, len, stream, &AffineOp(k, s, b));
    }
}

/// `y = ((x - pivot) - mean) * inv_std * gamma[i] + beta[i]`, gamma and beta optional.
#[inline(always)]
pub(crate) unsafe fn normalize_row<V: Vector>(
    src: *const f32,
    dst: *mut f32,
    len: usize,
    p: &RowNormalize<'_>,
    stream: bool,
) {
    unsafe {
        let params = [(p.pivot, p.mean, p.inv_std)];
        normalize_block::<V>(src, dst, len, &params, (p.gamma, p.beta), stream);
    }
}

/// `normalize_row` while taking the sums of the next row, at `next`.
#[inline(always)]
unsafe fn normalize_row_while<V: Vector, const CENTER: bool>(
    src: *const f32,
    dst: *mut f32,
    len: usize,
    p: &RowNormalize<'_>,
    next: *const f32,
) -> Sums {
    unsafe {
        let op = RowOp::<V>::new(p);
        match (p.gamma.is_some(), p.beta.is_some()) {
            (true, true) => row_while::<V, CENTER, true, true>(src, dst, len, &op, next),
            (true, false) => row_while::<V, CENTER, true, false>(src, dst, len, &op, next),
            (false, true) => row_while::<V, CENTER, false, true>(src, dst, len, &op, next),
            (false, false) => row_while::<V, CENTER, false, false>(src, dst, len, &op, next),
        }
    }
}

#[inline(always)]
unsafe fn row_while<V: Vector, const CENTER: bool, const GAMMA: bool, const BETA: bool>(
    src: *const f32,
    dst: *mut f32,
    len: usize,
    op: &RowOp<V>,
    next: *const f32,
) -> Sums {
    unsafe {
        let write = RowWrite::<V, GAMMA, BETA> { src, dst, op };
        sums_while::<V, CENTER, false>(next, Runs::row(len), &write)
    }
}

/// Writes a row's normalization.
struct RowWrite<'a, V, const GAMMA: bool, const BETA: bool> {
    src: *const f32,
    dst: *mut f32,
    op: &'a RowOp<V>,
}

impl<V: Vector, const GAMMA: bool, const BETA: bool> Write<V> for RowWrite<'_, V, GAMMA, BETA> {
    type Run = ();
    #[inline(always)]
    unsafe fn begin(&self, _: usize) {}
    #[cfg_attr(target_arch = "x86_64", inline(always))]
    #[cfg_attr(not(target_arch = "x86_64"), inline)]
    unsafe fn write(&self, _: &(), at: usize, lanes: usize) {
        unsafe {
            prefetch_output::<V>(self.dst, at);
            let (x, _) = load_lanes::<V>(self.src.add(at), lanes);
            let y = self.op.at::<GAMMA, BETA>(x, at, lanes);
            store_lanes(y, self.dst.add(at), lanes);
        }
    }
}

/// A row's normalization, parameters splatted once.
struct RowOp<V> {
    pivot: V,
    mean: V,
    inv_std: V,
    gamma: *const f32,
    beta: *const f32,
}

impl<V: Vector> RowOp<V> {
    #[inline(always)]
    unsafe fn new(p: &RowNormalize<'_>) -> Self {
        unsafe {
            RowOp {
                pivot: V::splat(p.pivot),
                mean: V::splat(p.mean),
                inv_std: V::splat(p.inv_std),
                gamma: p.gamma.map_or(ptr::null(), |g| g.as_ptr()),
                beta: p.beta.map_or(ptr::null(), |b| b.as_ptr()),
            }
        }
    }

    /// The `lanes` outputs at offset `i` from the inputs `x`, with gamma and beta (known
    /// present or absent at compile time).
    #[inline(always)]
    unsafe fn at<const GAMMA: bool, const BETA: bool>(&self, x: V, i: usize, lanes: usize) -> V {
        unsafe {
            let u = x.sub(self.pivot).sub(self.mean);
            let scale = if GAMMA {
                self.inv_std.mul(load_param::<V>(self.gamma, i, lanes))
            } else {
                self.inv_std
            };
            if BETA {
                u.mul_add(scale, load_param::<V>(self.beta, i, lanes))
            } else {
                u.mul(scale)
            }
        }
    }
}

/// Walks every row's `g.width` columns as vectors: `step(values, column, lanes)`, the last
/// vector of a row partial (0 past the row's end; the column arrays are padded, so the padding
/// lanes compute harmless values into padding slots).
#[inline(always)]
unsafe fn walk_columns<V: Vector>(
    src: *const f32,
    g: ColumnGeometry,
    mut step: impl FnMut(V, usize),
) {
    unsafe {
        for r in 0..g.rows {
            let row = src.add(r * g.stride);
            let mut j = 0;
            while j + V::LANES <= g.width {
                step(V::load(row.add(j)), j);
                j += V::LANES;
            }
            if j < g.width {
                step(V::load_partial(row.add(j), g.width - j), j);
            }
        }
    }
}

/// `acc[j] += f(x[r][j], j)` down every column.
#[inline(always)]
unsafe fn column_accumulate<V: Vector>(
    src: *const f32,
    g: ColumnGeometry,
    acc: *mut f32,
    f: impl Fn(V, V, usize) -> V,
) {
    unsafe {
        walk_columns::<V>(src, g, |x, j| {
            f(x, V::load(acc.add(j)), j).store(acc.add(j))
        });
    }
}

/// Corrected two-pass statistics down each column of a block that fits in cache (the
/// channels-last counterpart of `runs_moments`): pass 1 sums `x - pivot[j]` while reading
/// memory; pass 2 sums the deviations `d` from that mean and `d²` from cache, unscaled, and is
/// redone with per-column power-of-two scales only where a column's result overflowed or fell
/// where f32 squares lose precision. Without `center` the pivots and offsets are 0 and `sq`
/// holds the sum of squares. All arrays hold `g.width` rounded up to `MAX_LANES`.
#[inline(always)]
pub(crate) unsafe fn column_stats<V: Vector>(
    src: *const f32,
    g: ColumnGeometry,
    center: bool,
    a: &mut ColumnStats<'_>,
) {
    unsafe {
        let width = g.width.next_multiple_of(MAX_LANES);
        let (k, off) = (a.pivot.as_mut_ptr(), a.offset.as_mut_ptr());
        let (dev, sq, scale) = (a.dev.as_mut_ptr(), a.sq.as_mut_ptr(), a.scale.as_mut_ptr());
        for j in 0..width {
            (*off.add(j), *dev.add(j), *sq.add(j), *scale.add(j)) = (0.0, 0.0, 0.0, 1.0);
        }
        let inv_rows = 1.0 / g.rows as f32;
        if center {
            column_accumulate::<V>(src, g, off, |x, acc, j| acc.add(x.sub(V::load(k.add(j)))));
            // Pass 2 centers on the first pass's mean, rounded: x - mean is exact near it.
            for j in 0..width {
                *k.add(j) = pivot_from(*k.add(j) + *off.add(j) * inv_rows);
                *off.add(j) = 0.0;
            }
        }
        column_squares::<V, false>(src, g, center, a);
        let in_range = |q: f32| q.is_finite() && q * inv_rows >= UNSCALED_MIN_F32;
        if a.sq[..g.width].iter().all(|&q| in_range(q)) {
            return;
        }
        // Rare: extreme magnitudes. Scales from each column's largest |x - pivot|.
        for j in 0..width {
            *scale.add(j) = 0.0;
        }
        column_accumulate::<V>(src, g, scale, |x, acc, j| {
            let z = if center { x.sub(V::load(k.add(j))) } else { x };
            acc.max(z.abs())
        });
        for j in 0..width {
            *scale.add(j) = square_scale(*scale.add(j));
            (*dev.add(j), *sq.add(j)) = (0.0, 0.0);
        }
        column_squares::<V, true>(src, g, center, a);
    }
}

/// One pass down each column of a block: adds `sum(x - pivot[j])` to `dev[j]` and
/// `sum((x - pivot[j])²)` to `sq[j]`, in f32 over at most `SUM_ROWS` rows at a time (four rows
/// per step, so each accumulator is loaded and stored once per four rows), folded into the f64
/// totals after each. The f32 arrays hold `g.width` rounded up to `MAX_LANES`.
#[inline(always)]
pub(crate) unsafe fn column_sums<V: Vector>(
    src: *const f32,
    g: ColumnGeometry,
    s: &mut ColumnSums<'_>,
) {
    unsafe {
        let width = g.width.next_multiple_of(MAX_LANES);
        let k = s.pivot.as_ptr();
        let (dev32, sq32) = (s.dev32.as_mut_ptr(), s.sq32.as_mut_ptr());
        let (dev, sq) = (s.dev.as_mut_ptr(), s.sq.as_mut_ptr());
        let mut r0 = 0;
        while r0 < g.rows {
            let rows = SUM_ROWS.min(g.rows - r0);
            for j in 0..width {
                (*dev32.add(j), *sq32.add(j)) = (0.0, 0.0);
            }
            let row = |r: usize| src.wrapping_add((r0 + r) * g.stride);
            let mut r = 0;
            while r < rows {
                let step = if rows - r >= 4 { 4 } else { 1 };
                let mut j = 0;
                while j < g.width {
                    // Padding lanes read nothing and sum `0 - pivot` into padding slots.
                    let lanes = (g.width - j).min(V::LANES);
                    // The rows PREFETCH_ROWS ahead, a line at a time among the loads: the
                    // hardware prefetchers fall behind four rows read side by side. (Issued
                    // all at once before a step's loads, GroupNorm NHWC took 1.11x the time.)
                    if once_per_line::<V>(j) {
                        for i in 0..4 {
                            V::prefetch(row(r + PREFETCH_ROWS + i).wrapping_add(j));
                        }
                    }
                    let pivot = V::load(k.add(j));
                    let d = |i: usize| load_lanes::<V>(row(r + i).add(j), lanes).0.sub(pivot);
                    let (mut sum, mut squares) = (V::load(dev32.add(j)), V::load(sq32.add(j)));
                    if step == 4 {
                        let (d0, d1, d2, d3) = (d(0), d(1), d(2), d(3));
                        sum = sum.add(d0.add(d1).add(d2.add(d3)));
                        let q = d0.mul_add(d0, d1.mul(d1)).add(d2.mul_add(d2, d3.mul(d3)));
                        squares = squares.add(q);
                    } else {
                        let d0 = d(0);
                        sum = sum.add(d0);
                        squares = d0.mul_add(d0, squares);
                    }
                    sum.store(dev32.add(j));
                    squares.store(sq32.add(j));
                    j += lanes;
                }
                r += step;
            }
            for j in 0..g.width {
                *dev.add(j) += f64::from(*dev32.add(j));
                *sq.add(j) += f64::from(*sq32.add(j));
            }
            r0 += rows;
        }
    }
}

/// How far ahead `column_sums` prefetches, in rows: the next step's four (GroupNorm NHWC,
/// alternating in one process: 0.98x the time of 8 rows ahead, 1.04x at 16).
const PREFETCH_ROWS: usize = 4;

/// Rows summed in f32 before a column's sums are folded into f64 (see `column_sums`).
const SUM_ROWS: usize = 64;

/// Pass 2 of `column_stats`: `dev[j] += d`, `sq[j] += d²` for `d = (x - pivot[j]) * scale[j]`.
#[inline(always)]
unsafe fn column_squares<V: Vector, const SCALED: bool>(
    src: *const f32,
    g: ColumnGeometry,
    center: bool,
    a: &mut ColumnStats<'_>,
) {
    unsafe {
        let (k, s) = (a.pivot.as_ptr(), a.scale.as_ptr());
        let (dev, sq) = (a.dev.as_mut_ptr(), a.sq.as_mut_ptr());
        walk_columns::<V>(src, g, |x, j| {
            let d = if center { x.sub(V::load(k.add(j))) } else { x };
            let d = if SCALED { d.mul(V::load(s.add(j))) } else { d };
            d.mul_add(d, V::load(sq.add(j))).store(sq.add(j));
            if center {
                V::load(dev.add(j)).add(d).store(dev.add(j));
            }
        });
    }
}

/// `y[r][j] = ((x[r][j] - pivot[j]) * scale[j] + shift[j]) * row_scale[r] + row_shift[r]`, where
/// absent row parameters mean 1 and 0.
#[inline(always)]
pub(crate) unsafe fn column_affine<V: Vector>(
    src: *const f32,
    dst: *mut f32,
    g: ColumnGeometry,
    p: &ColumnAffine<'_>,
    stream: bool,
) {
    unsafe {
        let column = ColumnOp(p.pivot.as_ptr(), p.scale.as_ptr(), p.shift.as_ptr());
        for r in 0..g.rows {
            let (src_row, dst_row) = (src.add(r * g.stride), dst.add(r * g.stride));
            if p.row_scale.is_none() && p.row_shift.is_none() {
                map::<V>(src_row, dst_row, g.width, stream, &column);
            } else {
                let rs = V::splat(p.row_scale.map_or(1.0, |v| v[r]));
                let rb = V::splat(p.row_shift.map_or(0.0, |v| v[r]));
                map::<V>(
                    src_row,
                    dst_row,
                    g.width,
                    stream,
                    &RowScaled(&column, rs, rb),
                );
            }
        }
    }
}

/// `y = (x - pivot[j]) * scale[j] + shift[j]`, per column `j`. Parameters are loaded for
/// exactly the lanes stored: `map` may start a row with a partial vector (to align its
/// stores), so later vectors need not sit on multiples of `LANES` and a whole-vector load
/// could run past the arrays.
struct ColumnOp(*const f32, *const f32, *const f32);

impl<V: Vector> Lanewise<V> for ColumnOp {
    #[inline(always)]
    unsafe fn at(&self, x: V, j: usize, lanes: usize) -> V {
        unsafe {
            let pivot = load_param::<V>(self.0, j, lanes);
            let scale = load_param::<V>(self.1, j, lanes);
            let shift = load_param::<V>(self.2, j, lanes);
            x.sub(pivot).mul_add(scale, shift)
        }
    }
}

/// A column op, then `y * row_scale + row_shift`.
struct RowScaled<'a, V>(&'a ColumnOp, V, V);

impl<V: Vector> Lanewise<V> for RowScaled<'_, V> {
    #[inline(always)]
    unsafe fn at(&self, x: V, j: usize, lanes: usize) -> V {
        unsafe { Lanewise::<V>::at(self.0, x, j, lanes).mul_add(self.1, self.2) }
    }
}
