//! The value a group's one-pass sums are taken around: the mean of a sample of its values,
//! within a fraction of a standard deviation of the group's mean, so that sums around it lose
//! almost nothing to cancellation (`Sums::accepts` checks that for each group).

use super::lanes::{UNROLL, lane_sum};
use super::seam::Source;
use super::walk::Runs;
use crate::simd::Vector;
use crate::stats::pivot_from;

/// Values averaged for a group's pivot estimate: for data without a trend its offset from the
/// mean is then ~1/16 of a standard deviation, and the sums are accepted unless it is 4 times
/// that.
const PIVOT_SAMPLE: usize = 256;

/// Pieces the pivot's sample of a larger group is taken in, spread evenly over it.
const PIVOT_PIECES: usize = 16;

/// Where a group's pivot sample comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sample {
    /// The first `PIVOT_SAMPLE` values: rows of features have no trend along them, and
    /// reading ahead of the pass would break the memory stream a row pass is.
    Prefix,
    /// `PIVOT_PIECES` pieces spread evenly over the group, so that a trend across it (an
    /// image brighter at the top) does not bias the sample.
    Spread,
}

/// The mean of a sample of the group's values (all of them up to `PIVOT_SAMPLE`), rounded to
/// f32. The group holds at least one value.
///
/// # Safety
/// `src` is valid for reads over every run of `runs`, and `V`'s instruction set is available.
#[inline(always)]
pub(crate) unsafe fn pivot_estimate<V: Vector, S: Source>(
    src: S,
    runs: Runs,
    sample: Sample,
) -> f32 {
    let mut sum = SampleSum::<V, S> {
        src,
        // SAFETY: forwarded from the caller.
        sums: [unsafe { V::splat(0.0) }; SAMPLE_SLOTS],
        count: 0,
    };
    // SAFETY (every `add`): each piece lies inside one run.
    unsafe {
        if sample == Sample::Prefix {
            sum.add(0, runs.len.min(PIVOT_SAMPLE));
        } else if runs.values() <= PIVOT_SAMPLE {
            for r in 0..runs.count {
                sum.add(r * runs.stride, runs.len);
            }
        } else {
            let spacing = runs.values() / PIVOT_PIECES;
            for i in 0..PIVOT_PIECES {
                let (r, offset) = (i * spacing / runs.len, i * spacing % runs.len);
                let n = (PIVOT_SAMPLE / PIVOT_PIECES).min(runs.len - offset);
                sum.add(r * runs.stride + offset, n);
            }
        }
        pivot_from(lane_sum(&sum.sums) / sum.count as f32)
    }
}

/// Independent running sums of a sample's whole stretches of vectors: with one, each row's
/// pivot waited for a chain of 32 dependent adds (AVX2), and the row's sums for the pivot.
/// (The spread sample's pieces, a vector or two each, still go into one sum.)
const SAMPLE_SLOTS: usize = UNROLL;

/// A running sum of sampled values (a struct, not a closure: see `lanes`).
struct SampleSum<V, S> {
    src: S,
    sums: [V; SAMPLE_SLOTS],
    count: usize,
}

impl<V: Vector, S: Source> SampleSum<V, S> {
    /// Adds the `n` values at `at`.
    ///
    /// # Safety
    /// `at..at + n` is readable, and `V`'s instruction set is available.
    #[inline(always)]
    unsafe fn add(&mut self, at: usize, n: usize) {
        let mut i = 0;
        // (Not on the compact sets: their adds are not what a row waits for, and flash is.)
        while !V::COMPACT && i + SAMPLE_SLOTS * V::LANES <= n {
            for (k, sum) in self.sums.iter_mut().enumerate() {
                // SAFETY: the `SAMPLE_SLOTS` vectors at `at + i` lie in `at..at + n`.
                *sum = unsafe { sum.add(self.src.load::<V>(at + i + k * V::LANES, V::LANES)) };
            }
            i += SAMPLE_SLOTS * V::LANES;
        }
        while i < n {
            let lanes = (n - i).min(V::LANES);
            // SAFETY: `at + i..at + i + lanes` lies in `at..at + n`.
            self.sums[0] = unsafe { self.sums[0].add(self.src.load::<V>(at + i, lanes)) };
            i += lanes;
        }
        self.count += n;
    }
}
