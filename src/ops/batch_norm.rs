//! BatchNorm inference: each channel's running statistics applied as a per-channel scale and
//! shift, in one streaming pass (and folded into the layer before it, see `fold`).

use super::affine::ChannelAffine;
use super::check::{Check, DEFAULT_EPS};
use super::columns::WINDOW;
use crate::activation::{Activation, NoActivation};
use crate::element::Element;
use crate::error::NormError;
use crate::io::InOut;
use crate::kernels::{Activate, Affine, ColumnGeometry, ColumnParams, Kernels, Runs, Strided};
use crate::shape::{Layout, Shape};

/// A BatchNorm layer with fixed (running) statistics, for inference and for folding into the
/// layer before it: `y = (x - mean[c]) * gamma[c] / sqrt(var[c] + eps) + beta[c]`.
///
/// ```
/// use normkern::BatchNorm;
/// let (mean, var, gamma, beta) = ([0.5f32; 16], [2.0f32; 16], [1.0f32; 16], [0.0f32; 16]);
/// let bn = BatchNorm::new(&mean, &var).gamma(&gamma).beta(&beta).eps(1e-3);
/// assert_eq!(bn.channels(), 16);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct BatchNorm<'a, A: Activation = NoActivation> {
    pub(crate) mean: &'a [f32],
    pub(crate) var: &'a [f32],
    pub(crate) gamma: Option<&'a [f32]>,
    pub(crate) beta: Option<&'a [f32]>,
    pub(crate) eps: f32,
    pub(crate) activation: A,
}

impl<'a> BatchNorm<'a> {
    /// Running mean and variance, one value per channel each; eps 1e-5, no gamma (1), no beta
    /// (0).
    pub const fn new(mean: &'a [f32], var: &'a [f32]) -> Self {
        BatchNorm {
            mean,
            var,
            gamma: None,
            beta: None,
            eps: DEFAULT_EPS,
            activation: NoActivation,
        }
    }
}

impl<'a, A: Activation> BatchNorm<'a, A> {
    /// Applies `activation` to each normalized value, in the same pass (a BatchNorm with an
    /// activation no longer folds into the layer before it).
    ///
    /// ```
    /// use normkern::{BatchNorm, Relu};
    /// let (mean, var) = ([0.0f32; 4], [1.0f32; 4]);
    /// let bn_relu = BatchNorm::new(&mean, &var).then(Relu);
    /// # let _ = bn_relu;
    /// ```
    pub const fn then<B: Activation>(self, activation: B) -> BatchNorm<'a, B> {
        BatchNorm {
            mean: self.mean,
            var: self.var,
            gamma: self.gamma,
            beta: self.beta,
            eps: self.eps,
            activation,
        }
    }

    /// Number of channels (the length of `mean`).
    pub fn channels(&self) -> usize {
        self.mean.len()
    }

    /// Validates every parameter; returns the channel count.
    pub(crate) fn check(&self, check: Check) -> Result<usize, NormError> {
        let c = self.mean.len();
        check.len("var", self.var.len(), c, "mean.len()")?;
        check.optional("gamma", self.gamma, c, "mean.len()")?;
        check.optional("beta", self.beta, c, "mean.len()")?;
        check.eps(self.eps)?;
        Ok(c)
    }

    /// `(pivot, scale, shift)` of channel `c`: `y = (x - pivot) * scale + shift`.
    pub(crate) fn channel_affine(&self, c: usize) -> Affine {
        let affine = ChannelAffine {
            gamma: self.gamma,
            beta: self.beta,
        };
        Affine {
            pivot: self.mean[c],
            scale: affine.gamma(c) * crate::float::recip_sqrt(self.var[c] + self.eps),
            shift: affine.beta(c),
        }
    }
}

setters!(BatchNorm<A>: eps, gamma, beta);

impl Kernels {
    /// BatchNorm inference over `shape`, either layout: one streaming pass,
    /// `y = (x - mean[c]) * scale[c] + beta[c]` with `scale = gamma / sqrt(var + eps)`
    /// computed once per channel. The statistics hold `shape.c()` values.
    ///
    /// ```
    /// use normkern::{BatchNorm, InOut, Kernels, Shape};
    /// let (mean, var) = ([1.0f32, -1.0], [4.0f32, 0.25]);
    /// let bn = BatchNorm::new(&mean, &var).eps(0.0);
    /// let x = [3.0f32, 3.0, -0.5, -0.5]; // NCHW 1x2x1x2
    /// let mut y = [0.0f32; 4];
    /// Kernels::detect().batch_norm_inference(&bn, Shape::nchw(1, 2, 1, 2), InOut::new(&x, &mut y))?;
    /// assert_eq!(y, [1.0, 1.0, 1.0, 1.0]);
    /// # Ok::<(), normkern::NormError>(())
    /// ```
    pub fn batch_norm_inference<T: Element, A: Activation>(
        &self,
        bn: &BatchNorm<'_, A>,
        shape: Shape,
        mut io: InOut<'_, T>,
    ) -> Result<(), NormError> {
        let check = Check::new("batch_norm_inference");
        let total = check.tensor(&shape, &io)?;
        check.len("mean", bn.check(check)?, shape.c(), "shape.c")?;
        if total == 0 {
            return Ok(());
        }
        let (n, c, spatial) = (shape.n(), shape.c(), shape.spatial());
        let epilogue = Activate(bn.activation);
        if self.compact() {
            // A channel at a time, its values walked in place (see `strided`): no window of
            // channel parameters on a microcontroller's stack.
            for ch in 0..c {
                let a = bn.channel_affine(ch);
                let channel = match shape.layout() {
                    Layout::ChannelsFirst => Strided {
                        start: ch * spatial,
                        stride: 1,
                        runs: Runs {
                            count: n,
                            len: spatial,
                            stride: c * spatial,
                        },
                    },
                    _ => Strided {
                        start: ch,
                        stride: c,
                        runs: Runs::row(n * spatial),
                    },
                };
                self.strided_affine(&mut io, channel, &|_| a, epilogue);
            }
            return Ok(());
        }
        match shape.layout() {
            Layout::ChannelsFirst => {
                // A window of channels' affines computed once, then applied to each sample's
                // planes of those channels in memory order, one kernel call per sample.
                let mut affines = [Affine::default(); WINDOW];
                for w0 in (0..c).step_by(WINDOW) {
                    let width = WINDOW.min(c - w0);
                    for (j, a) in affines.iter_mut().enumerate().take(width) {
                        *a = bn.channel_affine(w0 + j);
                    }
                    let planes = Runs {
                        count: width,
                        len: spatial,
                        stride: spatial,
                    };
                    for sample in 0..n {
                        let start = (sample * c + w0) * spatial;
                        let affine = |j: usize| affines[j];
                        self.apply_runs(&mut io, start, planes, &affine, epilogue);
                    }
                }
            }
            Layout::ChannelsLast => {
                let mut pivot = [0.0f32; WINDOW];
                let mut scale = [0.0f32; WINDOW];
                let mut shift = [0.0f32; WINDOW];
                for w0 in (0..c).step_by(WINDOW) {
                    let width = WINDOW.min(c - w0);
                    for j in 0..width {
                        let a = bn.channel_affine(w0 + j);
                        (pivot[j], scale[j], shift[j]) = (a.pivot, a.scale, a.shift);
                    }
                    let p = ColumnParams {
                        pivot: &pivot,
                        scale: &scale,
                        shift: &shift,
                        row_scale: None,
                        row_shift: None,
                    };
                    let g = ColumnGeometry {
                        rows: n * spatial,
                        width,
                        stride: c,
                    };
                    self.column_affine(&mut io, w0, g, p, epilogue);
                }
            }
        }
        Ok(())
    }
}
