//! Float64 reference for every operator: the textbook definitions (ONNX / PyTorch semantics),
//! computed two-pass in f64 on the exact f32 inputs. No cleverness, so they can be trusted.
//!
//! Every normalizing reference returns, besides `y`, a per-element *magnitude* `mag`: the size
//! of the quantities whose f32 rounding the output inherits (see [`super::check`] for how the
//! tolerances use it), and per-group mean / biased variance / inverse std.
//!
//! Semantics pinned here:
//! - normalization uses the biased (population) variance: `(x - mean) / sqrt(var + eps)`;
//! - a group whose values are all equal, with `eps = 0`, has `0 / 0`; the crate defines its
//!   output as exactly beta (deviation 0), and so does this reference;
//! - RMSNorm: `x / sqrt(mean(x²) + eps) * gamma` (an all-zero row with eps 0 gives 0);
//! - MVN: `(x - mean) / (sqrt(var) + 1e-9)`, no affine;
//! - BatchNorm running statistics: PyTorch `running = (1 - m) running + m batch` with the
//!   unbiased variance (also for the cumulative average, `m = 1 / batches`); ONNX
//!   `running = m running + (1 - m) batch` with the biased variance.

use normkern::{Layout, Momentum, MvnAxes, Shape};

/// Flat index of logical element (n, c, s) in `shape`'s layout.
pub fn index(shape: &Shape, n: usize, c: usize, s: usize) -> usize {
    match shape.layout {
        Layout::ChannelsFirst => (n * shape.c + c) * shape.spatial + s,
        Layout::ChannelsLast => (n * shape.spatial + s) * shape.c + c,
    }
}

/// Calls `f(n, c, s, flat index)` for every element of `shape`.
pub fn for_each(shape: &Shape, mut f: impl FnMut(usize, usize, usize, usize)) {
    for n in 0..shape.n {
        for c in 0..shape.c {
            for s in 0..shape.spatial {
                f(n, c, s, index(shape, n, c, s));
            }
        }
    }
}

/// `x` (in `from`'s layout) rearranged into `to`'s layout (same n, c, spatial).
pub fn relayout(x: &[f32], from: &Shape, to: &Shape) -> Vec<f32> {
    let mut out = vec![0.0; x.len()];
    for_each(from, |n, c, s, i| out[index(to, n, c, s)] = x[i]);
    out
}

/// Neumaier-compensated sum: the reference must not lose digits summing 50k values.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sum {
    sum: f64,
    carry: f64,
}

impl Sum {
    pub fn add(&mut self, v: f64) {
        let t = self.sum + v;
        if self.sum.abs() >= v.abs() {
            self.carry += (self.sum - t) + v;
        } else {
            self.carry += (v - t) + self.sum;
        }
        self.sum = t;
    }

    /// The compensated sum; an infinite or NaN running sum is the answer as it stands (the
    /// carry of `inf - inf` would turn `+inf` into NaN).
    pub fn value(&self) -> f64 {
        if self.sum.is_finite() {
            self.sum + self.carry
        } else {
            self.sum
        }
    }
}

/// Two-pass statistics of one group.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stats {
    pub count: usize,
    pub mean: f64,
    /// Biased: sum of squared deviations / count.
    pub var: f64,
    /// Mean of squares (RMSNorm).
    pub mean_square: f64,
}

impl Stats {
    pub fn of(values: &[f32]) -> Stats {
        let count = values.len();
        if count == 0 {
            return Stats {
                count,
                mean: f64::NAN,
                var: f64::NAN,
                mean_square: f64::NAN,
            };
        }
        let k = f64::from(values[0]);
        let (mut shifted, mut squares) = (Sum::default(), Sum::default());
        for &v in values {
            let v = f64::from(v);
            shifted.add(v - k);
            squares.add(v * v);
        }
        let mean = k + shifted.value() / count as f64;
        let mut dev = Sum::default();
        for &v in values {
            let d = f64::from(v) - mean;
            dev.add(d * d);
        }
        Stats {
            count,
            mean,
            var: dev.value() / count as f64,
            mean_square: squares.value() / count as f64,
        }
    }

    pub fn std(&self) -> f64 {
        self.var.sqrt()
    }

    /// Unbiased variance (NaN below two values).
    pub fn sample_var(&self) -> f64 {
        if self.count < 2 {
            f64::NAN
        } else {
            self.var * self.count as f64 / (self.count - 1) as f64
        }
    }
}

/// How a group's statistics turn into the normalized value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Formula {
    /// `(x - mean) / sqrt(var + eps)`.
    Standard { eps: f32 },
    /// `x / sqrt(mean(x²) + eps)`.
    Rms { eps: f32 },
    /// `(x - mean) / (sqrt(var) + 1e-9)`.
    Mvn,
}

/// What a normalizing operator should produce.
#[derive(Clone, Debug)]
pub struct Expected {
    /// Output, in the input's layout.
    pub y: Vec<f64>,
    /// Per-element error scale: `|gamma| * (1 + |x̂|) + |beta|` (see `check`).
    pub mag: Vec<f64>,
    /// Per-group statistics, in the operator's group order.
    pub stats: Vec<Stats>,
    /// Per-group `1 / sqrt(var + eps)` (Standard), `inf` for a constant group with eps 0.
    pub inv_std: Vec<f64>,
}

impl Expected {
    /// Per-group mean.
    pub fn mean(&self) -> Vec<f64> {
        self.stats.iter().map(|s| s.mean).collect()
    }
}

/// The generic normalization: element (n, c, s) belongs to group `group_of(n, c, s)` (one of
/// `groups`) and takes gamma/beta at `param_of(n, c, s)`.
#[allow(clippy::too_many_arguments)]
pub fn normalize(
    x: &[f32],
    shape: &Shape,
    groups: usize,
    group_of: impl Fn(usize, usize, usize) -> usize,
    param_of: impl Fn(usize, usize, usize) -> usize,
    formula: Formula,
    gamma: Option<&[f32]>,
    beta: Option<&[f32]>,
) -> Expected {
    let mut members: Vec<Vec<f32>> = vec![Vec::new(); groups];
    for_each(shape, |n, c, s, i| members[group_of(n, c, s)].push(x[i]));
    let stats: Vec<Stats> = members.iter().map(|m| Stats::of(m)).collect();
    let denominator = |st: &Stats| -> f64 {
        match formula {
            Formula::Standard { eps } => (st.var + f64::from(eps)).sqrt(),
            Formula::Rms { eps } => (st.mean_square + f64::from(eps)).sqrt(),
            Formula::Mvn => st.std() + 1e-9,
        }
    };
    let inv_std = stats.iter().map(|st| 1.0 / denominator(st)).collect();
    let mut y = vec![0.0; x.len()];
    let mut mag = vec![0.0; x.len()];
    for_each(shape, |n, c, s, i| {
        let st = &stats[group_of(n, c, s)];
        let v = f64::from(x[i]);
        let centered = match formula {
            Formula::Rms { .. } => v,
            _ => v - st.mean,
        };
        let d = denominator(st);
        // 0 / 0 only for an exactly constant group (or all-zero RMS row) with eps 0: the
        // deviation is exactly zero, so the output is exactly beta.
        let xhat = if d == 0.0 && centered == 0.0 {
            0.0
        } else {
            centered / d
        };
        let p = param_of(n, c, s);
        let g = gamma.map_or(1.0, |g| f64::from(g[p]));
        let b = beta.map_or(0.0, |b| f64::from(b[p]));
        y[i] = xhat * g + b;
        mag[i] = g.abs() * (1.0 + xhat.abs()) + b.abs();
    });
    Expected {
        y,
        mag,
        stats,
        inv_std,
    }
}

/// LayerNorm over rows of `cols`.
pub fn layer_norm(
    x: &[f32],
    cols: usize,
    eps: f32,
    gamma: Option<&[f32]>,
    beta: Option<&[f32]>,
) -> Expected {
    let shape = Shape::channels_last(x.len() / cols, 1, cols);
    let formula = Formula::Standard { eps };
    normalize(
        x,
        &shape,
        shape.n,
        |n, _, _| n,
        |_, c, _| c,
        formula,
        gamma,
        beta,
    )
}

/// RMSNorm over rows of `cols`.
pub fn rms_norm(x: &[f32], cols: usize, eps: f32, gamma: Option<&[f32]>) -> Expected {
    let shape = Shape::channels_last(x.len() / cols, 1, cols);
    let formula = Formula::Rms { eps };
    normalize(
        x,
        &shape,
        shape.n,
        |n, _, _| n,
        |_, c, _| c,
        formula,
        gamma,
        None,
    )
}

/// LayerNorm (or RMSNorm) across the channels of each (n, position). Groups in (n, s) order.
pub fn channels(
    x: &[f32],
    shape: &Shape,
    formula: Formula,
    gamma: Option<&[f32]>,
    beta: Option<&[f32]>,
) -> Expected {
    let sp = shape.spatial;
    let groups = shape.n * sp;
    normalize(
        x,
        shape,
        groups,
        |n, _, s| n * sp + s,
        |_, c, _| c,
        formula,
        gamma,
        beta,
    )
}

/// GroupNorm; InstanceNorm is `groups = c`. Groups in (n, g) order.
pub fn group_norm(
    x: &[f32],
    shape: &Shape,
    groups: usize,
    eps: f32,
    gamma: Option<&[f32]>,
    beta: Option<&[f32]>,
) -> Expected {
    let per = shape.c / groups;
    let formula = Formula::Standard { eps };
    normalize(
        x,
        shape,
        shape.n * groups,
        |n, c, _| n * groups + c / per,
        |_, c, _| c,
        formula,
        gamma,
        beta,
    )
}

/// BatchNorm training forward: each channel over N and positions.
pub fn batch_norm_training(
    x: &[f32],
    shape: &Shape,
    eps: f32,
    gamma: Option<&[f32]>,
    beta: Option<&[f32]>,
) -> Expected {
    let formula = Formula::Standard { eps };
    normalize(
        x,
        shape,
        shape.c,
        |_, c, _| c,
        |_, c, _| c,
        formula,
        gamma,
        beta,
    )
}

/// Running statistics after one training step, with the error magnitude of each:
/// `(mean, mean_mag, var, var_mag)`.
pub struct Running {
    pub mean: Vec<f64>,
    pub mean_mag: Vec<f64>,
    pub var: Vec<f64>,
    pub var_mag: Vec<f64>,
}

pub fn running_update(stats: &[Stats], old_mean: &[f32], old_var: &[f32], m: Momentum) -> Running {
    let (w, unbiased) = match m {
        Momentum::PyTorch(m) => (f64::from(m), true),
        Momentum::CumulativeAverage { batches } => (1.0 / batches as f64, true),
        Momentum::Onnx(m) => (1.0 - f64::from(m), false),
    };
    let mut r = Running {
        mean: vec![],
        mean_mag: vec![],
        var: vec![],
        var_mag: vec![],
    };
    for (c, st) in stats.iter().enumerate() {
        let (om, ov) = (f64::from(old_mean[c]), f64::from(old_var[c]));
        let bv = if unbiased { st.sample_var() } else { st.var };
        r.mean.push((1.0 - w) * om + w * st.mean);
        r.mean_mag
            .push((1.0 - w) * om.abs() + w * (st.mean.abs() + st.std()));
        r.var.push((1.0 - w) * ov + w * bv);
        r.var_mag.push((1.0 - w) * ov.abs() + w * bv.abs());
    }
    r
}

/// ONNX MeanVarianceNormalization over `axes`.
pub fn mvn(x: &[f32], shape: &Shape, axes: MvnAxes) -> Expected {
    let (c, none) = (shape.c, None);
    match axes {
        MvnAxes::BatchAndSpatial => normalize(
            x,
            shape,
            c,
            |_, c, _| c,
            |_, _, _| 0,
            Formula::Mvn,
            none,
            none,
        ),
        MvnAxes::Spatial => normalize(
            x,
            shape,
            shape.n * c,
            |n, ch, _| n * c + ch,
            |_, _, _| 0,
            Formula::Mvn,
            none,
            none,
        ),
        MvnAxes::ChannelsAndSpatial => normalize(
            x,
            shape,
            shape.n,
            |n, _, _| n,
            |_, _, _| 0,
            Formula::Mvn,
            none,
            none,
        ),
    }
}

/// BatchNorm inference with given running statistics: `(y, mag)` with
/// `mag = |gamma · x̂| + |beta|` (every rounding the f32 path makes is relative to one of these).
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_inference(
    x: &[f32],
    shape: &Shape,
    mean: &[f32],
    var: &[f32],
    gamma: Option<&[f32]>,
    beta: Option<&[f32]>,
    eps: f32,
) -> (Vec<f64>, Vec<f64>) {
    let mut y = vec![0.0; x.len()];
    let mut mag = vec![0.0; x.len()];
    for_each(shape, |_, c, _, i| {
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

/// Geometry of a direct 2D convolution: stride 1, no padding, OIHW weights, `groups` dividing
/// both channel counts (depthwise: `groups = c_in = c_out`).
#[derive(Clone, Copy, Debug)]
pub struct Conv {
    pub n: usize,
    pub c_in: usize,
    pub h: usize,
    pub w: usize,
    pub c_out: usize,
    pub kh: usize,
    pub kw: usize,
    pub groups: usize,
}

impl Conv {
    pub fn out_h(&self) -> usize {
        self.h - self.kh + 1
    }
    pub fn out_w(&self) -> usize {
        self.w - self.kw + 1
    }
    pub fn in_per_group(&self) -> usize {
        self.c_in / self.groups
    }
    pub fn input_len(&self) -> usize {
        self.n * self.c_in * self.h * self.w
    }
    pub fn weight_len(&self) -> usize {
        self.c_out * self.in_per_group() * self.kh * self.kw
    }
    pub fn output_shape(&self) -> Shape {
        Shape::nchw(self.n, self.c_out, self.out_h(), self.out_w())
    }

    /// NCHW output in f64 (exact products, compensated sums of the f32 inputs), and per
    /// output the sum of `|w · x|` plus `|bias|`: the scale of its rounding error.
    pub fn apply(&self, x: &[f32], weight: &[f32], bias: Option<&[f32]>) -> (Vec<f64>, Vec<f64>) {
        let (oh, ow, ipg) = (self.out_h(), self.out_w(), self.in_per_group());
        let out_per_group = self.c_out / self.groups;
        let mut out = Vec::with_capacity(self.n * self.c_out * oh * ow);
        let mut abs = Vec::with_capacity(out.capacity());
        for n in 0..self.n {
            for o in 0..self.c_out {
                let g = o / out_per_group;
                for i in 0..oh {
                    for j in 0..ow {
                        let b = bias.map_or(0.0, |b| f64::from(b[o]));
                        let (mut acc, mut size) = (Sum::default(), b.abs());
                        acc.add(b);
                        for ci in 0..ipg {
                            let c = g * ipg + ci;
                            for di in 0..self.kh {
                                for dj in 0..self.kw {
                                    let xv = x
                                        [((n * self.c_in + c) * self.h + i + di) * self.w + j + dj];
                                    let wv = weight[((o * ipg + ci) * self.kh + di) * self.kw + dj];
                                    let p = f64::from(xv) * f64::from(wv);
                                    acc.add(p);
                                    size += p.abs();
                                }
                            }
                        }
                        out.push(acc.value());
                        abs.push(size);
                    }
                }
            }
        }
        (out, abs)
    }
}

/// `x [batch, in] · weightᵀ [out, in] + bias`, row-major `[batch, out]`, with `Σ|w·x| + |b|`.
pub fn linear(
    x: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    in_features: usize,
    out_features: usize,
) -> (Vec<f64>, Vec<f64>) {
    let mut out = vec![];
    let mut abs = vec![];
    for row in x.chunks(in_features) {
        for o in 0..out_features {
            let b = bias.map_or(0.0, |b| f64::from(b[o]));
            let (mut acc, mut size) = (Sum::default(), b.abs());
            acc.add(b);
            for (k, &xv) in row.iter().enumerate() {
                let p = f64::from(xv) * f64::from(weight[o * in_features + k]);
                acc.add(p);
                size += p.abs();
            }
            out.push(acc.value());
            abs.push(size);
        }
    }
    (out, abs)
}
