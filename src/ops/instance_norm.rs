//! InstanceNorm: each (sample, channel) over its positions, optional per-channel affine.

use super::affine::ChannelAffine;
use super::check::{Check, DEFAULT_EPS};
use super::grouped::Reduce;
use super::saved::SavedStats;
use crate::error::NormError;
use crate::io::InOut;
use crate::kernels::Kernels;
use crate::shape::Shape;
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
pub struct InstanceNorm<'a> {
    pub(crate) eps: f32,
    pub(crate) gamma: Option<&'a [f32]>,
    pub(crate) beta: Option<&'a [f32]>,
}

impl<'a> InstanceNorm<'a> {
    /// eps 1e-5, no gamma (1), no beta (0).
    pub const fn new() -> Self {
        InstanceNorm {
            eps: DEFAULT_EPS,
            gamma: None,
            beta: None,
        }
    }
}

impl Default for InstanceNorm<'_> {
    fn default() -> Self {
        InstanceNorm::new()
    }
}

setters!(InstanceNorm: eps, gamma, beta);

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
    pub fn instance_norm(
        &self,
        p: &InstanceNorm<'_>,
        shape: Shape,
        io: InOut<'_>,
        saved: Option<SavedStats<'_>>,
    ) -> Result<(), NormError> {
        let check = Check::new("instance_norm");
        self.sample_groups(check, p, shape, 1, io, saved)
    }

    /// Shared by InstanceNorm and GroupNorm: validates, then normalizes per (n, group of
    /// `group_size` channels).
    pub(crate) fn sample_groups(
        &self,
        check: Check,
        p: &InstanceNorm<'_>,
        shape: Shape,
        group_size: usize,
        mut io: InOut<'_>,
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
        let affine = ChannelAffine {
            gamma: p.gamma,
            beta: p.beta,
        };
        let reduce = Reduce::SampleGroup { group_size };
        self.normalize_groups(shape, reduce, affine, &mut io, &mut |g, stats| {
            let inv = stats.var.inv_sqrt_plus(p.eps);
            SavedStats::record(&mut saved, g, stats.mean, inv);
            deviation_scale(inv)
        });
        Ok(())
    }
}
