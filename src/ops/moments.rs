//! [`Moments`] of slices, with the fastest kernels available.

use crate::kernels::Kernels;
use crate::stats::{Moments, pivot_from};

impl Moments {
    /// Moments of a slice, in one pass with the fastest kernels available.
    pub fn of_slice(x: &[f32]) -> Moments {
        Kernels::detect().moments(x)
    }

    /// Adds a slice (one vectorized pass, then a merge).
    pub fn push_slice(&mut self, x: &[f32]) {
        self.merge(&Moments::of_slice(x));
    }
}

impl Kernels {
    /// One-pass moments of `x`, pivoted on its first value.
    pub fn moments(&self, x: &[f32]) -> Moments {
        match x.first() {
            Some(&first) => self.moments_around(x, pivot_from(first)),
            None => Moments::new(),
        }
    }
}
