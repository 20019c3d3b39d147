//! Channels-first groups of planes: each run of a group written with its own scale and shift.

use super::Kernel;
use super::map::{Lanewise, map};
use super::seam::{Epilogue, Io, Sink, Source};
use super::walk::Runs;
use crate::simd::{Arch, Vector};

/// `y = (x - pivot) * scale + shift` over a run of values.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Affine {
    pub pivot: f32,
    pub scale: f32,
    pub shift: f32,
}

/// Writes `y = (x - pivot) * scale + shift` over each run `r` of a group with `affine(r)`.
pub(crate) struct ApplyRuns<'a, S, D, E> {
    /// Valid for reads (`src`) and writes (`dst`) over every run.
    pub io: Io<S, D, E>,
    pub runs: Runs,
    pub affine: &'a dyn Fn(usize) -> Affine,
}

impl<S: Source, D: Sink, E: Epilogue> Kernel for ApplyRuns<'_, S, D, E> {
    type Output = ();
    const ROUNDS_BF16: bool = Io::<S, D, E>::ROUNDS_BF16;

    #[inline(always)]
    unsafe fn run<A: Arch>(self) {
        // SAFETY (both): the kernel's contract, forwarded.
        unsafe {
            if E::COMPUTE_BOUND {
                self.each_run::<A::Wide>();
            } else {
                self.each_run::<A::Stream>();
            }
        }
    }
}

impl<S: Source, D: Sink, E: Epilogue> ApplyRuns<'_, S, D, E> {
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
