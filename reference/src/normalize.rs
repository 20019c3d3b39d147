//! The generic normalization (groups of values, a formula, a per-channel affine) and the
//! operators that are one grouping and formula of it.

use crate::dims::Dims;
use crate::stats::Stats;

/// Which values an operator normalizes together. Every grouping takes gamma and beta per
/// channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grouping {
    /// One group per (n, position), over its channels: LayerNorm and RMSNorm (of rows, or over
    /// the channels of a tensor). Groups in (n, s) order.
    PerPosition,
    /// One group per channel, over the batch and the positions: BatchNorm, MVN over N and
    /// spatial. Groups in channel order.
    PerChannel,
    /// `groups` groups per sample, each over `c / groups` adjacent channels and every position
    /// (`groups` divides `c`): GroupNorm; InstanceNorm and MVN over spatial are `groups = c`,
    /// MVN over C and spatial is `groups = 1`. Groups in (n, g) order.
    PerSample { groups: usize },
}

impl Grouping {
    /// Number of groups of a tensor of `dims` (saturating: a huge count only arises with an
    /// empty tensor).
    pub fn count(self, dims: &Dims) -> usize {
        match self {
            Grouping::PerPosition => dims.n.saturating_mul(dims.spatial),
            Grouping::PerChannel => dims.c,
            Grouping::PerSample { groups } => dims.n.saturating_mul(groups),
        }
    }

    /// The group of logical element (n, c, s).
    pub fn group(self, dims: &Dims, n: usize, c: usize, s: usize) -> usize {
        match self {
            Grouping::PerPosition => n * dims.spatial + s,
            Grouping::PerChannel => c,
            Grouping::PerSample { groups } => n * groups + c / (dims.c / groups),
        }
    }

    /// The group of the element at flat index `i`.
    pub fn group_at(self, dims: &Dims, i: usize) -> usize {
        let (n, c, s) = dims.coords(i);
        self.group(dims, n, c, s)
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

impl Formula {
    /// What the centered value of a group is divided by.
    fn denominator(self, st: &Stats) -> f64 {
        match self {
            Formula::Standard { eps } => (st.var + f64::from(eps)).sqrt(),
            Formula::Rms { eps } => (st.mean_square + f64::from(eps)).sqrt(),
            Formula::Mvn => st.std() + 1e-9,
        }
    }
}

/// What a normalizing operator should produce.
#[derive(Clone, Debug)]
pub struct Expected {
    /// Output, in the input's layout.
    pub y: Vec<f64>,
    /// Per-element error scale: `|gamma| * (1 + |x̂|) + |beta|`, the size of what the f32
    /// output's rounding is relative to.
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

/// The generic normalization of `x` (a tensor of `dims`): each group of `grouping` by
/// `formula`, then `x̂ * gamma[c] + beta[c]`.
pub fn normalize(
    x: &[f32],
    dims: &Dims,
    grouping: Grouping,
    formula: Formula,
    gamma: Option<&[f32]>,
    beta: Option<&[f32]>,
) -> Expected {
    assert_eq!(x.len(), dims.len(), "x holds the tensor");
    let mut members: Vec<Vec<f32>> = vec![Vec::new(); grouping.count(dims)];
    dims.for_each(|n, c, s, i| members[grouping.group(dims, n, c, s)].push(x[i]));
    let stats: Vec<Stats> = members.iter().map(|m| Stats::of(m)).collect();
    let inv_std = stats
        .iter()
        .map(|st| 1.0 / formula.denominator(st))
        .collect();
    let mut y = vec![0.0; x.len()];
    let mut mag = vec![0.0; x.len()];
    dims.for_each(|n, c, s, i| {
        let st = &stats[grouping.group(dims, n, c, s)];
        let v = f64::from(x[i]);
        let centered = match formula {
            Formula::Rms { .. } => v,
            _ => v - st.mean,
        };
        let d = formula.denominator(st);
        // 0 / 0 only for an exactly constant group (or all-zero RMS row) with eps 0: the
        // deviation is exactly zero, so the output is exactly beta.
        let xhat = if d == 0.0 && centered == 0.0 {
            0.0
        } else {
            centered / d
        };
        let g = gamma.map_or(1.0, |g| f64::from(g[c]));
        let b = beta.map_or(0.0, |b| f64::from(b[c]));
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
    let dims = Dims::rows(x.len() / cols, cols);
    channels(x, &dims, Formula::Standard { eps }, gamma, beta)
}

/// RMSNorm over rows of `cols`.
pub fn rms_norm(x: &[f32], cols: usize, eps: f32, gamma: Option<&[f32]>) -> Expected {
    let dims = Dims::rows(x.len() / cols, cols);
    channels(x, &dims, Formula::Rms { eps }, gamma, None)
}

/// LayerNorm (or RMSNorm) across the channels of each (n, position). Groups in (n, s) order.
pub fn channels(
    x: &[f32],
    dims: &Dims,
    formula: Formula,
    gamma: Option<&[f32]>,
    beta: Option<&[f32]>,
) -> Expected {
    normalize(x, dims, Grouping::PerPosition, formula, gamma, beta)
}

/// GroupNorm; InstanceNorm is `groups = c`. Groups in (n, g) order.
pub fn group_norm(
    x: &[f32],
    dims: &Dims,
    groups: usize,
    eps: f32,
    gamma: Option<&[f32]>,
    beta: Option<&[f32]>,
) -> Expected {
    let grouping = Grouping::PerSample { groups };
    normalize(x, dims, grouping, Formula::Standard { eps }, gamma, beta)
}

/// The axes ONNX MeanVarianceNormalization takes its statistics over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MvnAxes {
    /// `[0, 2, 3]` (the default): each channel over N and spatial.
    BatchAndSpatial,
    /// `[2, 3]`: each (n, c) over spatial.
    Spatial,
    /// `[1, 2, 3]`: each sample over C and spatial.
    ChannelsAndSpatial,
}

impl MvnAxes {
    pub fn grouping(self, dims: &Dims) -> Grouping {
        match self {
            MvnAxes::BatchAndSpatial => Grouping::PerChannel,
            MvnAxes::Spatial => Grouping::PerSample { groups: dims.c },
            MvnAxes::ChannelsAndSpatial => Grouping::PerSample { groups: 1 },
        }
    }
}

/// ONNX MeanVarianceNormalization over `axes`.
pub fn mvn(x: &[f32], dims: &Dims, axes: MvnAxes) -> Expected {
    normalize(x, dims, axes.grouping(dims), Formula::Mvn, None, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_group_with_zero_eps_is_beta() {
        let want = layer_norm(&[3.0; 4], 4, 0.0, Some(&[2.0; 4]), Some(&[0.5; 4]));
        assert_eq!(want.y, [0.5; 4]);
        assert_eq!(want.inv_std, [f64::INFINITY]);
        let rms = rms_norm(&[0.0; 3], 3, 0.0, None);
        assert_eq!(rms.y, [0.0; 3]);
    }

    #[test]
    fn groupings_agree_across_layouts() {
        let cf = Dims::channels_first(2, 4, 3);
        let cl = cf.with_layout(true);
        let x: Vec<f32> = (0..24).map(|i| ((i * 7) % 11) as f32).collect();
        let x_cl = Dims::relayout(&x, &cf, &cl);
        for grouping in [
            Grouping::PerPosition,
            Grouping::PerChannel,
            Grouping::PerSample { groups: 2 },
        ] {
            let a = normalize(&x, &cf, grouping, Formula::Mvn, None, None);
            let b = normalize(&x_cl, &cl, grouping, Formula::Mvn, None, None);
            assert_eq!(a.stats, b.stats);
            let y: Vec<f64> = Dims::relayout(&b.y, &cl, &cf);
            assert_eq!(a.y, y);
        }
    }

    #[test]
    fn mvn_over_spatial_is_instance_statistics() {
        let dims = Dims::channels_first(1, 2, 2);
        let want = mvn(&[1.0, 3.0, 10.0, 10.0], &dims, MvnAxes::Spatial);
        assert_eq!(want.mean(), [2.0, 10.0]);
        assert!((want.y[1] - 1.0).abs() < 1e-8);
        assert_eq!(&want.y[2..], [0.0, 0.0]);
    }
}
