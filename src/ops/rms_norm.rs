//! RMSNorm: LayerNorm without the mean, `y = x / sqrt(mean(x²) + eps) * gamma`.

use super::check::{Check, DEFAULT_EPS};
use super::row_norm::{RowNorm, RowStats};
use crate::activation::{Activation, NoActivation};
use crate::element::Element;
use crate::error::NormError;
use crate::io::{InOut, Residual};
use crate::kernels::{Activate, Kernels, MeanSquare};
use crate::shape::Shape;
use core::marker::PhantomData;

/// An RMSNorm layer (ONNX RMSNormalization, PyTorch `nn.RMSNorm`):
/// `y = x / sqrt(mean(x²) + eps) * gamma` over each position's channels, then the activation
/// (none by default).
///
/// ```
/// use normkern::RmsNorm;
/// let gamma = vec![1.0f32; 4096];
/// let rms = RmsNorm::new().eps(1e-6).gamma(&gamma);
/// # let _ = rms;
/// ```
#[derive(Clone, Copy, Debug)]
pub struct RmsNorm<'a, A: Activation = NoActivation> {
    eps: f32,
    gamma: Option<&'a [f32]>,
    activation: A,
}

impl<'a> RmsNorm<'a> {
    /// eps 1e-5, no gamma (1), no activation.
    pub const fn new() -> Self {
        RmsNorm {
            eps: DEFAULT_EPS,
            gamma: None,
            activation: NoActivation,
        }
    }
}

impl<'a, A: Activation> RmsNorm<'a, A> {
    /// Applies `activation` to each normalized value, in the same pass.
    ///
    /// ```
    /// use normkern::{RmsNorm, Silu};
    /// let rms = RmsNorm::new().then(Silu);
    /// # let _ = rms;
    /// ```
    pub const fn then<B: Activation>(self, activation: B) -> RmsNorm<'a, B> {
        RmsNorm {
            eps: self.eps,
            gamma: self.gamma,
            activation,
        }
    }

    fn row_norm(&self) -> RowNorm<'a, MeanSquare, Activate<A>> {
        RowNorm {
            eps: self.eps,
            gamma: self.gamma,
            beta: None,
            epilogue: Activate(self.activation),
            statistic: PhantomData,
        }
    }
}

impl Default for RmsNorm<'_> {
    fn default() -> Self {
        RmsNorm::new()
    }
}

setters!(RmsNorm<A>: eps, gamma);

/// The inverse root mean squares as the row kernels take them.
fn row_stats(inv_rms: Option<&mut [f32]>) -> RowStats<'_> {
    RowStats {
        mean: None,
        inv_std: inv_rms,
        inv_name: "inv_rms",
    }
}

impl Kernels {
    /// RMSNorm of the channels at each position of `shape` (each row of
    /// [`Shape::rows`]`(rows, cols)`; either layout, as [`Kernels::layer_norm`]). Gamma holds
    /// `shape.c()` values. `inv_rms`, if given, receives each position's
    /// `1 / sqrt(mean(x²) + eps)` (`shape.n() * shape.spatial()` values).
    ///
    /// ```
    /// use normkern::{InOut, Kernels, RmsNorm, Shape};
    /// let mut h = vec![3.0f32; 2 * 4096];
    /// let mut inv_rms = [0.0f32; 2];
    /// let rms = RmsNorm::new().eps(0.0);
    /// Kernels::detect().rms_norm(&rms, Shape::rows(2, 4096), InOut::in_place(&mut h), Some(&mut inv_rms))?;
    /// assert_eq!(inv_rms, [1.0 / 3.0; 2]);
    /// assert!(h.iter().all(|&v| v == 1.0));
    /// # Ok::<(), normkern::NormError>(())
    /// ```
    pub fn rms_norm<T: Element, A: Activation>(
        &self,
        p: &RmsNorm<'_, A>,
        shape: Shape,
        io: InOut<'_, T>,
        inv_rms: Option<&mut [f32]>,
    ) -> Result<(), NormError> {
        let check = Check::new("rms_norm");
        self.row_norm(check, &p.row_norm(), shape, io, row_stats(inv_rms))
    }

    /// RMSNorm of the sum `x + skip (+ bias)`, fused (vLLM's `fused_add_rms_norm` with
    /// [`Residual::accumulate`], onnxruntime's `SkipSimplifiedLayerNormalization`): the sum
    /// is taken in f32, rounded to the element type, written where `residual` says, and
    /// normalized as [`Kernels::rms_norm`] would the rounded sum. Channels-last shapes only.
    ///
    /// ```
    /// use normkern::{bf16, InOut, Kernels, Residual, RmsNorm, Shape};
    /// let mut hidden = vec![bf16::from_f32(0.5); 4 * 128];
    /// let mut residual = vec![bf16::from_f32(1.5); 4 * 128];
    /// let rms = RmsNorm::new().eps(0.0);
    /// let k = Kernels::detect();
    /// k.add_rms_norm(&rms, Shape::rows(4, 128), InOut::in_place(&mut hidden), Residual::accumulate(&mut residual), None)?;
    /// assert!(residual.iter().all(|&v| v.to_f32() == 2.0));
    /// assert!(hidden.iter().all(|&v| v.to_f32() == 1.0));
    /// # Ok::<(), normkern::NormError>(())
    /// ```
    pub fn add_rms_norm<T: Element, A: Activation>(
        &self,
        p: &RmsNorm<'_, A>,
        shape: Shape,
        io: InOut<'_, T>,
        residual: Residual<'_, T>,
        inv_rms: Option<&mut [f32]>,
    ) -> Result<(), NormError> {
        let check = Check::new("add_rms_norm");
        self.add_row_norm(
            check,
            &p.row_norm(),
            shape,
            io,
            residual,
            row_stats(inv_rms),
        )
    }
}
