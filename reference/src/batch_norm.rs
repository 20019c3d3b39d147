//! BatchNorm: training forward and its running statistics, inference with given statistics,
//! and the per-channel scale and shift inference folds to.

use crate::dims::Dims;
use crate::normalize::{Expected, Formula, Grouping, normalize};
use crate::stats::Stats;

/// BatchNorm training forward: each channel over N and positions.
pub fn batch_norm_training(
    x: &[f32],
    dims: &Dims,
    eps: f32,
    gamma: Option<&[f32]>,
    beta: Option<&[f32]>,
) -> Expected {
    let formula = Formula::Standard { eps };
    normalize(x, dims, Grouping::PerChannel, formula, gamma, beta)
}

/// How running statistics take in a batch's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Momentum {
    /// PyTorch: `running = (1 - m) running + m batch`, unbiased batch variance.
    PyTorch(f32),
    /// PyTorch's `momentum=None`: the cumulative average over `batches` batches (this one
    /// included), `m = 1 / batches`, unbiased batch variance.
    CumulativeAverage { batches: u64 },
    /// ONNX: `running = m running + (1 - m) batch`, biased batch variance.
    Onnx(f32),
}

impl Momentum {
    /// The weight `w` of the batch: `running = (1 - w) running + w batch`.
    pub fn batch_weight(self) -> f64 {
        match self {
            Momentum::PyTorch(m) => f64::from(m),
            Momentum::CumulativeAverage { batches } => 1.0 / batches as f64,
            Momentum::Onnx(m) => 1.0 - f64::from(m),
        }
    }

    /// Whether the batch's variance enters unbiased (PyTorch) or biased (ONNX).
    pub fn unbiased(self) -> bool {
        !matches!(self, Momentum::Onnx(_))
    }

    /// The batch variance this convention takes from `st`.
    pub fn batch_var(self, st: &Stats) -> f64 {
        if self.unbiased() {
            st.sample_var()
        } else {
            st.var
        }
    }
}

/// Running statistics after one training step, with the error magnitude of each.
#[derive(Clone, Debug)]
pub struct Running {
    pub mean: Vec<f64>,
    pub mean_mag: Vec<f64>,
    pub var: Vec<f64>,
    pub var_mag: Vec<f64>,
}

/// The running mean and variance after a step with batch statistics `stats` (per channel),
/// from `old_mean` and `old_var`. Magnitudes: `(1 - w) |old| + w |batch|`, and for the mean
/// `|batch mean| + batch std` (the batch mean's own error scale).
pub fn running_update(stats: &[Stats], old_mean: &[f32], old_var: &[f32], m: Momentum) -> Running {
    let w = m.batch_weight();
    let mut r = Running {
        mean: vec![],
        mean_mag: vec![],
        var: vec![],
        var_mag: vec![],
    };
    for (c, st) in stats.iter().enumerate() {
        let (om, ov) = (f64::from(old_mean[c]), f64::from(old_var[c]));
        let bv = m.batch_var(st);
        r.mean.push((1.0 - w) * om + w * st.mean);
        r.mean_mag
            .push((1.0 - w) * om.abs() + w * (st.mean.abs() + st.std()));
        r.var.push((1.0 - w) * ov + w * bv);
        r.var_mag.push((1.0 - w) * ov.abs() + w * bv.abs());
    }
    r
}

/// BatchNorm inference with given running statistics: `(y, mag)` with
/// `mag = |gamma · x̂| + |beta|` (every rounding the f32 path makes is relative to one of these).
pub fn batch_norm_inference(
    x: &[f32],
    dims: &Dims,
    mean: &[f32],
    var: &[f32],
    gamma: Option<&[f32]>,
    beta: Option<&[f32]>,
    eps: f32,
) -> (Vec<f64>, Vec<f64>) {
    assert_eq!(x.len(), dims.len(), "x holds the tensor");
    let mut y = vec![0.0; x.len()];
    let mut mag = vec![0.0; x.len()];
    dims.for_each(|_, c, _, i| {
        let (g, b) = affine_at(gamma, beta, c);
        let xhat =
            (f64::from(x[i]) - f64::from(mean[c])) / (f64::from(var[c]) + f64::from(eps)).sqrt();
        y[i] = xhat * g + b;
        mag[i] = (xhat * g).abs() + b.abs();
    });
    (y, mag)
}

/// Gamma and beta of channel `c` (1 and 0 when absent).
pub fn affine_at(gamma: Option<&[f32]>, beta: Option<&[f32]>, c: usize) -> (f64, f64) {
    (
        gamma.map_or(1.0, |g| f64::from(g[c])),
        beta.map_or(0.0, |b| f64::from(b[c])),
    )
}

/// `(scale, shift)` of BatchNorm inference in f64: `y = x * scale + shift`.
pub fn bn_scale_shift(
    mean: &[f32],
    var: &[f32],
    gamma: Option<&[f32]>,
    beta: Option<&[f32]>,
    eps: f32,
) -> Vec<(f64, f64)> {
    (0..mean.len())
        .map(|c| {
            let (g, b) = affine_at(gamma, beta, c);
            let scale = g / (f64::from(var[c]) + f64::from(eps)).sqrt();
            (scale, b - f64::from(mean[c]) * scale)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn momentum_conventions() {
        let st = Stats::of(&[1.0, 3.0]);
        let pt = running_update(&[st], &[0.0], &[1.0], Momentum::PyTorch(0.25));
        assert_eq!((pt.mean[0], pt.var[0]), (0.5, 0.75 + 0.25 * 2.0));
        let onnx = running_update(&[st], &[0.0], &[1.0], Momentum::Onnx(0.75));
        assert_eq!((onnx.mean[0], onnx.var[0]), (0.5, 0.75 + 0.25 * 1.0));
        let avg = Momentum::CumulativeAverage { batches: 4 };
        assert_eq!(avg.batch_weight(), 0.25);
        assert!(avg.unbiased());
    }

    #[test]
    fn inference_is_its_scale_and_shift() {
        let dims = Dims::channels_last(1, 2, 2);
        let (mean, var, gamma, beta) = ([1.0, -2.0], [4.0, 0.25], [2.0, 1.0], [0.5, 0.0]);
        let x = [3.0, 0.0, -1.0, -2.5];
        let (y, _) = batch_norm_inference(&x, &dims, &mean, &var, Some(&gamma), Some(&beta), 0.0);
        let ss = bn_scale_shift(&mean, &var, Some(&gamma), Some(&beta), 0.0);
        for (i, &v) in x.iter().enumerate() {
            let (s, b) = ss[i % 2];
            assert_eq!(y[i], f64::from(v) * s + b);
        }
    }
}
