//! A float64 reference of every normalization, written from the operators' documented
//! formulas (two-pass mean and variance), and the error bounds the f32 kernels must meet.
//!
//! # Tolerances
//!
//! An output is `y = t + beta` with the normalized term `t = (x - mean) * s * gamma` (`s` the
//! inverse spread). In f32 (unit roundoff u = 6e-8) the kernels make three kinds of error:
//!
//! * the statistics: Welford chains are capped at 1024 values per lane/column by the crate's
//!   blocking and then merged pairwise or by Chan's formula, so the variance carries a relative
//!   error of at most ~1e3 u = 6e-5 in the worst case (typically 1e-6); `s` inherits half of
//!   it, and rounding `t` and adding `beta` add a few u. Hence [`REL`] = 1e-4 of `|t| + |beta|`.
//! * the centring: `x - pivot` (the pivot is one of the group's values) is rounded once, by
//!   at most u·|x - pivot| <= u·2·sqrt(count)·sigma, because every value of a group lies
//!   within sqrt(count)·sigma of its mean. Multiplied by `s·|gamma| <= |gamma| / sigma` this is
//!   at most 2·sqrt(count)·u·|gamma|; [`DEV`] = 1e-5 = ~80 u per sqrt(count)·|gamma|.
//! * subnormal underflow of tiny values: [`ABS`] = 1e-30 absolute.
//!
//! These bounds hold only on the *numeric domain* ([`in_domain`]): finite values of magnitude
//! 0 or 1e-20..1e18, gamma/beta/running statistics of magnitude up to 1e6, eps in 1e-6..1e10.
//! Outside it (eps = 0 on constant groups, values near f32::MAX whose squares overflow,
//! subnormal-dominated groups) results are legitimately ill-conditioned and only the
//! structural properties are checked.

use normkern::{Layout, Shape};

/// Relative tolerance on the normalized term and the shift (see the module docs).
pub const REL: f64 = 1e-4;
/// Tolerance per sqrt(count)·|gamma| for the rounding of the centred values.
pub const DEV: f64 = 1e-5;
/// Absolute floor (subnormal results).
pub const ABS: f64 = 1e-30;

/// Data values the oracle can judge: finite, zero or of magnitude 1e-20..=1e18.
pub fn in_domain(v: f32) -> bool {
    let a = v.abs();
    a == 0.0 || (1e-20..=1e18).contains(&a)
}

/// Parameters (gamma, beta, running statistics, weights) the oracle can judge.
pub fn param_in_domain(v: f32) -> bool {
    in_domain(v) && v.abs() <= 1e6
}

pub fn all_in_domain(x: &[f32]) -> bool {
    x.iter().all(|&v| in_domain(v))
}

pub fn params_in_domain(p: Option<&[f32]>) -> bool {
    p.is_none_or(|p| p.iter().all(|&v| param_in_domain(v)))
}

pub fn eps_in_domain(eps: f32) -> bool {
    (1e-6..=1e10).contains(&eps)
}

/// An expected value and how far from it the f32 result may be. `None`: not checked.
pub type Expect = Option<(f64, f64)>;

/// Which values are normalized together: `group[i]` for input `i`, and the index of its gamma
/// and beta (`param[i]`).
#[derive(Debug, Clone)]
pub struct Grouping {
    pub group: Vec<usize>,
    pub param: Vec<usize>,
    pub groups: usize,
}

/// Coordinates of flat index `i` of a `[n, c, spatial]` tensor: `(n, c, position)`.
pub fn coords(i: usize, c: usize, spatial: usize, channels_last: bool) -> (usize, usize, usize) {
    if channels_last {
        (i / (spatial * c), i % c, (i / c) % spatial)
    } else {
        (i / (c * spatial), (i / spatial) % c, i % spatial)
    }
}

impl Grouping {
    /// Built from `f(n, c, position) -> (group, param)` over a `[n, c, spatial]` tensor.
    pub fn tensor(
        n: usize,
        c: usize,
        spatial: usize,
        channels_last: bool,
        groups: usize,
        f: impl Fn(usize, usize, usize) -> (usize, usize),
    ) -> Grouping {
        // Empty when any dimension is 0 (the others may then be huge).
        let len = if n == 0 || c == 0 || spatial == 0 {
            0
        } else {
            n * c * spatial
        };
        let (mut group, mut param) = (Vec::with_capacity(len), Vec::with_capacity(len));
        for i in 0..len {
            let (ni, ci, si) = coords(i, c, spatial, channels_last);
            let (g, p) = f(ni, ci, si);
            debug_assert!(g < groups);
            group.push(g);
            param.push(p);
        }
        Grouping {
            group,
            param,
            groups,
        }
    }

    /// [`Grouping::tensor`] over `shape`, in its layout.
    pub fn of_shape(
        shape: &Shape,
        groups: usize,
        f: impl Fn(usize, usize, usize) -> (usize, usize),
    ) -> Grouping {
        let channels_last = shape.layout == Layout::ChannelsLast;
        Grouping::tensor(shape.n, shape.c, shape.spatial, channels_last, groups, f)
    }

    /// One group per channel, over the batch and the positions (BatchNorm training, MVN over
    /// N and spatial).
    pub fn per_channel(shape: &Shape) -> Grouping {
        Grouping::of_shape(shape, shape.c, |_, c, _| (c, c))
    }

    /// One group per (sample, channel), over the positions (InstanceNorm, MVN over spatial).
    pub fn per_instance(shape: &Shape) -> Grouping {
        let c = shape.c;
        Grouping::of_shape(shape, shape.n.saturating_mul(c), |n, ci, _| {
            (n * c + ci, ci)
        })
    }

    /// One group per (sample, position), over the channels (`*_channels` row norms).
    pub fn per_position(shape: &Shape) -> Grouping {
        let s = shape.spatial;
        Grouping::of_shape(shape, shape.n.saturating_mul(s), |n, c, p| (n * s + p, c))
    }

    /// The rows of a row normalization: `len / cols` rows of a flat buffer, or with a tensor
    /// `shape` each (sample, position) over its channels.
    pub fn per_row(shape: Option<&Shape>, len: usize, cols: usize) -> Grouping {
        match shape {
            None => Grouping::rows(len, cols),
            Some(s) => Grouping::per_position(s),
        }
    }

    /// Rows of `cols` values over a flat buffer: group = row, param = column.
    pub fn rows(len: usize, cols: usize) -> Grouping {
        Grouping {
            group: (0..len).map(|i| i / cols).collect(),
            param: (0..len).map(|i| i % cols).collect(),
            groups: len / cols,
        }
    }

    /// Every value is its own group (BatchNorm inference: poisoning is per element).
    pub fn elementwise(len: usize, param: Vec<usize>) -> Grouping {
        Grouping {
            group: (0..len).collect(),
            param,
            groups: len,
        }
    }
}

/// Per-group count, mean, biased variance and mean of squares, in f64 (two passes).
#[derive(Debug, Clone)]
pub struct Stats {
    pub count: Vec<usize>,
    pub mean: Vec<f64>,
    pub var: Vec<f64>,
    pub mean_square: Vec<f64>,
}

pub fn stats(x: &[f32], g: &Grouping) -> Stats {
    let mut count = vec![0usize; g.groups];
    let mut sum = vec![0f64; g.groups];
    let mut sq = vec![0f64; g.groups];
    for (i, &v) in x.iter().enumerate() {
        count[g.group[i]] += 1;
        sum[g.group[i]] += f64::from(v);
        sq[g.group[i]] += f64::from(v) * f64::from(v);
    }
    let mean: Vec<f64> = (0..g.groups)
        .map(|k| sum[k] / count[k].max(1) as f64)
        .collect();
    let mut dev = vec![0f64; g.groups];
    for (i, &v) in x.iter().enumerate() {
        let d = f64::from(v) - mean[g.group[i]];
        dev[g.group[i]] += d * d;
    }
    let var = (0..g.groups)
        .map(|k| dev[k] / count[k].max(1) as f64)
        .collect();
    let mean_square = (0..g.groups)
        .map(|k| sq[k] / count[k].max(1) as f64)
        .collect();
    Stats {
        count,
        mean,
        var,
        mean_square,
    }
}

/// The normalization applied to each group.
#[derive(Debug, Clone, Copy)]
pub enum Norm {
    /// `(x - mean) / sqrt(var + eps)` (BatchNorm, LayerNorm, InstanceNorm, GroupNorm).
    Standard { eps: f32 },
    /// `x / sqrt(mean(x²) + eps)` (RMSNorm).
    Rms { eps: f32 },
    /// `(x - mean) / (sqrt(var) + 1e-9)` (ONNX MeanVarianceNormalization).
    Mvn,
}

/// The reference output of every element, with its tolerance.
pub struct Normalized {
    pub y: Vec<Expect>,
    pub stats: Stats,
}

pub fn normalize(
    x: &[f32],
    g: &Grouping,
    norm: Norm,
    gamma: Option<&[f32]>,
    beta: Option<&[f32]>,
) -> Normalized {
    let st = stats(x, g);
    let y = x
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let (k, p) = (g.group[i], g.param[i]);
            let gm = gamma.map_or(1.0, |g| f64::from(g[p]));
            let bt = beta.map_or(0.0, |b| f64::from(b[p]));
            let (centred, spread) = match norm {
                Norm::Standard { eps } => (
                    f64::from(v) - st.mean[k],
                    (st.var[k] + f64::from(eps)).sqrt(),
                ),
                Norm::Rms { eps } => (f64::from(v), (st.mean_square[k] + f64::from(eps)).sqrt()),
                Norm::Mvn => (f64::from(v) - st.mean[k], st.var[k].sqrt() + 1e-9),
            };
            let t = centred / spread * gm;
            let tol =
                REL * (t.abs() + bt.abs()) + DEV * gm.abs() * (st.count[k] as f64).sqrt() + ABS;
            Some((t + bt, tol))
        })
        .collect();
    Normalized { y, stats: st }
}

/// Expected saved mean of each group (`None` for empty groups, which are not written).
pub fn saved_mean(st: &Stats) -> Vec<Expect> {
    (0..st.count.len())
        .map(|k| {
            (st.count[k] > 0).then(|| {
                let n = st.count[k] as f64;
                let tol = DEV * (st.mean[k].abs() + n.sqrt() * st.var[k].sqrt()) + 1e-38;
                (st.mean[k], tol)
            })
        })
        .collect()
}

/// Expected saved `1 / sqrt(var + eps)` of each group.
pub fn saved_inv_std(st: &Stats, eps: f32) -> Vec<Expect> {
    (0..st.count.len())
        .map(|k| {
            (st.count[k] > 0).then(|| {
                let inv = 1.0 / (st.var[k] + f64::from(eps)).sqrt();
                (inv, REL * inv)
            })
        })
        .collect()
}
