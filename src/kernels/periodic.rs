//! Channels-last affine maps over few channels: every row applies the same few vectors of
//! per-column parameters, so they are loaded into registers once instead of once per vector.
//! On an AMD Zen 4 (EPYC, family 25 model 17) the per-vector loads put BatchNorm inference
//! NHWC 1x112x112x64 at 1.4x the one-channel floor, and the same map with its 64 channels'
//! parameters in registers at 0.95x (`zen-probes/bn_nhwc`).

use super::columns::ColumnParams;
use super::map::{prefetch_output, prefetching};
use super::seam::{Epilogue, Io, Sink, Source};
use crate::simd::Vector;

/// Most vectors of parameters held per array: 8 x 8 AVX2 lanes cover BatchNorm's common 64
/// channels. Three arrays of 8 take 24 of AVX-512's 32 registers; on AVX2's 16 LLVM keeps
/// some on the stack, and the loop still gains: at 64 channels on a Zen 3 EPYC (family 25
/// model 1), 0.72-0.82x the time of a `map` per row. Wider rows gained nothing from a plain
/// loop that loads the parameters per vector (GroupNorm NHWC's 320 channels: 0.997x), so
/// they keep `map`.
pub(crate) const MAX_PERIOD_VECTORS: usize = 8;

/// How many whole vectors of `V` make one row of `width` columns, if rows are contiguous and
/// that count is at most [`MAX_PERIOD_VECTORS`].
pub(crate) fn period_vectors<V: Vector>(width: usize, stride: usize) -> Option<usize> {
    let whole = width.is_multiple_of(V::LANES) && width == stride && width > 0;
    (whole && width / V::LANES <= MAX_PERIOD_VECTORS).then_some(width / V::LANES)
}

/// `y = (x - pivot[j]) * scale[j] + shift[j]` over `rows` contiguous rows of `K` vectors each,
/// then the epilogue. Returns false, having written nothing, where non-temporal stores were
/// asked for but the output is not aligned to a whole vector (the caller's general path then
/// handles it).
///
/// # Safety
/// `io.src` and `io.dst` are valid for `rows * K * V::LANES` elements, the parameter arrays
/// hold at least `K * V::LANES` values, and `V`'s instruction set is available.
#[inline(always)]
pub(crate) unsafe fn periodic_affine<V: Vector, const K: usize, S: Source, D: Sink, E: Epilogue>(
    io: Io<S, D, E>,
    rows: usize,
    p: &ColumnParams<'_>,
) -> bool {
    let streaming = io.nontemporal && V::STREAMS;
    if streaming && io.dst.aligned_head::<V>(K * V::LANES) != 0 {
        return false;
    }
    // SAFETY: the caller's contract, forwarded; streaming stores are aligned (checked above).
    unsafe {
        // One form of the loop per way of storing, so that none tests it per vector.
        if streaming {
            periodic_rows::<V, K, S, D, E, true, false>(io, rows, p);
        } else if prefetching::<V, _, _, _>(&io) {
            periodic_rows::<V, K, S, D, E, false, true>(io, rows, p);
        } else {
            periodic_rows::<V, K, S, D, E, false, false>(io, rows, p);
        }
    }
    true
}

/// [`periodic_affine`]'s loop: whole vectors stored non-temporally where `STREAM`, else
/// through the cache with each output line asked for ahead where `PREFETCH`.
///
/// # Safety
/// As [`periodic_affine`], and where `STREAM` the output is vector-aligned.
#[inline(always)]
unsafe fn periodic_rows<
    V: Vector,
    const K: usize,
    S: Source,
    D: Sink,
    E: Epilogue,
    const STREAM: bool,
    const PREFETCH: bool,
>(
    io: Io<S, D, E>,
    rows: usize,
    p: &ColumnParams<'_>,
) {
    let width = K * V::LANES;
    // SAFETY (every load and store): each offset lies in row `r` or in the parameter arrays,
    // as the caller guarantees.
    unsafe {
        let zero = V::splat(0.0);
        let (mut pivot, mut scale, mut shift) = ([zero; K], [zero; K], [zero; K]);
        for k in 0..K {
            pivot[k] = V::load(p.pivot.as_ptr().add(k * V::LANES));
            scale[k] = V::load(p.scale.as_ptr().add(k * V::LANES));
            shift[k] = V::load(p.shift.as_ptr().add(k * V::LANES));
        }
        for r in 0..rows {
            for k in 0..K {
                let at = r * width + k * V::LANES;
                let x = io.src.load_final::<V>(at, V::LANES);
                let y = io
                    .epilogue
                    .apply(x.sub(pivot[k]).mul_add(scale[k], shift[k]));
                if STREAM {
                    io.dst.store_stream(at, y);
                } else {
                    prefetch_output::<V, _, PREFETCH>(io.dst, at);
                    io.dst.store(at, y, V::LANES);
                }
            }
        }
    }
}
