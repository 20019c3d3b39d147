//! [`Moments`] of slices, with the fastest kernels available.

use crate::kernels::Kernels;
use crate::stats::{Moments, pivot_from};

impl Moments {
    /// Moments of a slice, in one pass with the fastest kernels available.
    ///
    /// ```
    /// let m = normkern::Moments::of_slice(&[1.0, 2.0, 3.0, 4.0]);
    /// assert_eq!((m.mean(), m.variance()), (Some(2.5), Some(1.25)));
    /// ```
    pub fn of_slice(x: &[f32]) -> Moments {
        Kernels::detect().moments(x)
    }

    /// Adds a slice (one vectorized pass, then a merge).
    ///
    /// ```
    /// let mut m = normkern::Moments::of_slice(&[1.0, 2.0]);
    /// m.push_slice(&[3.0, 4.0]);
    /// assert_eq!(m.mean(), Some(2.5));
    /// ```
    pub fn push_slice(&mut self, x: &[f32]) {
        self.merge(&Moments::of_slice(x));
    }
}

impl Kernels {
    /// One-pass moments of `x`, pivoted on its first value.
    ///
    /// ```
    /// use normkern::{Isa, Kernels};
    /// let m = Kernels::new(Isa::Scalar)?.moments(&[2.0, 4.0]);
    /// assert_eq!((m.mean(), m.variance()), (Some(3.0), Some(1.0)));
    /// # Ok::<(), normkern::NormError>(())
    /// ```
    pub fn moments(&self, x: &[f32]) -> Moments {
        match x.first() {
            Some(&first) => self.moments_around(x, pivot_from(first)),
            None => Moments::new(),
        }
    }
}
