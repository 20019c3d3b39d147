//! A group's one-pass sums around its pivot, taken alone or in the same stream that writes the
//! group before it, and the group's statistics from them (or from a centered second pass,
//! usually from cache, where they fall short).

use super::Kernel;
use super::pivot::{Sample, pivot_estimate};
use super::seam::Source;
use super::walk::{
    MaxAbs, MaxTotal, MeanSquare, Pair, Runs, Statistic, SumSquares, SumTotals, Variance, Walk,
    walk_runs,
};
use crate::simd::{Arch, Vector};
use crate::stats::{GroupStats, Moments, Scaled, SecondPass, Sums, UNSCALED_MIN_F32, square_scale};

/// What [`sums_while`] writes at each vector of the group before (`()`: nothing).
pub(crate) trait Write<V> {
    /// What a run's writes share.
    type Run;
    /// # Safety
    /// `r` is a run of the group written, and `V`'s instruction set is available.
    unsafe fn begin(&self, r: usize) -> Self::Run;
    /// Writes the `lanes` values at `offset` from the group's first value.
    ///
    /// # Safety
    /// `offset..offset + lanes` lies in a run of the group written, and `V`'s instruction set
    /// is available.
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

/// Sums `d = x - pivot` and `d²` over the group at `src` (`d = x` and no pivot for
/// [`MeanSquare`]) while `write` writes the group before it: one stream that reads the next
/// group from memory while the current one goes out, as a copy's reads and writes overlap.
///
/// # Safety
/// `src` is valid for reads over every run of `runs`, `write` may write a group of the same
/// geometry, and `V`'s instruction set is available.
#[inline(always)]
pub(crate) unsafe fn sums_while<V: Vector, St: Statistic, S: Source>(
    src: S,
    runs: Runs,
    sample: Sample,
    write: &impl Write<V>,
) -> Sums {
    // SAFETY: forwarded from the caller.
    unsafe {
        let pivot = if St::CENTERED {
            pivot_estimate::<V, S>(src, runs, sample)
        } else {
            0.0
        };
        let mut totals = SumTotals::default();
        let walk = SumsWhile::<V, S, _, St> {
            src,
            pivot: V::splat(pivot),
            write,
            statistic: core::marker::PhantomData,
        };
        walk_runs::<V, _>(runs, Pair::zero(), &walk, &mut totals);
        Sums {
            pivot,
            deviations: totals.deviations.value(),
            squares: totals.squares.value(),
        }
    }
}

/// The [`Walk`] of [`sums_while`]: each vector written, then the next group's summed.
struct SumsWhile<'a, V, S, W, St> {
    src: S,
    pivot: V,
    write: &'a W,
    statistic: core::marker::PhantomData<St>,
}

impl<V: Vector, S: Source, W: Write<V>, St: Statistic> Walk<V> for SumsWhile<'_, V, S, W, St> {
    type Slot = Pair<V>;
    type Run = W::Run;
    #[inline(always)]
    unsafe fn begin(&self, r: usize) -> W::Run {
        // SAFETY: the walk's contract, forwarded.
        unsafe { self.write.begin(r) }
    }
    #[cfg_attr(target_arch = "x86_64", inline(always))]
    #[cfg_attr(not(target_arch = "x86_64"), inline)]
    unsafe fn step(&self, slot: &mut Pair<V>, run: &W::Run, at: usize, lanes: usize) {
        // SAFETY: the walk's contract covers `at..at + lanes` in both groups.
        unsafe {
            self.write.write(run, at, lanes);
            let (v, mask) = super::lanes::load_masked::<V, S>(self.src, at, lanes);
            let d = if St::CENTERED { v.sub(self.pivot) } else { v };
            slot.add::<St>(d, mask);
        }
    }
}

/// One-pass sums of the group at `src`, which is normalized right after: what a group's
/// statistics start from when no group before it is being written.
pub(crate) struct GroupSums<S> {
    /// Valid for reads over every run.
    pub src: S,
    pub runs: Runs,
}

impl<S: Source> Kernel for GroupSums<S> {
    type Output = Sums;
    const ROUNDS_BF16: bool = S::ROUNDS_BF16;

    #[inline(always)]
    unsafe fn run<A: Arch>(self) -> Sums {
        // SAFETY: the kernel's contract, forwarded.
        unsafe { sums_while::<A::Wide, Variance, S>(self.src, self.runs, Sample::Spread, &()) }
    }
}

/// A group's mean and variance from its one-pass sums (where [`Sums::accepts`]), or else from
/// a centered second pass over the group: the corrected two-pass algorithm, centered on the
/// first pass's mean rounded to f32.
pub(crate) struct GroupStatsFromSums<S> {
    /// Valid for reads over every run.
    pub src: S,
    pub runs: Runs,
    pub sums: Sums,
}

impl<S: Source> Kernel for GroupStatsFromSums<S> {
    type Output = GroupStats;
    const ROUNDS_BF16: bool = S::ROUNDS_BF16;

    #[inline(always)]
    unsafe fn run<A: Arch>(self) -> GroupStats {
        // SAFETY: the kernel's contract, forwarded.
        unsafe { group_stats::<A::Wide, S>(self.src, self.runs, self.sums) }
    }
}

/// See [`GroupStatsFromSums`].
///
/// # Safety
/// `src` is valid for reads over every run, and `V`'s instruction set is available.
#[inline(always)]
pub(crate) unsafe fn group_stats<V: Vector, S: Source>(
    src: S,
    runs: Runs,
    sums: Sums,
) -> GroupStats {
    let count = runs.values();
    if count == 0 {
        return GroupStats::unscaled(Moments::with_pivot(sums.pivot));
    }
    let inv_n = 1.0 / count as f32;
    if sums.accepts(inv_n) {
        return GroupStats::from_second_pass(count, inv_n, sums.pivot, sums.as_second_pass());
    }
    let center = sums.mean(inv_n);
    // SAFETY: forwarded from the caller.
    let second = unsafe { second_pass::<V, Variance, S>(src, runs, center, inv_n) };
    GroupStats::from_second_pass(count, inv_n, center, second)
}

/// A group's mean square (RMSNorm) from its one-pass sum of squares, or else from a second,
/// scaled pass where that sum overflowed or lost precision.
///
/// # Safety
/// `src` is valid for reads over every run, and `V`'s instruction set is available.
#[inline(always)]
pub(crate) unsafe fn mean_square<V: Vector, S: Source>(
    src: S,
    runs: Runs,
    sums: Sums,
    inv_n: f32,
) -> Scaled {
    let (squares, scale) = if in_range(sums.squares, inv_n) {
        (sums.squares, 1.0)
    } else {
        // SAFETY: forwarded from the caller.
        let second = unsafe { second_pass::<V, MeanSquare, S>(src, runs, 0.0, inv_n) };
        (second.squares, second.scale)
    };
    Scaled {
        value: squares * inv_n,
        scale,
    }
}

/// Whether a sum of squares over `1 / inv_n` values holds its mean square in full precision:
/// no square overflowed, and their mean is not where f32 squares lose bits to subnormals.
#[inline(always)]
fn in_range(squares: f32, inv_n: f32) -> bool {
    squares.is_finite() && squares * inv_n >= UNSCALED_MIN_F32
}

/// The centered pass: unscaled first (the common case, with no dependence on a maximum);
/// redone with a power-of-two scale from the largest magnitude when the mean square overflowed
/// or fell where f32 squares lose precision (|x| beyond ~1e19 or below ~1e-30), so no square
/// overflows or goes subnormal on any finite input.
///
/// # Safety
/// `src` is valid for reads over every run, and `V`'s instruction set is available.
#[inline(always)]
unsafe fn second_pass<V: Vector, St: Statistic, S: Source>(
    src: S,
    runs: Runs,
    center: f32,
    inv_n: f32,
) -> SecondPass {
    // SAFETY: forwarded from the caller.
    unsafe {
        let unscaled = sum_squares::<V, St, S>(src, runs, center, 1.0);
        if in_range(unscaled.squares, inv_n) {
            return unscaled;
        }
        let mut max = MaxTotal(0.0);
        let center = if St::CENTERED { center } else { 0.0 };
        let walk = MaxAbs {
            src,
            center: V::splat(center),
        };
        walk_runs::<V, _>(runs, V::splat(0.0), &walk, &mut max);
        let scale = square_scale(max.0);
        if scale == 1.0 {
            return unscaled;
        }
        sum_squares::<V, St, S>(src, runs, center, scale)
    }
}

/// `sum(d)` and `sum(d²)` of `d = (x - center) * scale` over every run (`d = x * scale`, and no
/// `sum(d)`, for [`MeanSquare`]).
///
/// # Safety
/// `src` is valid for reads over every run, and `V`'s instruction set is available.
#[inline(always)]
unsafe fn sum_squares<V: Vector, St: Statistic, S: Source>(
    src: S,
    runs: Runs,
    center: f32,
    scale: f32,
) -> SecondPass {
    // SAFETY: forwarded from the caller.
    unsafe {
        let mut totals = SumTotals::default();
        let walk = SumSquares {
            src,
            center: V::splat(center),
            scale: V::splat(scale),
            statistic: core::marker::PhantomData::<St>,
        };
        walk_runs::<V, _>(runs, Pair::zero(), &walk, &mut totals);
        SecondPass {
            deviations: totals.deviations.value(),
            squares: totals.squares.value(),
            scale,
        }
    }
}
