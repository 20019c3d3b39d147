//! Channels-first groups of planes: each run of a group written with its own scale and shift,
//! alone or in the same stream that takes the next group's sums (streamed there too when the
//! output is far larger than the caches: BatchNorm training 32x64x56x56 on an Emerald Rapids
//! Xeon, family 6 model 207, 1.55x the one-channel floor storing through the cache, 1.29x
//! streaming).

use super::Kernel;
use super::group::{Write, sums_while};
use super::map::{Lanewise, StreamRun, map, prefetching, stream_head, stream_lanes, write_lanes};
use super::pivot::Sample;
use super::seam::{Epilogue, Io, Sink, Source};
use super::walk::{Runs, Variance};
use crate::simd::{Arch, Vector};
use crate::stats::Sums;

/// `y = (x - pivot) * scale + shift` over a run of values.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Affine {
    pub pivot: f32,
    pub scale: f32,
    pub shift: f32,
}

/// The affine map of run `r` of a group, `affine(r)`: the caller's closure type where runs are
/// short enough for a call per run to show (a BatchNorm inference of 8x256x14x14 spent 6% of
/// its time in that call through `dyn Fn`), or `dyn Fn` where code size matters more (the
/// compact set).
pub(crate) trait RunAffine: Fn(usize) -> Affine {}

impl<F: Fn(usize) -> Affine + ?Sized> RunAffine for F {}

/// Writes `y = (x - pivot) * scale + shift` over each run `r` of a group with `affine(r)`.
pub(crate) struct ApplyRuns<'a, S, D, E, F: ?Sized> {
    /// Valid for reads (`src`) and writes (`dst`) over every run.
    pub io: Io<S, D, E>,
    pub runs: Runs,
    pub affine: &'a F,
}

impl<S: Source, D: Sink, E: Epilogue, F: RunAffine + ?Sized> Kernel for ApplyRuns<'_, S, D, E, F> {
    type Output = ();
    const ROUNDS_BF16: bool = Io::<S, D, E>::ROUNDS_BF16;

    fn streams(&self) -> bool {
        self.io.nontemporal
    }

    #[inline(always)]
    unsafe fn run<A: Arch>(self) {
        // SAFETY (both): the kernel's contract, forwarded.
        unsafe {
            if Io::<S, D, E>::WIDE_PASS {
                self.each_run::<A::Wide>();
            } else {
                self.each_run::<A::Stream>();
            }
        }
    }
}

impl<S: Source, D: Sink, E: Epilogue, F: RunAffine + ?Sized> ApplyRuns<'_, S, D, E, F> {
    /// Each run written with its own affine, in vectors `V`.
    ///
    /// # Safety
    /// As [`Kernel::run`], for `V`'s instruction set.
    #[inline(always)]
    unsafe fn each_run<V: Vector>(&self) {
        for r in 0..self.runs.count {
            let a = (self.affine)(r);
            // SAFETY: run `r` lies in both buffers (the kernel's contract).
            unsafe {
                let op = AffineOp::<V>::new(a);
                map::<V, _, _, _>(self.io.offset(r * self.runs.stride), self.runs.len, &op);
            }
        }
    }
}

/// [`ApplyRuns`] in the same stream that takes the sums of `next`, a group of the same
/// geometry: the next group's reads from memory overlap this one's writes, as in a copy.
pub(crate) struct ApplyRunsSummingNext<'a, S, D, E, F: ?Sized> {
    pub apply: ApplyRuns<'a, S, D, E, F>,
    /// Valid for reads over every run, and disjoint from the group written.
    pub next: S,
}

impl<S: Source, D: Sink, E: Epilogue, F: RunAffine + ?Sized> Kernel
    for ApplyRunsSummingNext<'_, S, D, E, F>
{
    type Output = Sums;
    const ROUNDS_BF16: bool = Io::<S, D, E>::ROUNDS_BF16;

    fn streams(&self) -> bool {
        self.apply.streams()
    }

    #[inline(always)]
    unsafe fn run<A: Arch>(self) -> Sums {
        let (io, runs, affine) = (self.apply.io, self.apply.runs, self.apply.affine);
        // SAFETY: the kernel's contract, forwarded.
        unsafe {
            if io.nontemporal && A::Wide::STREAMS {
                let write = StreamRunsAffine { io, runs, affine };
                sums_while::<A::Wide, Variance, S>(self.next, runs, Sample::Spread, &write)
            } else if prefetching::<A::Wide, _, _, _>(&io) {
                let write = RunsAffine::<_, _, _, _, true> { io, affine };
                sums_while::<A::Wide, Variance, S>(self.next, runs, Sample::Spread, &write)
            } else {
                let write = RunsAffine::<_, _, _, _, false> { io, affine };
                sums_while::<A::Wide, Variance, S>(self.next, runs, Sample::Spread, &write)
            }
        }
    }
}

/// Writes a group's runs, each with its own `affine(r)`, one vector at a time (each output
/// line asked for ahead where `PREFETCH`).
struct RunsAffine<'a, S, D, E, F: ?Sized, const PREFETCH: bool> {
    io: Io<S, D, E>,
    affine: &'a F,
}

impl<V: Vector, S: Source, D: Sink, E: Epilogue, F: RunAffine + ?Sized, const PREFETCH: bool>
    Write<V> for RunsAffine<'_, S, D, E, F, PREFETCH>
{
    type Run = AffineOp<V>;
    #[inline(always)]
    unsafe fn begin(&self, r: usize) -> AffineOp<V> {
        // SAFETY: forwarded from the caller.
        unsafe { AffineOp::new((self.affine)(r)) }
    }
    #[cfg_attr(target_arch = "x86_64", inline(always))]
    #[cfg_attr(not(target_arch = "x86_64"), inline)]
    unsafe fn write(&self, op: &AffineOp<V>, at: usize, lanes: usize) {
        // SAFETY: the write's contract covers `at..at + lanes` in the group written.
        unsafe { write_lanes::<V, S, D, E, PREFETCH>(self.io, op, at, lanes) }
    }
}

/// [`RunsAffine`] for an output stored non-temporally, as [`map`] stores outputs far larger
/// than the caches.
struct StreamRunsAffine<'a, S, D, E, F: ?Sized> {
    io: Io<S, D, E>,
    runs: Runs,
    affine: &'a F,
}

impl<V: Vector, S: Source, D: Sink, E: Epilogue, F: RunAffine + ?Sized> Write<V>
    for StreamRunsAffine<'_, S, D, E, F>
{
    type Run = (AffineOp<V>, StreamRun);
    #[inline(always)]
    unsafe fn begin(&self, r: usize) -> Self::Run {
        // SAFETY: run `r` lies in the buffers (the walk's contract).
        unsafe {
            let op = AffineOp::new((self.affine)(r));
            let run = stream_head(self.io, &op, r * self.runs.stride, self.runs.len);
            (op, run)
        }
    }
    #[cfg_attr(target_arch = "x86_64", inline(always))]
    #[cfg_attr(not(target_arch = "x86_64"), inline)]
    unsafe fn write(&self, (op, run): &Self::Run, at: usize, _: usize) {
        // SAFETY: the walk steps whole vectors from each run's start; the dispatch fences.
        unsafe { stream_lanes(self.io, op, run, at) }
    }
}

/// `y = (x - pivot) * scale + shift`, splatted.
struct AffineOp<V> {
    pivot: V,
    scale: V,
    shift: V,
}

impl<V: Vector> AffineOp<V> {
    /// # Safety
    /// `V`'s instruction set is available.
    #[inline(always)]
    unsafe fn new(a: Affine) -> Self {
        // SAFETY: forwarded from the caller.
        unsafe {
            AffineOp {
                pivot: V::splat(a.pivot),
                scale: V::splat(a.scale),
                shift: V::splat(a.shift),
            }
        }
    }
}

impl<V: Vector> Lanewise<V> for AffineOp<V> {
    #[inline(always)]
    unsafe fn at(&self, x: V, _: usize, _: usize) -> V {
        // SAFETY: register arithmetic only.
        unsafe { x.sub(self.pivot).mul_add(self.scale, self.shift) }
    }
}
