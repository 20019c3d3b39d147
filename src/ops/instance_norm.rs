//! InstanceNorm: each (sample, channel) over its positions, optional per-channel affine.

use super::affine::ChannelAffine;
use super::check::{Check, DEFAULT_EPS};
use super::grouped::Reduce;
use super::saved::SavedStats;
use crate::activation::{Activation, NoActivation};
use crate::element::Element;
use crate::error::NormError;
use crate::io::InOut;
use crate::kernels::{Activate, Kernels, Report, RowAffine, Rows, Variance};
use crate::shape::{Layout, Shape};
use crate::stats::deviation_scale;

/// An InstanceNorm layer (ONNX InstanceNormalization, PyTorch `InstanceNorm{1,2,3}d`):
/// `y = (x - mean) / sqrt(var + eps) * gamma[c] + beta[c]` over each (n, c)'s positions.
///
/// ```
/// use normkern::InstanceNorm;
/// let (gamma, beta) = ([1.0f32; 8], [0.0f32; 8]);
/// let inorm = InstanceNorm::new().gamma(&gamma).beta(&beta);
/// # let _ = inorm;
/// ```
#[derive(Clone, Copy, Debug)]
pub struct InstanceNorm<'a, A: Activation = NoActivation> {
    pub(crate) eps: f32,
    pub(crate) gamma: Option<&'a [f32]>,
    pub(crate) beta: Option<&'a [f32]>,
    pub(crate) activation: A,
}

impl<'a> InstanceNorm<'a> {
    /// eps 1e-5, no gamma (1), no beta (0), no activation.
    pub const fn new() -> Self {
        InstanceNorm {
            eps: DEFAULT_EPS,
            gamma: None,
            beta: None,
            activation: NoActivation,
        }
    }
}

impl<'a, A: Activation> InstanceNorm<'a, A> {
    /// Applies `activation` to each normalized value, in the same pass.
    ///
    /// ```
    /// use normkern::{InstanceNorm, Relu};
    /// let inorm = InstanceNorm::new().then(Relu);
    /// # let _ = inorm;
    /// ```
    pub const fn then<B: Activation>(self, activation: B) -> InstanceNorm<'a, B> {
        InstanceNorm {
            eps: self.eps,
            gamma: self.gamma,
            beta: self.beta,
            activation,
        }
    }
}

impl Default for InstanceNorm<'_> {
    fn default() -> Self {
        InstanceNorm::new()
    }
}

setters!(InstanceNorm<A>: eps, gamma, beta);

impl Kernels {
    /// InstanceNorm over `shape`, either layout: each (n, c) over its positions. Gamma and
    /// beta hold `shape.c()` values; `saved` receives `shape.n() * shape.c()` means and
    /// `1 / sqrt(var + eps)`, in (n, c) order.
    ///
    /// ```
    /// use normkern::{InOut, InstanceNorm, Kernels, Shape};
    /// let x = [1.0f32, 3.0, 5.0, 5.0]; // NCL 1x2x2: the second channel is constant
    /// let mut y = [0.0f32; 4];
    /// Kernels::detect().instance_norm(&InstanceNorm::new().eps(0.0), Shape::ncl(1, 2, 2), InOut::new(&x, &mut y), None)?;
    /// assert_eq!(y, [-1.0, 1.0, 0.0, 0.0]);
    /// # Ok::<(), normkern::NormError>(())
    /// ```
    pub fn instance_norm<T: Element, A: Activation>(
        &self,
        p: &InstanceNorm<'_, A>,
        shape: Shape,
        io: InOut<'_, T>,
        saved: Option<SavedStats<'_>>,
    ) -> Result<(), NormError> {
        let check = Check::new("instance_norm");
        self.sample_groups(check, p, shape, 1, io, saved)
    }

    /// Shared by InstanceNorm and GroupNorm: validates, then normalizes per (n, group of
    /// `group_size` channels).
    pub(crate) fn sample_groups<T: Element, A: Activation>(
        &self,
        check: Check,
        p: &InstanceNorm<'_, A>,
        shape: Shape,
        group_size: usize,
        mut io: InOut<'_, T>,
        mut saved: Option<SavedStats<'_>>,
    ) -> Result<(), NormError> {
        let total = check.tensor(&shape, &io)?;
        check.eps(p.eps)?;
        check.optional("gamma", p.gamma, shape.c(), "shape.c")?;
        check.optional("beta", p.beta, shape.c(), "shape.c")?;
        let groups = shape.c() / group_size.max(1);
        let (count, from) = if group_size == 1 {
            (shape.n().saturating_mul(shape.c()), "shape.n * shape.c")
        } else {
            (shape.n().saturating_mul(groups), "shape.n * groups")
        };
        SavedStats::check(&saved, check, count, from)?;
        if total == 0 {
            return Ok(()); // no values, no statistics defined: saved stats stay as they are
        }
        if group_size == 1 && shape.layout() == Layout::ChannelsFirst && !self.compact() {
            // Each (n, c) plane is a row: short planes then share the row kernels' blocks.
            let rows = Rows {
                rows: total / shape.spatial(),
                cols: shape.spatial(),
                eps: p.eps,
                gamma: None,
                beta: None,
                per_row: RowAffine {
                    gamma: p.gamma,
                    beta: p.beta,
                    channels: shape.c(),
                },
            };
            let report = match saved {
                Some(s) => {
                    let (mean, inv_std) = s.into_buffers();
                    Report {
                        mean: Some(mean),
                        inv_std: Some(inv_std),
                    }
                }
                None => Report::default(),
            };
            let epilogue = Activate(p.activation);
            self.normalize_rows::<T, Variance, _>(&mut io, rows, report, epilogue);
            return Ok(());
        }
        let affine = ChannelAffine {
            gamma: p.gamma,
            beta: p.beta,
        };
        let reduce = Reduce::SampleGroup { group_size };
        let mut finish = |g: usize, stats: &crate::stats::GroupStats| {
            let inv = stats.var.inv_sqrt_plus(p.eps);
            SavedStats::record(&mut saved, g, stats.mean, inv);
            deviation_scale(inv)
        };
        let epilogue = Activate(p.activation);
        self.normalize_groups(shape, reduce, affine, &mut io, &mut finish, epilogue);
        Ok(())
    }
}
