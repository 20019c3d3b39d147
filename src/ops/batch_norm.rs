//! BatchNorm: each channel over the batch and all positions. Inference applies the running
//! statistics as a per-channel scale and shift; training computes the batch statistics, reports
//! them and updates the running statistics (PyTorch or ONNX convention).

use super::affine::ChannelAffine;
use super::check;
use super::columns::WINDOW;
use super::grouped::Reduce;
use super::saved::SavedStats;
use super::spread::{deviation_scale, inv_std};
use crate::error::NormError;
use crate::io::InOut;
use crate::kernels::{Affine, ColumnGeometry, ColumnParams, Kernels, Runs};
use crate::shape::{Layout, Shape};

/// BatchNorm with fixed (running) statistics: inference, and folding into a preceding layer.
/// `y = (x - mean[c]) * gamma[c] / sqrt(var[c] + eps) + beta[c]`.
#[derive(Clone, Copy, Debug)]
pub struct BatchNorm<'a> {
    /// Running mean, one per channel.
    pub mean: &'a [f32],
    /// Running variance, one per channel.
    pub var: &'a [f32],
    pub gamma: Option<&'a [f32]>,
    pub beta: Option<&'a [f32]>,
    pub eps: f32,
}

impl<'a> BatchNorm<'a> {
    /// Running statistics, eps 1e-5, no affine.
    pub const fn new(mean: &'a [f32], var: &'a [f32]) -> Self {
        BatchNorm {
            mean,
            var,
            gamma: None,
            beta: None,
            eps: check::DEFAULT_EPS,
        }
    }

    /// Number of channels (the length of `mean`).
    pub fn channels(&self) -> usize {
        self.mean.len()
    }

    /// Validates every parameter; returns the channel count.
    pub(crate) fn check(&self) -> Result<usize, NormError> {
        let c = self.mean.len();
        check::len("var", self.var.len(), c)?;
        check::optional("gamma", self.gamma, c)?;
        check::optional("beta", self.beta, c)?;
        check::eps(self.eps)?;
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
            scale: affine.gamma(c) * inv_std(self.var[c], self.eps),
            shift: affine.beta(c),
        }
    }
}

setters!(BatchNorm: eps, gamma, beta);

/// BatchNorm in training mode: batch statistics over N and all positions, per channel.
#[derive(Clone, Copy, Debug)]
pub struct BatchNormTraining<'a> {
    pub shape: Shape,
    pub eps: f32,
    pub gamma: Option<&'a [f32]>,
    pub beta: Option<&'a [f32]>,
}

impl<'a> BatchNormTraining<'a> {
    /// eps 1e-5, no affine.
    pub const fn new(shape: Shape) -> Self {
        BatchNormTraining {
            shape,
            eps: check::DEFAULT_EPS,
            gamma: None,
            beta: None,
        }
    }
}

setters!(BatchNormTraining: eps, gamma, beta);

/// How running statistics follow the batch statistics.
#[derive(Clone, Copy, Debug, PartialEq)]
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

    fn check(self) -> Result<(), NormError> {
        match self {
            Momentum::PyTorch(m) | Momentum::Onnx(m)
                if m.is_finite() && (0.0..=1.0).contains(&m) =>
            {
                Ok(())
            }
            Momentum::PyTorch(m) | Momentum::Onnx(m) => Err(NormError::Momentum(m)),
            Momentum::CumulativeAverage { batches: 0 } => Err(NormError::Momentum(0.0)),
            Momentum::CumulativeAverage { .. } => Ok(()),
        }
    }

    /// `(weight of the old value, weight of the batch, use the unbiased variance)`. Each
    /// weight is formed from the given parameter directly: taking one as `1 - other` would
    /// round away the small one's digits (ONNX momentum 6e-4 lost 1e-4 of itself that way).
    fn weights(self) -> (f32, f32, bool) {
        match self {
            Momentum::PyTorch(m) => (1.0 - m, m, true),
            Momentum::CumulativeAverage { batches } => {
                let b = batches as f64;
                (((b - 1.0) / b) as f32, (1.0 / b) as f32, true)
            }
            Momentum::Onnx(m) => (m, 1.0 - m, false),
        }
    }
}

/// Running statistics updated in place by a training step.
#[derive(Debug)]
pub struct RunningStats<'a> {
    pub mean: &'a mut [f32],
    pub var: &'a mut [f32],
    pub momentum: Momentum,
}

impl Kernels {
    /// BatchNorm inference: one streaming pass, `y = (x - mean[c]) * scale[c] + beta[c]` with
    /// `scale = gamma / sqrt(var + eps)` computed once per channel.
    pub fn batch_norm_inference(
        &self,
        bn: &BatchNorm<'_>,
        shape: Shape,
        mut io: InOut<'_>,
    ) -> Result<(), NormError> {
        let total = check::tensor(&shape, io.input_len(), Some(io.output_len()))?;
        check::len("mean", bn.check()?, shape.c)?;
        if total == 0 {
            return Ok(());
        }
        let Shape { n, c, spatial, .. } = shape;
        match shape.layout {
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
                        self.apply_runs(&mut io, start, planes, &|j| affines[j], None);
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
                    self.column_affine(&mut io, w0, g, p);
                }
            }
        }
        Ok(())
    }

    /// BatchNorm training forward: normalizes with the batch mean and biased variance of each
    /// channel, reports them in `saved` (mean and inverse std, one per channel) and updates
    /// `running` by its momentum convention. Needs more than one value per channel.
    pub fn batch_norm_training(
        &self,
        p: &BatchNormTraining<'_>,
        mut io: InOut<'_>,
        mut running: Option<RunningStats<'_>>,
        mut saved: Option<SavedStats<'_>>,
    ) -> Result<(), NormError> {
        let shape = p.shape;
        check::tensor(&shape, io.input_len(), Some(io.output_len()))?;
        check::eps(p.eps)?;
        check::optional("gamma", p.gamma, shape.c)?;
        check::optional("beta", p.beta, shape.c)?;
        SavedStats::check(&saved, shape.c)?;
        if let Some(r) = &running {
            check::len("running_mean", r.mean.len(), shape.c)?;
            check::len("running_var", r.var.len(), shape.c)?;
            r.momentum.check()?;
        }
        let per_channel = shape.n.saturating_mul(shape.spatial);
        if per_channel <= 1 {
            return Err(NormError::TooFewValues { per_channel });
        }
        if shape.c == 0 {
            return Ok(());
        }

        let affine = ChannelAffine {
            gamma: p.gamma,
            beta: p.beta,
        };
        self.normalize_groups(shape, Reduce::Channel, affine, &mut io, &mut |c, stats| {
            let m = &stats.moments;
            let mean = stats.mean;
            let var = m.var_raw();
            let inv = stats.var.inv_sqrt_plus(p.eps);
            SavedStats::record(&mut saved, c, mean, inv);
            if let Some(r) = &mut running {
                let (keep, w, unbiased) = r.momentum.weights();
                let batch_var = if unbiased {
                    m.sample_variance().unwrap_or(f32::NAN)
                } else {
                    var
                };
                r.mean[c] = keep * r.mean[c] + w * mean;
                r.var[c] = keep * r.var[c] + w * batch_var;
            }
            deviation_scale(inv)
        });
        Ok(())
    }
}
