//! LayerNorm: the values at each position normalized over its channels (each row of
//! `[rows, cols]`, ONNX LayerNormalization, PyTorch `nn.LayerNorm`), with optional
//! per-channel gamma and beta.

use super::check::{Check, DEFAULT_EPS};
use super::row_norm::{RowNorm, RowStats};
use super::saved::SavedStats;
use crate::error::NormError;
use crate::io::InOut;
use crate::kernels::{Kernels, Variance};
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
pub struct LayerNorm<'a> {
    eps: f32,
    gamma: Option<&'a [f32]>,
    beta: Option<&'a [f32]>,
}

impl<'a> LayerNorm<'a> {
    /// eps 1e-5, no gamma (1), no beta (0).
    pub const fn new() -> Self {
        LayerNorm {
            eps: DEFAULT_EPS,
            gamma: None,
            beta: None,
        }
    }
}

impl Default for LayerNorm<'_> {
    fn default() -> Self {
        LayerNorm::new()
    }
}

setters!(LayerNorm: eps, gamma, beta);

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
    pub fn layer_norm(
        &self,
        p: &LayerNorm<'_>,
        shape: Shape,
        io: InOut<'_>,
        saved: Option<SavedStats<'_>>,
    ) -> Result<(), NormError> {
        let norm = RowNorm::<Variance> {
            eps: p.eps,
            gamma: p.gamma,
            beta: p.beta,
            statistic: PhantomData,
        };
        let stats = match saved {
            Some(s) => {
                let (mean, inv_std) = s.into_buffers();
                RowStats {
                    mean: Some(mean),
                    inv_std: Some(inv_std),
                    inv_name: "inv_std",
                }
            }
            None => RowStats {
                mean: None,
                inv_std: None,
                inv_name: "inv_std",
            },
        };
        self.row_norm(Check::new("layer_norm"), &norm, shape, io, stats)
    }
}
