//! The normalize engine: one op per vector from input to output, with the output's lines
//! asked for ahead of the stores and, for outputs far larger than the caches, stored
//! non-temporally ([`map`]; [`stream_head`] and [`stream_lanes`] for the passes that write a
//! group while they sum the next one).

use super::lanes::once_per_line;
use super::seam::{Epilogue, Io, Sink, Source};
use crate::simd::Vector;

/// What [`map`] applies: the outputs for the `lanes` values `x` at offset `i`.
pub(crate) trait Lanewise<V: Vector> {
    /// # Safety
    /// `i..i + lanes` lies in the mapped run (so per-element parameters may be read there),
    /// and `V`'s instruction set is available.
    unsafe fn at(&self, x: V, i: usize, lanes: usize) -> V;
}

/// How far ahead [`prefetch_output`] asks for output lines: two rows of GroupNorm NHWC's 320
/// channels (one row ahead, or four, measured the same).
const OUTPUT_AHEAD_BYTES: usize = 2560;

/// Vectors a run must hold for `map` to align its stores first.
const ALIGNED_RUN: usize = 64;

/// Runs `op.at(values, offset, lanes)` over `len` values, then the epilogue: whole vectors
/// with `lanes = LANES` (a constant the op's branches fold away), then the tail as a partial
/// vector of `lanes` values, rounded exactly like the others.
///
/// # Safety
/// `io.src` is valid for `len` reads and `io.dst` for `len` writes (they may be the same
/// memory), `op` may be called for every offset of the run, and `V`'s set is available.
#[inline(always)]
pub(crate) unsafe fn map<V: Vector, S: Source, D: Sink, E: Epilogue>(
    io: Io<S, D, E>,
    len: usize,
    op: &impl Lanewise<V>,
) {
    let Io {
        src,
        dst,
        epilogue,
        nontemporal,
        ..
    } = io;
    // SAFETY (every load, store and `op` call below): each offset range lies in `0..len`.
    unsafe {
        let mut i = 0;
        if !V::SPECIALIZE {
            // The compact form: `op` inlined twice rather than six times.
            while i < len {
                let n = (len - i).min(V::LANES);
                let y = epilogue.apply(op.at(src.load_final::<V>(i, n), i, n));
                dst.store(i, y, n);
                i += n;
            }
            return;
        }
        // Long runs first store up to a vector-aligned output, so that no later store splits
        // a cache line (streaming stores need the alignment).
        let streaming = nontemporal && V::STREAMS;
        if len >= ALIGNED_RUN * V::LANES || streaming {
            let head = dst.aligned_head::<V>(len);
            if head > 0 {
                let y = epilogue.apply(op.at(src.load_final::<V>(0, head), 0, head));
                dst.store(0, y, head);
                i = head;
            }
        }
        if streaming {
            while i + V::LANES <= len {
                let y = epilogue.apply(op.at(src.load_final::<V>(i, V::LANES), i, V::LANES));
                dst.store_stream(i, y);
                i += V::LANES;
            }
        }
        // Two forms of the loop, so that the one without the prefetch carries none of its
        // per-vector checks (see `prefetch_output`).
        i = if prefetching::<V, _, _, _>(&io) {
            map_pairs::<V, S, D, E, true>(io, len, op, i)
        } else {
            map_pairs::<V, S, D, E, false>(io, len, op, i)
        };
        while i + V::LANES <= len {
            let y = epilogue.apply(op.at(src.load_final::<V>(i, V::LANES), i, V::LANES));
            dst.store(i, y, V::LANES);
            i += V::LANES;
        }
        if i < len {
            let n = len - i;
            let y = epilogue.apply(op.at(src.load_final::<V>(i, n), i, n));
            dst.store(i, y, n);
        }
    }
}

/// [`map`]'s main loop: two vectors per step from `i` while both are whole, each output line
/// asked for ahead where `PREFETCH`. Returns where it stopped.
///
/// # Safety
/// As [`map`], and `i <= len`.
#[inline(always)]
unsafe fn map_pairs<V: Vector, S: Source, D: Sink, E: Epilogue, const PREFETCH: bool>(
    io: Io<S, D, E>,
    len: usize,
    op: &impl Lanewise<V>,
    mut i: usize,
) -> usize {
    const PAIR: usize = 2;
    // SAFETY (every load, store and `op` call below): each offset range lies in `0..len`.
    unsafe {
        while i + PAIR * V::LANES <= len {
            prefetch_output::<V, _, PREFETCH>(io.dst, i);
            prefetch_output::<V, _, PREFETCH>(io.dst, i + V::LANES);
            let a = io.src.load_final::<V>(i, V::LANES);
            let b = io.src.load_final::<V>(i + V::LANES, V::LANES);
            let ya = io.epilogue.apply(op.at(a, i, V::LANES));
            io.dst.store(i, ya, V::LANES);
            let yb = io.epilogue.apply(op.at(b, i + V::LANES, V::LANES));
            io.dst.store(i + V::LANES, yb, V::LANES);
            i += PAIR * V::LANES;
        }
    }
    i
}

/// Whether the loops over `io` take their prefetching form ([`prefetch_output`]): where
/// [`Io::prefetch`] asks for it, on the sets that specialize (elsewhere the prefetch is no
/// instruction, and a second form of each loop would only cost flash).
#[inline(always)]
pub(crate) fn prefetching<V: Vector, S, D, E>(io: &Io<S, D, E>) -> bool {
    V::SPECIALIZE && io.prefetch
}

/// Asks for the output line [`OUTPUT_AHEAD_BYTES`] past element `at` of `dst`, once per
/// line's worth of offsets, where `PREFETCH`. An ordinary store must first read its line in,
/// and left to the store that read stalls the loop on some CPUs; asked for ahead, it overlaps
/// the work before.
///
/// `PREFETCH` is a constant of the caller's loop, chosen once before it ([`prefetching`]), so
/// that the loop without the prefetch carries no per-vector test. Left to LLVM's loop
/// unswitching, a runtime flag was not reliably hoisted: with the test in the loop,
/// BatchNorm inference 8x256x14x14 took 1.16-1.29x as long on a Zen 3 EPYC (family 25
/// model 1).
///
/// # Safety
/// `V`'s instruction set is available (the prefetch itself never faults).
#[inline(always)]
pub(crate) unsafe fn prefetch_output<V: Vector, D: Sink, const PREFETCH: bool>(dst: D, at: usize) {
    if PREFETCH && once_per_line::<V>(at, D::ELEMENT_BYTES) {
        // SAFETY: forwarded from the caller.
        unsafe { dst.prefetch::<V>(at + OUTPUT_AHEAD_BYTES / D::ELEMENT_BYTES) }
    }
}

/// Writes the `lanes` outputs at `at` (the output line asked for ahead where `PREFETCH`, as
/// in [`map`]).
///
/// # Safety
/// `at..at + lanes` lies in the mapped run of `io`, `op` may be called there, and `V`'s
/// instruction set is available.
#[inline(always)]
pub(crate) unsafe fn write_lanes<
    V: Vector,
    S: Source,
    D: Sink,
    E: Epilogue,
    const PREFETCH: bool,
>(
    io: Io<S, D, E>,
    op: &impl Lanewise<V>,
    at: usize,
    lanes: usize,
) {
    // SAFETY: forwarded from the caller.
    unsafe {
        prefetch_output::<V, _, PREFETCH>(io.dst, at);
        io.dst.store(at, output_lanes(io, op, at, lanes), lanes);
    }
}

/// The `lanes` outputs at `at`, computed but not stored.
///
/// # Safety
/// As [`write_lanes`].
#[inline(always)]
pub(crate) unsafe fn output_lanes<V: Vector, S: Source, D: Sink, E: Epilogue>(
    io: Io<S, D, E>,
    op: &impl Lanewise<V>,
    at: usize,
    lanes: usize,
) -> V {
    // SAFETY: forwarded from the caller.
    unsafe {
        io.epilogue
            .apply(op.at(io.src.load_final::<V>(at, lanes), at, lanes))
    }
}

/// Where a run's non-temporal stores go, for a pass that writes a run while it walks another
/// one a vector at a time from the run's start (`sums_while`): the first `head` values are
/// stored first ([`stream_head`]), and each later write covers the vector `head` values past
/// the one walked ([`stream_lanes`]), so that every whole vector lands on a vector-aligned
/// address as streaming stores need.
pub(crate) struct StreamRun {
    /// Values before the run's output is vector-aligned ([`Sink::aligned_head`]).
    head: usize,
    /// The offset just past the run.
    end: usize,
}

/// Stores the outputs before the run at `start` (of `len` values) is vector-aligned, and
/// returns where its later writes go.
///
/// # Safety
/// `start..start + len` lies in the mapped run of `io`, `op` may be called there, and `V`'s
/// instruction set is available.
#[inline(always)]
pub(crate) unsafe fn stream_head<V: Vector, S: Source, D: Sink, E: Epilogue>(
    io: Io<S, D, E>,
    op: &impl Lanewise<V>,
    start: usize,
    len: usize,
) -> StreamRun {
    let head = io.dst.offset(start).aligned_head::<V>(len);
    if head > 0 {
        // SAFETY: `head <= len` ([`Sink::aligned_head`]); forwarded from the caller.
        unsafe { io.dst.store(start, output_lanes(io, op, start, head), head) };
    }
    StreamRun {
        head,
        end: start + len,
    }
}

/// Writes the outputs for the walk's vector at `at` of a run begun with [`stream_head`]: the
/// vector `head` values on, streamed where whole, stored where it is the run's partial last.
///
/// # Safety
/// As [`stream_head`] for the run, and `at` is a whole number of vectors past its start.
#[inline(always)]
pub(crate) unsafe fn stream_lanes<V: Vector, S: Source, D: Sink, E: Epilogue>(
    io: Io<S, D, E>,
    op: &impl Lanewise<V>,
    run: &StreamRun,
    at: usize,
) {
    let at = at + run.head;
    // SAFETY: `at..` stays inside the run, and whole vectors there are aligned (`head`).
    unsafe {
        if at + V::LANES <= run.end {
            io.dst.store_stream(at, output_lanes(io, op, at, V::LANES));
        } else if at < run.end {
            let lanes = run.end - at;
            io.dst.store(at, output_lanes(io, op, at, lanes), lanes);
        }
    }
}
