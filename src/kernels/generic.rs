//! The kernel algorithms, written once over [`Vector`] and instantiated per instruction set by
//! [`super::kernel_set!`]. Everything here is `#[inline(always)]` so that it compiles inside the
//! caller's `#[target_feature]` context.
//!
//! Pointer arguments are valid for the lengths given; the safe wrappers in `kernels::mod` check
//! that before calling.

use super::vector::{MAX_LANES, Vector};
use super::{
    Affine, CACHED_GROUP, ColumnAffine, ColumnGeometry, ColumnStats, GroupStats, RowNormalize,
    Rows, Runs, Scaled, StatsOut, corrected, deviation_scale,
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

/// Walks every value of the runs as vectors, `UNROLL` at a time into independent accumulator
/// slots (hiding add latency): `step(slot, values, mask)` sees full vectors with `mask` None,
/// and each run's last partial vector loaded as 0 past its end with `mask` 1.0 on its lanes.
/// `flush` empties the slots into wider totals every `FOLD_VECTORS` vectors and at the end.
#[inline(always)]
unsafe fn walk_runs<V: Vector, A: Copy>(
    src: *const f32,
    runs: Runs,
    empty: A,
    step: impl Fn(&mut A, V, Option<V>),
    mut flush: impl FnMut(&mut [A; UNROLL]),
) {
    unsafe {
        let width = V::LANES * UNROLL;
        let mut slots = [empty; UNROLL];
        let mut pending = 0;
        for r in 0..runs.count {
            let run = src.add(r * runs.stride);
            let mut i = 0;
            while i + width <= runs.len {
                for (u, slot) in slots.iter_mut().enumerate() {
                    step(slot, V::load(run.add(i + u * V::LANES)), None);
                }
                i += width;
                pending += UNROLL;
                if pending >= FOLD_VECTORS {
                    flush(&mut slots);
                    slots = [empty; UNROLL];
                    pending = 0;
                }
            }
            while i < runs.len {
                let n = (runs.len - i).min(V::LANES);
                if n == V::LANES {
                    step(&mut slots[0], V::load(run.add(i)), None);
                } else {
                    step(
                        &mut slots[0],
                        V::load_partial(run.add(i), n),
                        Some(V::mask(n)),
                    );
                }
                i += n;
                pending += 1;
            }
            if pending >= FOLD_VECTORS {
                flush(&mut slots);
                slots = [empty; UNROLL];
                pending = 0;
            }
        }
        flush(&mut slots);
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

/// `sum(x - pivot)` over every run: the first pass, the one that reads memory.
#[inline(always)]
unsafe fn runs_sum<V: Vector>(src: *const f32, runs: Runs, pivot: f32) -> f64 {
    unsafe {
        let k = V::splat(pivot);
        let mut total = 0.0;
        walk_runs::<V, V>(
            src,
            runs,
            V::splat(0.0),
            |acc, v, mask| {
                let z = v.sub(k);
                *acc = acc.add(mask.map_or(z, |m| z.mul(m)));
            },
            |slots| total += lane_sum(slots),
        );
        total
    }
}

/// Largest `|x - pivot|` over every run (only needed to pick a scale for extreme data).
#[inline(always)]
unsafe fn runs_max_abs<V: Vector>(src: *const f32, runs: Runs, pivot: f32) -> f32 {
    unsafe {
        let k = V::splat(pivot);
        let mut max = 0.0f32;
        walk_runs::<V, V>(
            src,
            runs,
            V::splat(0.0),
            |acc, v, mask| {
                let z = v.sub(k).abs();
                *acc = acc.max(mask.map_or(z, |m| z.mul(m)));
            },
            |slots| {
                let m = slots[0]
                    .max(slots[1])
                    .max(slots[2].max(slots[3]))
                    .reduce_max();
                max = max.max(m);
            },
        );
        max
    }
}

/// `sum(d)` and `sum(d²)` of `d = (x - center) * scale` over every run (`d = x * scale` and no
/// `sum(d)` when not centering), where `center` is the first pass's mean rounded to f32: `x -
/// center` is exact near the mean, and `sum(d)` is what corrects that mean.
#[inline(always)]
unsafe fn runs_sum_squares<V: Vector, const CENTER: bool, const SCALED: bool>(
    src: *const f32,
    runs: Runs,
    center: f32,
    scale: f32,
) -> (f64, f64) {
    unsafe {
        let (c, s, zero) = (V::splat(center), V::splat(scale), V::splat(0.0));
        let (mut deviations, mut squares) = (0.0, 0.0);
        walk_runs::<V, (V, V)>(
            src,
            runs,
            (zero, zero),
            |acc, v, mask| {
                let d = if CENTER { v.sub(c) } else { v };
                let d = if SCALED { d.mul(s) } else { d };
                let d = mask.map_or(d, |m| d.mul(m));
                acc.1 = d.mul_add(d, acc.1);
                if CENTER {
                    acc.0 = acc.0.add(d);
                }
            },
            |slots| {
                deviations += lane_sum(&slots.map(|a| a.0));
                squares += lane_sum(&slots.map(|a| a.1));
            },
        );
        (deviations, squares)
    }
}

/// Smallest mean square taken without scaling: below it the squares of the smaller
/// deviations would already be losing bits to f32 subnormals.
const UNSCALED_MIN: f64 = 1.0 / (1u128 << 100) as f64;
const UNSCALED_MIN_F32: f32 = UNSCALED_MIN as f32;

/// The second pass, `(sum(d), sum(d²), scale)`: unscaled first (the common case, with no
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

/// Exact two-pass statistics of a group that fits in cache: the mean of `x - pivot`, then the
/// mean squared deviation from it (with the corrected two-pass refinement of mean and
/// variance). Memory is read once (the second pass hits cache), and there is no dependent
/// chain: every run adds to the same vector accumulators, with one horizontal reduction per
/// pass, which is what short rows and small planes are bound by.
#[inline(always)]
pub(crate) unsafe fn runs_moments<V: Vector>(
    src: *const f32,
    runs: Runs,
    pivot: f32,
) -> GroupStats {
    let count = runs.count * runs.len;
    if count == 0 {
        return GroupStats::unscaled(Moments::with_pivot(pivot));
    }
    unsafe {
        let inv_n = 1.0 / count as f64;
        let center = first_pass_mean(runs_sum::<V>(src, runs, pivot), inv_n, pivot);
        let second = second_pass::<V, true>(src, runs, center, inv_n);
        two_pass_stats(count, inv_n, center, second)
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

/// Statistics of a group of runs that is normalized right after: exact two-pass while the
/// group fits in cache (the second pass and the normalize pass then read cache, not memory),
/// one-pass Welford per run, merged, beyond.
#[inline(always)]
pub(crate) unsafe fn group_stats<V: Vector>(src: *const f32, runs: Runs, pivot: f32) -> GroupStats {
    unsafe {
        if runs.count * runs.len <= CACHED_GROUP {
            return runs_moments::<V>(src, runs, pivot);
        }
        let mut total = Moments::new();
        for r in 0..runs.count {
            let run = core::slice::from_raw_parts(src.add(r * runs.stride), runs.len);
            total.merge(&moments::<V>(run, pivot));
        }
        GroupStats::unscaled(total)
    }
}

/// Rows processed side by side: each row's statistics are one dependent chain (reduce,
/// scale, reduce, sqrt, divide) of ~200 cycles, so short rows are latency-bound unless several
/// chains run at once.
const ROW_BATCH: usize = 4;

/// Rows up to this long are batched (four of them still fit in L1 for the second pass).
const BATCHED_ROW: usize = 1024;

/// LayerNorm (`center`) or RMSNorm of every row, statistics and normalize fused in one call so
/// short rows pay no per-row dispatch. `mean` and `inv_std`, when given, receive each row's.
#[inline(always)]
pub(crate) unsafe fn normalize_rows<V: Vector>(
    src: *const f32,
    dst: *mut f32,
    p: &Rows<'_>,
    mut stats: StatsOut<'_>,
    stream: bool,
) {
    unsafe {
        let runs = Runs::row(p.cols);
        let batch = if p.cols <= BATCHED_ROW { ROW_BATCH } else { 1 };
        let inv_n = 1.0 / p.cols as f64;
        let mut first = 0;
        while first < p.rows {
            let b = batch.min(p.rows - first);
            let row = |i: usize| src.add((first + i) * p.cols);
            // Stage by stage across the batch, so the rows' chains overlap.
            let mut center = [0.0f32; ROW_BATCH];
            let mut second = [(0.0f64, 0.0f64, 1.0f32); ROW_BATCH];
            if p.center && p.cols <= CACHED_GROUP {
                for (i, c) in center.iter_mut().enumerate().take(b) {
                    let pivot = pivot_from(row(i).read());
                    *c = first_pass_mean(runs_sum::<V>(row(i), runs, pivot), inv_n, pivot);
                }
                for i in 0..b {
                    second[i] = second_pass::<V, true>(row(i), runs, center[i], inv_n);
                }
            } else if !p.center && p.cols <= CACHED_GROUP {
                for (i, second) in second.iter_mut().enumerate().take(b) {
                    *second = second_pass::<V, false>(row(i), runs, 0.0, inv_n);
                }
            }
            for i in 0..b {
                let (k, r, inv, mean) = if p.cols > CACHED_GROUP {
                    // Too long to read twice from cache: one Welford pass.
                    let pivot = if p.center {
                        pivot_from(row(i).read())
                    } else {
                        0.0
                    };
                    let st = group_stats::<V>(row(i), runs, pivot);
                    if p.center {
                        let inv = st.var.inv_sqrt_plus(p.eps);
                        (st.moments.pivot(), st.moments.mean_offset(), inv, st.mean)
                    } else {
                        let m = &st.moments;
                        let ms = m.var_raw() + m.mean_offset() * m.mean_offset();
                        (
                            0.0,
                            0.0,
                            Scaled {
                                value: ms,
                                scale: 1.0,
                            }
                            .inv_sqrt_plus(p.eps),
                            0.0,
                        )
                    }
                } else if p.center {
                    let st = two_pass_stats(p.cols, inv_n, center[i], second[i]);
                    let inv = st.var.inv_sqrt_plus(p.eps);
                    (st.moments.pivot(), st.moments.mean_offset(), inv, st.mean)
                } else {
                    let (_, squares, s) = second[i];
                    let ms = Scaled {
                        value: (squares * inv_n) as f32,
                        scale: s,
                    };
                    (0.0, 0.0, ms.inv_sqrt_plus(p.eps), 0.0)
                };
                if let Some((means, inv_stds)) = &mut stats {
                    (means[first + i], inv_stds[first + i]) = (mean, inv);
                }
                let params = RowNormalize {
                    pivot: k,
                    mean: r,
                    inv_std: deviation_scale(inv),
                    gamma: p.gamma,
                    beta: p.beta,
                };
                normalize_row::<V>(
                    row(i),
                    dst.add((first + i) * p.cols),
                    p.cols,
                    &params,
                    stream,
                );
            }
            first += b;
        }
    }
}

/// Runs `op(values, offset, lanes)` over `len` values: whole vectors with `lanes = LANES` (a
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
    op: impl Fn(V, usize, usize) -> V,
) {
    unsafe {
        let mut i = 0;
        if stream && V::STREAMS {
            let align = V::LANES * 4;
            let head = ((align - dst as usize % align) % align / 4).min(len);
            if head > 0 {
                op(V::load_partial(src, head), 0, head).store_partial(dst, head);
                i = head;
            }
            while i + V::LANES <= len {
                op(V::load(src.add(i)), i, V::LANES).store_stream(dst.add(i));
                i += V::LANES;
            }
            V::fence();
        }
        const PAIR: usize = 2;
        while i + PAIR * V::LANES <= len {
            let a = V::load(src.add(i));
            let b = V::load(src.add(i + V::LANES));
            op(a, i, V::LANES).store(dst.add(i));
            op(b, i + V::LANES, V::LANES).store(dst.add(i + V::LANES));
            i += PAIR * V::LANES;
        }
        while i + V::LANES <= len {
            op(V::load(src.add(i)), i, V::LANES).store(dst.add(i));
            i += V::LANES;
        }
        if i < len {
            let n = len - i;
            op(V::load_partial(src.add(i), n), i, n).store_partial(dst.add(i), n);
        }
    }
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
pub(crate) unsafe fn affine<V: Vector>(
    src: *const f32,
    dst: *mut f32,
    len: usize,
    p: Affine,
    stream: bool,
) {
    unsafe {
        let (k, s, b) = (V::splat(p.pivot), V::splat(p.scale), V::splat(p.shift));
        map::<V>(src, dst, len, stream, |x, _, _| x.sub(k).mul_add(s, b));
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
        match (p.gamma, p.beta) {
            (Some(g), Some(b)) => {
                row::<V, true, true>(src, dst, len, p, stream, g.as_ptr(), b.as_ptr())
            }
            (Some(g), None) => {
                row::<V, true, false>(src, dst, len, p, stream, g.as_ptr(), ptr::null())
            }
            (None, Some(b)) => {
                row::<V, false, true>(src, dst, len, p, stream, ptr::null(), b.as_ptr())
            }
            (None, None) => {
                row::<V, false, false>(src, dst, len, p, stream, ptr::null(), ptr::null())
            }
        }
    }
}

#[inline(always)]
unsafe fn row<V: Vector, const GAMMA: bool, const BETA: bool>(
    src: *const f32,
    dst: *mut f32,
    len: usize,
    p: &RowNormalize<'_>,
    stream: bool,
    gamma: *const f32,
    beta: *const f32,
) {
    unsafe {
        let (k, r, inv) = (V::splat(p.pivot), V::splat(p.mean), V::splat(p.inv_std));
        map::<V>(src, dst, len, stream, |x, i, lanes| {
            let u = x.sub(k).sub(r);
            let scale = if GAMMA {
                inv.mul(load_param::<V>(gamma, i, lanes))
            } else {
                inv
            };
            if BETA {
                u.mul_add(scale, load_param::<V>(beta, i, lanes))
            } else {
                u.mul(scale)
            }
        });
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
        let (k, s, b) = (p.pivot.as_ptr(), p.scale.as_ptr(), p.shift.as_ptr());
        let column = |x: V, j: usize, _: usize| {
            x.sub(V::load(k.add(j)))
                .mul_add(V::load(s.add(j)), V::load(b.add(j)))
        };
        for r in 0..g.rows {
            let (src_row, dst_row) = (src.add(r * g.stride), dst.add(r * g.stride));
            if p.row_scale.is_none() && p.row_shift.is_none() {
                map::<V>(src_row, dst_row, g.width, stream, column);
            } else {
                let rs = V::splat(p.row_scale.map_or(1.0, |v| v[r]));
                let rb = V::splat(p.row_shift.map_or(0.0, |v| v[r]));
                map::<V>(src_row, dst_row, g.width, stream, |x, j, n| {
                    column(x, j, n).mul_add(rs, rb)
                });
            }
        }
    }
}
