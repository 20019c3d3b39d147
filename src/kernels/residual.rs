//! The fused residual add, as a kernel source.

use super::seam::{Sink, Source};
use crate::simd::Vector;

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

impl<S: Source, D: Sink> Source for Sum<S, D> {
    const ELEMENT_BYTES: usize = S::ELEMENT_BYTES;

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
        // SAFETY: the caller guarantees `at..at + lanes` is readable in both inputs (and the
        // bias, which holds a row's values), and the set available.
        unsafe {
            let s = self
                .x
                .load::<V>(at, lanes)
                .add(self.skip.load::<V>(at, lanes));
            let s = if self.bias.is_null() {
                s
            } else {
                s.add(super::lanes::load_param::<V>(self.bias, at, lanes))
            };
            S::round(s)
        }
    }

    #[inline(always)]
    unsafe fn load_final<V: Vector>(self, at: usize, lanes: usize) -> V {
        // SAFETY: as `load`; the sum's output is writable where the inputs are readable.
        unsafe {
            let s = self.load::<V>(at, lanes);
            if let Some(sum) = self.sum {
                sum.store(at, s, lanes);
            }
            s
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
