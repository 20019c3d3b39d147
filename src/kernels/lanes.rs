//! Small lane-level helpers the kernels share: masked loads, lane sums, parameter loads.
//!
//! No closures for per-vector work: rustc compiles a closure that LLVM declines to inline as a
//! function of its own, without the caller's `#[target_feature]`, and every intrinsic in it
//! becomes a call. Per-vector work is passed as traits with always-inlined methods; closures
//! remain only for address arithmetic and per-run scalar parameters.

use super::seam::Source;
use crate::simd::Vector;

/// Independent accumulators per step: hides the latency of the dependent add chains.
pub(crate) const UNROLL: usize = 4;

/// The `lanes` elements at `at` (0 past them), with the mask of those lanes when `lanes <
/// LANES` (to zero what the caller derives from the padding).
///
/// # Safety
/// As [`Source::load`].
#[inline(always)]
pub(crate) unsafe fn load_masked<V: Vector, S: Source>(
    src: S,
    at: usize,
    lanes: usize,
) -> (V, Option<V>) {
    // SAFETY: forwarded from the caller; the mask reads only a constant array.
    unsafe {
        let v = src.load::<V>(at, lanes);
        if lanes == V::LANES {
            (v, None)
        } else {
            (v, Some(V::mask(lanes)))
        }
    }
}

/// The slots added lane by lane, in one fixed order: `(s0 + s1) + (s2 + s3)`.
///
/// # Safety
/// `V`'s instruction set is available.
#[inline(always)]
pub(crate) unsafe fn slot_sum<V: Vector>([a, b, c, d]: [V; UNROLL]) -> V {
    // SAFETY: register arithmetic only.
    unsafe { a.add(b).add(c.add(d)) }
}

/// Sum of the lanes of every slot.
///
/// # Safety
/// `V`'s instruction set is available.
#[inline(always)]
pub(crate) unsafe fn lane_sum<V: Vector>(slots: &[V; UNROLL]) -> f32 {
    // SAFETY: register arithmetic only.
    unsafe { slot_sum(*slots).reduce_add() }
}

/// The `lanes` values of a per-element f32 parameter at `offset` (0 past them).
///
/// # Safety
/// `param.add(offset)` is valid for `lanes <= V::LANES` reads, and `V`'s set is available.
#[inline(always)]
pub(crate) unsafe fn load_param<V: Vector>(param: *const f32, offset: usize, lanes: usize) -> V {
    // SAFETY: forwarded from the caller.
    unsafe {
        if lanes == V::LANES {
            V::load(param.add(offset))
        } else {
            V::load_partial(param.add(offset), lanes)
        }
    }
}

/// For element offsets that step a vector at a time from 0: true at one offset of each cache
/// line's worth, where a loop issues that line's prefetch.
#[inline(always)]
pub(crate) fn once_per_line<V: Vector>(offset: usize, element_bytes: usize) -> bool {
    let line = super::seam::LINE_BYTES / element_bytes;
    offset % line < V::LANES
}
