//! The loop over every value of a group's runs, `UNROLL` vectors at a time into independent
//! accumulator slots, and what it sums: deviations and squares, or the largest magnitude.

use super::lanes::{UNROLL, lane_sum, load_masked};
use super::seam::Source;
use crate::simd::Vector;
use crate::stats::Total;

/// `count` runs of `len` values, `stride` apart: a row (`count` 1), the planes of a channel
/// across the batch, or a group's contiguous planes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Runs {
    pub count: usize,
    pub len: usize,
    pub stride: usize,
}

impl Runs {
    pub(crate) fn row(len: usize) -> Runs {
        Runs {
            count: 1,
            len,
            stride: len,
        }
    }

    /// Values spanned from the first to the last one.
    pub(crate) fn span(self) -> usize {
        match self.count {
            0 => 0,
            count => (count - 1) * self.stride + self.len,
        }
    }

    /// Values in the group.
    pub(crate) fn values(self) -> usize {
        self.count * self.len
    }
}

/// What a group is normalized by: its variance (centered on the mean: LayerNorm and every
/// operator but one) or its mean square (RMSNorm). A type, so each operator compiles only
/// its own sums.
pub(crate) trait Statistic: Copy {
    /// Whether values are taken as deviations from a center (and their sum kept).
    const CENTERED: bool;
}

/// Deviations from the mean.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Variance;

impl Statistic for Variance {
    const CENTERED: bool = true;
}

/// Plain squares, no mean (RMSNorm).
#[derive(Clone, Copy, Debug)]
pub(crate) struct MeanSquare;

impl Statistic for MeanSquare {
    const CENTERED: bool = false;
}

/// Per-lane sums of deviations `d` and of their squares (`deviations` unused for
/// [`MeanSquare`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Pair<V> {
    pub deviations: V,
    pub squares: V,
}

impl<V: Vector> Pair<V> {
    /// # Safety
    /// `V`'s instruction set is available.
    #[inline(always)]
    pub(crate) unsafe fn zero() -> Self {
        // SAFETY: forwarded from the caller.
        let zero = unsafe { V::splat(0.0) };
        Pair {
            deviations: zero,
            squares: zero,
        }
    }

    /// Adds `d` (masked to the loaded lanes) and `d²`.
    ///
    /// # Safety
    /// `V`'s instruction set is available.
    #[inline(always)]
    pub(crate) unsafe fn add<St: Statistic>(&mut self, d: V, mask: Option<V>) {
        // SAFETY: register arithmetic only.
        unsafe {
            let d = match mask {
                Some(m) => d.mul(m),
                None => d,
            };
            self.squares = d.mul_add(d, self.squares);
            if St::CENTERED {
                self.deviations = self.deviations.add(d);
            }
        }
    }
}

/// Vectors summed per lane before the partial sums are folded into a compensated total:
/// bounds the f32 rounding error of long sums to that of 256-term sums.
pub(crate) const FOLD_VECTORS: usize = 256;

/// Where [`walk_runs`] empties its accumulator slots.
pub(crate) trait Flush<A> {
    /// # Safety
    /// The instruction set of the slots' vectors is available.
    unsafe fn flush(&mut self, slots: &[A; UNROLL]);
    /// The same for the compact walk's one slot.
    ///
    /// # Safety
    /// As [`Flush::flush`].
    unsafe fn flush_one(&mut self, slot: &A);
}

/// Compensated totals of `sum(d)` and `sum(d²)`.
#[derive(Default)]
pub(crate) struct SumTotals {
    pub deviations: Total,
    pub squares: Total,
}

impl<V: Vector> Flush<Pair<V>> for SumTotals {
    #[inline(always)]
    unsafe fn flush(&mut self, slots: &[Pair<V>; UNROLL]) {
        // SAFETY: register arithmetic only, on the caller's instruction set.
        let [a, b, c, d] = slots;
        unsafe {
            let deviations = [a.deviations, b.deviations, c.deviations, d.deviations];
            self.deviations.add(lane_sum(&deviations));
            self.squares
                .add(lane_sum(&[a.squares, b.squares, c.squares, d.squares]));
        }
    }
    #[inline(always)]
    unsafe fn flush_one(&mut self, slot: &Pair<V>) {
        // SAFETY: register arithmetic only, on the caller's instruction set.
        unsafe {
            self.deviations.add(slot.deviations.reduce_add());
            self.squares.add(slot.squares.reduce_add());
        }
    }
}

/// The largest lane of any slot.
pub(crate) struct MaxTotal(pub f32);

impl<V: Vector> Flush<V> for MaxTotal {
    #[inline(always)]
    unsafe fn flush(&mut self, slots: &[V; UNROLL]) {
        // SAFETY: register arithmetic only, on the caller's instruction set.
        unsafe {
            let m = slots[0]
                .max(slots[1])
                .max(slots[2].max(slots[3]))
                .reduce_max();
            self.0 = self.0.max(m);
        }
    }
    #[inline(always)]
    unsafe fn flush_one(&mut self, slot: &V) {
        // SAFETY: register arithmetic only, on the caller's instruction set.
        self.0 = self.0.max(unsafe { slot.reduce_max() });
    }
}

/// What [`walk_runs`] does at each run and each vector. The per-vector method is always
/// inlined on x86 only: elsewhere no instruction set is at stake, and leaving it to LLVM keeps
/// the microcontroller builds smaller.
pub(crate) trait Walk<V> {
    /// An accumulator slot.
    type Slot: Copy;
    /// What a run's steps share.
    type Run;
    /// Run `r`'s state.
    ///
    /// # Safety
    /// `r` is a run of the walked group, and `V`'s instruction set is available.
    unsafe fn begin(&self, r: usize) -> Self::Run;
    /// The vector at `offset` from the group's first value: `lanes = LANES` (a constant the
    /// step's branches fold away) for whole vectors, fewer for each run's last partial one.
    ///
    /// # Safety
    /// `offset..offset + lanes` lies in a run of the walked group, and `V`'s instruction set
    /// is available.
    unsafe fn step(&self, slot: &mut Self::Slot, run: &Self::Run, offset: usize, lanes: usize);
}

/// Walks every value of the runs as vectors, `UNROLL` at a time into independent accumulator
/// slots (hiding add latency). `totals` takes in the slots every `FOLD_VECTORS` vectors and at
/// the end.
///
/// # Safety
/// `walk`'s methods may be called for every run and value of `runs`, and `V`'s instruction
/// set is available.
#[inline(always)]
pub(crate) unsafe fn walk_runs<V: Vector, W: Walk<V>>(
    runs: Runs,
    empty: W::Slot,
    walk: &W,
    totals: &mut impl Flush<W::Slot>,
) {
    if V::COMPACT {
        // SAFETY: forwarded from the caller.
        return unsafe { walk_plain::<V, W>(runs, empty, walk, totals) };
    }
    let width = V::LANES * UNROLL;
    let mut slots = [empty; UNROLL];
    let (mut r, mut i) = (0, 0);
    // SAFETY (every call below): the walk's contract is forwarded from the caller, and each
    // offset lies in run `r`.
    let mut state = if runs.count > 0 {
        Some(unsafe { walk.begin(0) })
    } else {
        None
    };
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
            state = if r < runs.count {
                Some(unsafe { walk.begin(r) })
            } else {
                None
            };
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

/// The compact form of [`walk_runs`]: one slot, folded every `FOLD_VECTORS / UNROLL`
/// vectors (the same count of terms per accumulator lane) and at the end. The inner loop
/// holds nothing but the steps: the count to the next fold is taken per stretch.
///
/// # Safety
/// As [`walk_runs`].
#[inline(always)]
unsafe fn walk_plain<V: Vector, W: Walk<V>>(
    runs: Runs,
    empty: W::Slot,
    walk: &W,
    totals: &mut impl Flush<W::Slot>,
) {
    const FOLD: usize = FOLD_VECTORS / UNROLL;
    let mut slot = empty;
    let mut room = FOLD;
    for r in 0..runs.count {
        let start = r * runs.stride;
        // SAFETY (every call): the walk's contract, forwarded; each offset lies in run `r`.
        let state = unsafe { walk.begin(r) };
        let mut i = 0;
        while i < runs.len {
            // A stretch up to the next fold or the run's end, the last vector maybe partial.
            let (from, stop) = (i, runs.len.min(i + room * V::LANES));
            while i < stop {
                let n = (stop - i).min(V::LANES);
                unsafe { walk.step(&mut slot, &state, start + i, n) };
                i += n;
            }
            room -= (stop - from).div_ceil(V::LANES);
            if room == 0 {
                unsafe { totals.flush_one(&slot) };
                (slot, room) = (empty, FOLD);
            }
        }
    }
    unsafe { totals.flush_one(&slot) };
}

/// `slot = max(slot, |x - center|)`.
pub(crate) struct MaxAbs<S, V> {
    pub src: S,
    pub center: V,
}

impl<V: Vector, S: Source> Walk<V> for MaxAbs<S, V> {
    type Slot = V;
    type Run = ();
    #[inline(always)]
    unsafe fn begin(&self, _: usize) {}
    #[cfg_attr(target_arch = "x86_64", inline(always))]
    #[cfg_attr(not(target_arch = "x86_64"), inline)]
    unsafe fn step(&self, slot: &mut V, _: &(), at: usize, lanes: usize) {
        // SAFETY: the walk's contract covers `at..at + lanes`.
        unsafe {
            let (v, mask) = load_masked::<V, S>(self.src, at, lanes);
            let z = v.sub(self.center).abs();
            *slot = slot.max(match mask {
                Some(m) => z.mul(m),
                None => z,
            });
        }
    }
}

/// Adds `d = (x - center) * scale` (`d = x * scale` for [`MeanSquare`]) and `d²` to a slot.
pub(crate) struct SumSquares<S, V, St> {
    pub src: S,
    pub center: V,
    pub scale: V,
    pub statistic: core::marker::PhantomData<St>,
}

impl<V: Vector, S: Source, St: Statistic> Walk<V> for SumSquares<S, V, St> {
    type Slot = Pair<V>;
    type Run = ();
    #[inline(always)]
    unsafe fn begin(&self, _: usize) {}
    #[cfg_attr(target_arch = "x86_64", inline(always))]
    #[cfg_attr(not(target_arch = "x86_64"), inline)]
    unsafe fn step(&self, slot: &mut Pair<V>, _: &(), at: usize, lanes: usize) {
        // SAFETY: the walk's contract covers `at..at + lanes`.
        unsafe {
            let (v, mask) = load_masked::<V, S>(self.src, at, lanes);
            let d = if St::CENTERED { v.sub(self.center) } else { v };
            slot.add::<St>(d.mul(self.scale), mask);
        }
    }
}
