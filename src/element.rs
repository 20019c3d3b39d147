//! The element types activations can be stored in. A leaf.

/// An element type activations are read and written in: `f32`, [`f16`](crate::f16) (IEEE
/// binary16) or [`bf16`](crate::bf16) (bfloat16). Whatever the element, statistics are taken
/// in f32 (and wider) from the exactly widened values, parameters (gamma, beta, running
/// statistics, residual bias) are f32, saved statistics are f32, and each output is computed
/// in f32 and rounded once, to nearest even.
///
/// ```
/// use normkern::{f16, InOut, Kernels, LayerNorm, Shape};
/// let x: Vec<f16> = (0..2 * 64).map(|i| f16::from_f32((i % 9) as f32)).collect();
/// let mut y = vec![f16::ZERO; x.len()];
/// Kernels::detect().layer_norm(&LayerNorm::new(), Shape::rows(2, 64), InOut::new(&x, &mut y), None)?;
/// let mean: f32 = y[..64].iter().map(|v| v.to_f32()).sum::<f32>() / 64.0;
/// assert!(mean.abs() < 1e-2);
/// # Ok::<(), normkern::NormError>(())
/// ```
pub trait Element: Copy + Send + Sync + 'static + sealed::Sealed {
    /// Which element this is (how kernels load and store it).
    #[doc(hidden)]
    const KIND: ElementKind;

    /// The value as f32 (exact).
    #[doc(hidden)]
    fn to_f32(self) -> f32;
}

/// The element types, for the kernels to match on at compile time.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElementKind {
    F32,
    F16,
    Bf16,
}

impl Element for f32 {
    const KIND: ElementKind = ElementKind::F32;
    fn to_f32(self) -> f32 {
        self
    }
}

impl Element for half::f16 {
    const KIND: ElementKind = ElementKind::F16;
    fn to_f32(self) -> f32 {
        half::f16::to_f32(self)
    }
}

impl Element for half::bf16 {
    const KIND: ElementKind = ElementKind::Bf16;
    fn to_f32(self) -> f32 {
        half::bf16::to_f32(self)
    }
}

mod sealed {
    /// Only the element types the kernels know.
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for half::f16 {}
    impl Sealed for half::bf16 {}
}
