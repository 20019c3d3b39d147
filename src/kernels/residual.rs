//! The fused residual add: the sum as a kernel source, and the add pass that stores it.

use super::Kernel;
use super::map::{Lanewise, map};
use super::seam::{Identity, Io, Sink, Source};
use crate::simd::{Arch, Vector};

/// A residual add as a source: `s = (x + skip) + bias[j]`, each addition in f32, rounded to
/// the element type, so that the statistics and the output see exactly the sum an unfused
/// add would have stored. The normalize pass ([`Source::load_final`]) also writes `s` to
/// `sum`, where the caller wants it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sum<S, D> {
    pub x: S,
    pub skip: S,
    /// Per element of a row (`at`), not moved by [`Source::offset`] (only by
    /// [`Source::offset_in_row`]); null for none.
    pub bias: *const f32,
    pub sum: Option<D>,
}

impl<S: Source, D> Sum<S, D> {
    /// `(x + skip) + bias` in f32, before its rounding to the element type.
    ///
    /// # Safety
    /// As [`Source::load`].
    #[inline(always)]
    unsafe fn unrounded<V: Vector>(self, at: usize, lanes: usize) -> V {
        // SAFETY: the caller guarantees `at..at + lanes` is readable in both inputs (and the
        // bias, which holds a row's values), and the set available.
        unsafe {
            let s = self
                .x
                .load::<V>(at, lanes)
                .add(self.skip.load::<V>(at, lanes));
            if self.bias.is_null() {
                s
            } else {
                s.add(super::lanes::load_param::<V>(self.bias, at, lanes))
            }
        }
    }
}

impl<S: Source, D: Sink> Source for Sum<S, D> {
    const ELEMENT_BYTES: usize = S::ELEMENT_BYTES;
    // The sum is rounded to its element type, which its output `D` stores.
    const ROUNDS_BF16: bool = D::ROUNDS_BF16;

    #[inline(always)]
    fn offset(self, n: usize) -> Self {
        Sum {
            x: self.x.offset(n),
            skip: self.skip.offset(n),
            sum: self.sum.map(|d| d.offset(n)),
            ..self
        }
    }

    #[inline(always)]
    fn offset_in_row(self, n: usize) -> Self {
        Sum {
            bias: if self.bias.is_null() {
                self.bias
            } else {
                self.bias.wrapping_add(n)
            },
            ..self.offset(n)
        }
    }

    #[inline(always)]
    unsafe fn load<V: Vector>(self, at: usize, lanes: usize) -> V {
        // SAFETY: forwarded from the caller.
        unsafe { S::round(self.unrounded(at, lanes)) }
    }

    #[inline(always)]
    unsafe fn load_final<V: Vector>(self, at: usize, lanes: usize) -> V {
        // SAFETY: as `load`; the sum's output is writable where the inputs are readable.
        unsafe {
            match self.sum {
                // Rounded once, by the store, and read back as stored.
                Some(sum) => sum.store_rounded(at, self.unrounded(at, lanes), lanes),
                None => self.load(at, lanes),
            }
        }
    }

    #[inline(always)]
    unsafe fn prefetch<V: Vector>(self, at: usize) {
        // SAFETY: forwarded from the caller.
        unsafe {
            self.x.prefetch::<V>(at);
            self.skip.prefetch::<V>(at);
        }
    }

    #[inline(always)]
    unsafe fn round<V: Vector>(v: V) -> V {
        // SAFETY: forwarded from the caller.
        unsafe { S::round(v) }
    }
}

/// The add pass: the rounded sums of `rows` rows of `cols` values, stored to `io.dst`, so
/// that the norm after it reads each sum as one value of the element type rather than
/// recomputing it (two loads, two additions and a rounding per value, in every pass).
pub(crate) struct AddRows<S, D> {
    /// The sums as a source (with no sum output of its own), and where they go.
    pub io: Io<Sum<S, D>, D, Identity>,
    pub rows: usize,
    pub cols: usize,
}

impl<S: Source, D: Sink> Kernel for AddRows<S, D> {
    type Output = ();
    const ROUNDS_BF16: bool = Io::<Sum<S, D>, D, Identity>::ROUNDS_BF16;

    fn streams(&self) -> bool {
        self.io.nontemporal
    }

    #[inline(always)]
    unsafe fn run<A: Arch>(self) {
        for row in 0..self.rows {
            let io = self.io.offset(row * self.cols);
            // SAFETY: row `row` lies in every buffer (the kernel's contract); the bias is
            // indexed from each row's start.
            unsafe {
                if Io::<Sum<S, D>, D, Identity>::WIDE_PASS {
                    map::<A::Wide, _, _, _>(io, self.cols, &Unchanged)
                } else {
                    map::<A::Stream, _, _, _>(io, self.cols, &Unchanged)
                }
            }
        }
    }
}

/// The values as they are: the sink's store does the rounding.
struct Unchanged;

impl<V: Vector> Lanewise<V> for Unchanged {
    #[inline(always)]
    unsafe fn at(&self, x: V, _: usize, _: usize) -> V {
        x
    }
}
