//! LayerNorm: the values at each position normalized over its channels (each row of
//! `[rows, cols]`, ONNX LayerNormalization, PyTorch `nn.LayerNorm`), with optional
//! per-channel gamma and beta.

use super::check::{Check, DEFAULT_EPS};
use super::row_norm::{RowNorm, RowStats};
use super::saved::SavedStats;
use crate::activation::{Activation, NoActivation};
use crate::element::Element;
use crate::error::NormError;
use crate::io::{InOut, Residual};
use crate::kernels::{Activate, Kernels, Variance};
use crate::shape::Shape;
use core::marker::PhantomData;

/// A LayerNorm layer: `y = (x - mean) / sqrt(var + eps) * gamma + beta` over each position's
/// channels, with the biased variance.
///
/// Built once per layer and used for every call; the tensor's shape is each call's own
/// argument ([`Kernels::layer_norm`]).
///
/// ```
/// use normkern::LayerNorm;
/// let (gamma, beta) = (vec![1.0f32; 768], vec![0.0f32; 768]);
/// let ln = LayerNorm::new().eps(1e-6).gamma(&gamma).beta(&beta);
/// # let _ = ln;
/// ```
#[derive(Clone, Copy, Debug)]
pub struct LayerNorm<'a, A: Activation = NoActivation> {
    eps: f32,
    gamma: Option<&'a [f32]>,
    beta: Option<&'a [f32]>,
    activation: A,
}

impl<'a> LayerNorm<'a> {
    /// eps 1e-5, no gamma (1), no beta (0), no activation.
    pub const fn new() -> Self {
        LayerNorm {
            eps: DEFAULT_EPS,
            gamma: None,
            beta: None,
            activation: NoActivation,
        }
    }
}

impl<'a, A: Activation> LayerNorm<'a, A> {
    /// Applies `activation` to each normalized value, in the same pass.
    ///
    /// ```
    /// use normkern::{Gelu, LayerNorm};
    /// let ln = LayerNorm::new().then(Gelu);
    /// # let _ = ln;
    /// ```
    pub const fn then<B: Activation>(self, activation: B) -> LayerNorm<'a, B> {
        LayerNorm {
            eps: self.eps,
            gamma: self.gamma,
            beta: self.beta,
            activation,
        }
    }

    fn row_norm(&self) -> RowNorm<'a, Variance, Activate<A>> {
        RowNorm {
            eps: self.eps,
            gamma: self.gamma,
            beta: self.beta,
            epilogue: Activate(self.activation),
            statistic: PhantomData,
        }
    }
}

impl Default for LayerNorm<'_> {
    fn default() -> Self {
        LayerNorm::new()
    }
}

setters!(LayerNorm<A>: eps, gamma, beta);

/// Saved statistics as the row kernels take them.
fn row_stats(saved: Option<SavedStats<'_>>) -> RowStats<'_> {
    let (mean, inv_std) = match saved {
        Some(s) => {
            let (mean, inv_std) = s.into_buffers();
            (Some(mean), Some(inv_std))
        }
        None => (None, None),
    };
    RowStats {
        mean,
        inv_std,
        inv_name: "inv_std",
    }
}

impl Kernels {
    /// LayerNorm of the channels at each position of `shape`: each row of
    /// [`Shape::rows`]`(rows, cols)`, each position of a channels-last tensor, or, on a
    /// channels-first one (ConvNeXt's `LayerNorm(channels_first)`), each position's values
    /// across the planes, without transposing. Gamma and beta hold `shape.c()` values.
    /// `saved`, if given, receives each position's mean and `1 / sqrt(var + eps)`
    /// (`shape.n() * shape.spatial()` values each).
    ///
    /// ```
    /// use normkern::{InOut, Kernels, LayerNorm, SavedStats, Shape};
    /// let x: Vec<f32> = (0..2 * 768).map(|i| (i % 7) as f32).collect();
    /// let mut y = vec![0.0; x.len()];
    /// let (mut mean, mut inv_std) = ([0.0; 2], [0.0; 2]);
    /// let saved = SavedStats::new(&mut mean, &mut inv_std);
    /// let k = Kernels::detect();
    /// k.layer_norm(&LayerNorm::new(), Shape::rows(2, 768), InOut::new(&x, &mut y), Some(saved))?;
    /// let row_mean: f32 = y[..768].iter().sum::<f32>() / 768.0;
    /// assert!(row_mean.abs() < 1e-5);
    /// # Ok::<(), normkern::NormError>(())
    /// ```
    pub fn layer_norm<T: Element, A: Activation>(
        &self,
        p: &LayerNorm<'_, A>,
        shape: Shape,
        io: InOut<'_, T>,
        saved: Option<SavedStats<'_>>,
    ) -> Result<(), NormError> {
        let check = Check::new("layer_norm");
        self.row_norm(check, &p.row_norm(), shape, io, row_stats(saved))
    }

    /// LayerNorm of the sum `x + skip (+ bias)`, fused (onnxruntime's
    /// `SkipLayerNormalization`): the sum is taken in f32, rounded to the element type,
    /// written where `residual` says, and normalized as [`Kernels::layer_norm`] would the
    /// rounded sum. Channels-last shapes only (`Shape::rows(tokens, hidden)`); `skip` (and the
    /// sum) hold as many values as `x`, the bias `shape.c()`.
    ///
    /// ```
    /// use normkern::{InOut, Kernels, LayerNorm, Residual, Shape};
    /// let (x, skip, bias) = ([1.0f32, 2.0, 3.0, 4.0], [1.0f32; 4], [0.5f32; 4]);
    /// let (mut y, mut sum) = ([0.0f32; 4], [0.0f32; 4]);
    /// let residual = Residual::new(&skip).bias(&bias).sum_to(&mut sum);
    /// Kernels::detect().add_layer_norm(&LayerNorm::new(), Shape::rows(1, 4), InOut::new(&x, &mut y), residual, None)?;
    /// assert_eq!(sum, [2.5, 3.5, 4.5, 5.5]);
    /// assert!((y[3] - 1.3416).abs() < 1e-3);
    /// # Ok::<(), normkern::NormError>(())
    /// ```
    pub fn add_layer_norm<T: Element, A: Activation>(
        &self,
        p: &LayerNorm<'_, A>,
        shape: Shape,
        io: InOut<'_, T>,
        residual: Residual<'_, T>,
        saved: Option<SavedStats<'_>>,
    ) -> Result<(), NormError> {
        let check = Check::new("add_layer_norm");
        self.add_row_norm(check, &p.row_norm(), shape, io, residual, row_stats(saved))
    }
}
