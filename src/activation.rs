//! The activations an operator can apply in its normalize pass (`.then(..)` on a layer).

/// An elementwise function applied to each normalized value, in the same pass, before it is
/// rounded and stored: what an engine would otherwise run as a separate pass over the tensor.
///
/// ```
/// use normkern::{InOut, Kernels, LayerNorm, Relu, Shape};
/// let x = [1.0f32, 2.0, 3.0, 4.0];
/// let mut y = [0.0f32; 4];
/// let ln = LayerNorm::new().eps(0.0).then(Relu);
/// Kernels::detect().layer_norm(&ln, Shape::rows(1, 4), InOut::new(&x, &mut y), None)?;
/// assert!(y[0] == 0.0 && y[1] == 0.0 && y[2] > 0.0 && y[3] > y[2]);
/// # Ok::<(), normkern::NormError>(())
/// ```
///
/// Each unit type ([`Relu`], [`Silu`], ...) is compiled into the kernel: one instantiation of
/// the operator per activation. [`AnyActivation`] is chosen at run time (from a model file,
/// say): one instantiation serves all five, at the cost of a predictable branch per vector.
pub trait Activation: Copy + Send + Sync + 'static + sealed::Sealed {
    /// Which activation this is (a constant for the unit types: the kernels' match folds).
    #[doc(hidden)]
    fn kind(self) -> AnyActivation;

    /// Whether the activation may cost more than the memory traffic it rides on (the
    /// streaming passes then run in the widest vectors).
    #[doc(hidden)]
    const COMPUTE_BOUND: bool;
}

/// An activation picked at run time: what an engine holds after reading a graph.
///
/// Build its callers optimized (`opt-level` 1 or more): unoptimized code keeps every vector
/// temporary of the inlined kernels on the stack, and with all four activations inlined a
/// call takes 8–16 MiB of stack there (up to 8 MiB with GELU alone, 2 MiB with none).
/// `tests/suite/activations.rs` checks it gives each unit type's bits.
///
/// ```no_run
/// use normkern::{AnyActivation, InOut, Kernels, LayerNorm, Shape};
/// let from_the_graph = AnyActivation::Relu;
/// let x = [1.0f32, 2.0, 3.0, 4.0];
/// let mut y = [0.0f32; 4];
/// let ln = LayerNorm::new().eps(0.0).then(from_the_graph);
/// Kernels::detect().layer_norm(&ln, Shape::rows(1, 4), InOut::new(&x, &mut y), None)?;
/// assert!(y[0] == 0.0 && y[1] == 0.0 && y[2] > 0.0);
/// # Ok::<(), normkern::NormError>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AnyActivation {
    /// The normalized value as it is ([`NoActivation`]).
    #[default]
    None,
    /// [`Relu`].
    Relu,
    /// [`Silu`].
    Silu,
    /// [`Gelu`].
    Gelu,
    /// [`GeluTanh`].
    GeluTanh,
}

impl sealed::Sealed for AnyActivation {}
impl Activation for AnyActivation {
    #[inline(always)]
    fn kind(self) -> AnyActivation {
        self
    }
    const COMPUTE_BOUND: bool = true;
}

macro_rules! activations {
    ($($(#[$doc:meta])* $name:ident => $kind:ident;)*) => {$(
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
        pub struct $name;
        impl sealed::Sealed for $name {}
        impl Activation for $name {
            #[inline(always)]
            fn kind(self) -> AnyActivation {
                AnyActivation::$kind
            }
            const COMPUTE_BOUND: bool = matches!(
                AnyActivation::$kind,
                AnyActivation::Silu | AnyActivation::Gelu | AnyActivation::GeluTanh
            );
        }
    )*};
}

activations! {
    /// No activation: the normalized value as it is (every layer's default).
    NoActivation => None;
    /// `max(x, 0)` (ONNX Relu; a NaN stays NaN).
    Relu => Relu;
    /// `x * sigmoid(x)` (SiLU, Swish; ONNX's Mul(X, Sigmoid(X))).
    Silu => Silu;
    /// `x * Φ(x) = 0.5 x (1 + erf(x / √2))` (ONNX Gelu, `approximate = "none"`).
    Gelu => Gelu;
    /// `0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³)))` (ONNX Gelu, `approximate = "tanh"`).
    GeluTanh => GeluTanh;
}

mod sealed {
    /// Only the activations the kernels know.
    pub trait Sealed {}
}
