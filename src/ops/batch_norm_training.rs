//! BatchNorm in training mode: each channel's batch statistics over N and all positions,
//! reported and folded into the running statistics by PyTorch's or ONNX's convention.

use super::affine::ChannelAffine;
use super::check::{Check, DEFAULT_EPS};
use super::grouped::Reduce;
use super::saved::SavedStats;
use crate::element::Element;
use crate::error::{ErrorKind, NormError};
use crate::io::InOut;
use crate::kernels::{Identity, Kernels};
use crate::shape::Shape;
use crate::stats::deviation_scale;

/// A BatchNorm layer in training mode: normalizes with the batch mean and biased variance of
/// each channel.
///
/// ```
/// use normkern::BatchNormTraining;
/// let (gamma, beta) = ([1.0f32; 64], [0.0f32; 64]);
/// let bn = BatchNormTraining::new().eps(1e-5).gamma(&gamma).beta(&beta);
/// # let _ = bn;
/// ```
#[derive(Clone, Copy, Debug)]
pub struct BatchNormTraining<'a> {
    pub(crate) eps: f32,
    pub(crate) gamma: Option<&'a [f32]>,
    pub(crate) beta: Option<&'a [f32]>,
}

impl<'a> BatchNormTraining<'a> {
    /// eps 1e-5, no gamma (1), no beta (0).
    pub const fn new() -> Self {
        BatchNormTraining {
            eps: DEFAULT_EPS,
            gamma: None,
            beta: None,
        }
    }
}

impl Default for BatchNormTraining<'_> {
    fn default() -> Self {
        BatchNormTraining::new()
    }
}

setters!(BatchNormTraining: eps, gamma, beta);

/// How running statistics follow the batch statistics.
///
/// ```
/// use normkern::Momentum;
/// assert_eq!(Momentum::PYTORCH_DEFAULT, Momentum::PyTorch(0.1));
/// assert_eq!(Momentum::ONNX_DEFAULT, Momentum::Onnx(0.9));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Momentum {
    /// PyTorch `momentum` (default 0.1, the weight of the new batch):
    /// `running = (1 - m) * running + m * batch`; `running_var` takes the unbiased variance.
    PyTorch(f32),
    /// PyTorch `momentum=None`: a cumulative average, with weight `1 / batches` for this batch
    /// (`batches` is `num_batches_tracked` after counting this batch). Unbiased variance.
    CumulativeAverage { batches: u64 },
    /// ONNX `momentum` (default 0.9, the weight of the old value):
    /// `running = m * running + (1 - m) * batch`; `running_var` takes the biased variance.
    Onnx(f32),
}

impl Momentum {
    /// PyTorch's default, 0.1.
    pub const PYTORCH_DEFAULT: Momentum = Momentum::PyTorch(0.1);
    /// ONNX's default, 0.9.
    pub const ONNX_DEFAULT: Momentum = Momentum::Onnx(0.9);

    pub(crate) fn check(self, check: Check) -> Result<(), NormError> {
        match self {
            Momentum::PyTorch(m) | Momentum::Onnx(m)
                if m.is_finite() && (0.0..=1.0).contains(&m) =>
            {
                Ok(())
            }
            Momentum::PyTorch(m) | Momentum::Onnx(m) => check.fail(ErrorKind::Momentum(m)),
            Momentum::CumulativeAverage { batches: 0 } => check.fail(ErrorKind::Momentum(0.0)),
            Momentum::CumulativeAverage { .. } => Ok(()),
        }
    }

    /// `(weight of the old value, weight of the batch, use the unbiased variance)`. Each
    /// weight is formed from the given parameter directly: taking one as `1 - other` would
    /// round away the small one's digits.
    fn weights(self) -> (f32, f32, bool) {
        match self {
            Momentum::PyTorch(m) => (1.0 - m, m, true),
            Momentum::CumulativeAverage { batches } => {
                // Each weight rounded once (exactly formed operands up to 2^24 batches).
                let b = batches as f32;
                ((batches - 1) as f32 / b, 1.0 / b, true)
            }
            Momentum::Onnx(m) => (m, 1.0 - m, false),
        }
    }
}

/// Running statistics updated in place by a training step.
///
/// ```
/// use normkern::{Momentum, RunningStats};
/// let (mut mean, mut var) = ([0.0f32; 8], [1.0f32; 8]);
/// let running = RunningStats::new(&mut mean, &mut var, Momentum::PYTORCH_DEFAULT);
/// # let _ = running;
/// ```
#[derive(Debug)]
pub struct RunningStats<'a> {
    pub(crate) mean: &'a mut [f32],
    pub(crate) var: &'a mut [f32],
    pub(crate) momentum: Momentum,
}

impl<'a> RunningStats<'a> {
    /// The running mean and variance (one value per channel each) and how they follow the
    /// batch.
    pub fn new(mean: &'a mut [f32], var: &'a mut [f32], momentum: Momentum) -> Self {
        RunningStats {
            mean,
            var,
            momentum,
        }
    }
}

impl Kernels {
    /// BatchNorm training forward over `shape`, either layout: normalizes with the batch mean
    /// and biased variance of each channel (over N and all positions), reports them in
    /// `saved` (mean and `1 / sqrt(var + eps)`, `shape.c()` values each) and updates `running`
    /// by its momentum convention. Needs more than one value per channel.
    ///
    /// ```
    /// use normkern::{BatchNormTraining, InOut, Kernels, Momentum, RunningStats, SavedStats, Shape};
    /// let x = [1.0f32, 3.0, 10.0, 30.0]; // NCL 1x2x2
    /// let mut y = [0.0f32; 4];
    /// let (mut rm, mut rv) = ([0.0f32; 2], [1.0f32; 2]);
    /// let (mut mean, mut inv_std) = ([0.0f32; 2], [0.0f32; 2]);
    /// Kernels::detect().batch_norm_training(
    ///     &BatchNormTraining::new().eps(0.0),
    ///     Shape::ncl(1, 2, 2),
    ///     InOut::new(&x, &mut y),
    ///     Some(RunningStats::new(&mut rm, &mut rv, Momentum::Onnx(0.5))),
    ///     Some(SavedStats::new(&mut mean, &mut inv_std)),
    /// )?;
    /// assert_eq!(y, [-1.0, 1.0, -1.0, 1.0]);
    /// assert_eq!(mean, [2.0, 20.0]);
    /// assert_eq!(rm, [1.0, 10.0]); // 0.5 * 0 + 0.5 * batch mean
    /// # Ok::<(), normkern::NormError>(())
    /// ```
    pub fn batch_norm_training<T: Element>(
        &self,
        p: &BatchNormTraining<'_>,
        shape: Shape,
        mut io: InOut<'_, T>,
        mut running: Option<RunningStats<'_>>,
        mut saved: Option<SavedStats<'_>>,
    ) -> Result<(), NormError> {
        let check = Check::new("batch_norm_training");
        check.tensor(&shape, &io)?;
        p.check_params(check, &shape, &running, &saved)?;
        if shape.c() == 0 {
            return Ok(());
        }

        let mut finish = |c: usize, stats: &crate::stats::GroupStats| {
            record_batch(p.eps, c, stats, &mut running, &mut saved)
        };
        self.normalize_groups(
            shape,
            Reduce::Channel,
            p.affine(),
            &mut io,
            &mut finish,
            Identity,
        );
        Ok(())
    }

    /// [`Kernels::batch_norm_training`] of the channels `channels` of a channels-first
    /// `shape` on the full set, everything validated: `running` and `saved` hold those
    /// channels' values only. The values of other channels are not touched, so threads can
    /// each take their channels of one tensor (`parallel`): each channel bitwise the whole
    /// call's.
    #[cfg(feature = "rayon")]
    pub(crate) fn batch_norm_training_channels<T: Element>(
        &self,
        p: &BatchNormTraining<'_>,
        shape: Shape,
        channels: core::ops::Range<usize>,
        io: &mut InOut<'_, T>,
        mut running: Option<RunningStats<'_>>,
        mut saved: Option<SavedStats<'_>>,
    ) {
        let mut finish = |i: usize, stats: &crate::stats::GroupStats| {
            record_batch(p.eps, i, stats, &mut running, &mut saved)
        };
        self.channel_planes_normalize(shape, channels, p.affine(), io, &mut finish, Identity);
    }
}

impl BatchNormTraining<'_> {
    /// Gamma and beta, per channel.
    pub(crate) fn affine(&self) -> ChannelAffine<'_> {
        ChannelAffine {
            gamma: self.gamma,
            beta: self.beta,
        }
    }
}

/// Channel `c`'s batch statistics reported in `saved` and folded into `running`; returns the
/// factor its deviations are multiplied by. (Shared with the split-phase API, `split`.)
pub(crate) fn record_batch(
    eps: f32,
    c: usize,
    stats: &crate::stats::GroupStats,
    running: &mut Option<RunningStats<'_>>,
    saved: &mut Option<SavedStats<'_>>,
) -> f32 {
    let m = &stats.moments;
    let mean = stats.mean;
    let inv = stats.var.inv_sqrt_plus(eps);
    SavedStats::record(saved, c, mean, inv);
    if let Some(r) = running {
        let (keep, w, unbiased) = r.momentum.weights();
        let batch_var = if unbiased {
            m.sample_variance().unwrap_or(f32::NAN)
        } else {
            m.var_raw()
        };
        r.mean[c] = keep * r.mean[c] + w * mean;
        r.var[c] = keep * r.var[c] + w * batch_var;
    }
    deviation_scale(inv)
}
