//! One-pass moments of a slice by Welford updates per lane ([`crate::Moments`]): the
//! streaming accumulator, where a group's sums would need a second look at the values.

use super::Kernel;
use super::lanes::UNROLL;
use super::seam::Source;
use crate::simd::{Arch, MAX_LANES, Vector};
use crate::stats::Moments;

/// Steps (of `UNROLL` vectors) accumulated before a block is merged into the total. Bounds the
/// per-lane count, so the rounding error of each Welford update stays a few ulps however long
/// the slice, and the counts stay exact in `f32`.
const BLOCK_STEPS: usize = 256;

/// Welford moments of `len` values around `pivot`.
pub(crate) struct SliceMoments<S> {
    /// Valid for `len` reads.
    pub src: S,
    pub len: usize,
    pub pivot: f32,
}

impl<S: Source> Kernel for SliceMoments<S> {
    type Output = Moments;
    const ROUNDS_BF16: bool = S::ROUNDS_BF16;

    #[inline(always)]
    unsafe fn run<A: Arch>(self) -> Moments {
        let block = A::Wide::LANES * UNROLL * BLOCK_STEPS;
        let mut total = Moments::new();
        let mut start = 0;
        while start < self.len {
            let len = block.min(self.len - start);
            // SAFETY: `start..start + len` lies in the slice.
            let part =
                unsafe { block_moments::<A::Wide, S>(self.src.offset(start), len, self.pivot) };
            total.merge(&part);
            start += len;
        }
        total
    }
}

/// One Welford update of every lane by `z`, with `rn = 1 / count` (count after the update).
/// The variance is kept as `M2 / count` rather than `M2`, so it cannot overflow for |x| up to
/// ~1e19 however many values are accumulated.
///
/// # Safety
/// `V`'s instruction set is available.
#[inline(always)]
unsafe fn welford<V: Vector>(mean: &mut V, var: &mut V, z: V, rn: V) {
    // SAFETY: register arithmetic only.
    unsafe {
        let d = z.sub(*mean);
        *mean = d.mul_add(rn, *mean);
        let e = z.sub(*mean);
        // var += (d * e - var) / count; d * e >= 0 since the new mean lies between z and the old.
        *var = d.mul_sub(e, *var).mul_add(rn, *var);
    }
}

/// Chan's merge of two accumulators (mean, variance) holding the same count.
///
/// # Safety
/// `V`'s instruction set is available.
#[inline(always)]
unsafe fn merge_equal<V: Vector>(a: (V, V), b: (V, V)) -> (V, V) {
    // SAFETY: register arithmetic only.
    unsafe {
        let half = V::splat(0.5);
        let mean = a.0.add(b.0).mul(half);
        let d = b.0.sub(a.0).mul(half);
        (mean, a.1.add(b.1).mul_add(half, d.mul(d)))
    }
}

/// # Safety
/// `src` is valid for `len` reads, and `V`'s instruction set is available.
#[inline(always)]
unsafe fn block_moments<V: Vector, S: Source>(src: S, len: usize, pivot: f32) -> Moments {
    // SAFETY: every load lies in `0..len`; the lane arrays hold MAX_LANES >= LANES values.
    unsafe {
        let k = V::splat(pivot);
        let zero = V::splat(0.0);
        let width = V::LANES * UNROLL;
        let steps = len / width;

        let mut acc = [(zero, zero); UNROLL];
        for step in 0..steps {
            let rn = V::splat(1.0 / (step + 1) as f32);
            let base = step * width;
            for (u, (mean, var)) in acc.iter_mut().enumerate() {
                let z = src.load::<V>(base + u * V::LANES, V::LANES).sub(k);
                welford(mean, var, z, rn);
            }
        }
        let (mut mean, mut var) =
            merge_equal(merge_equal(acc[0], acc[1]), merge_equal(acc[2], acc[3]));

        // Whole vectors left over continue the merged accumulator (all lanes share one count).
        let mut per_lane = steps * UNROLL;
        let mut done = steps * width;
        while done + V::LANES <= len {
            per_lane += 1;
            let rn = V::splat(1.0 / per_lane as f32);
            welford(
                &mut mean,
                &mut var,
                src.load::<V>(done, V::LANES).sub(k),
                rn,
            );
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
        for at in done..len {
            total.push(src.load::<f32>(at, 1));
        }
        total
    }
}
