//! The layers BatchNorm folds into (a direct convolution, a linear layer) and the folded
//! weights themselves, in f64.

use crate::stats::Sum;

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
    /// The output tensor: `[n, c_out, out_h · out_w]`, channels-first.
    pub fn output_dims(&self) -> crate::Dims {
        crate::Dims::channels_first(self.n, self.c_out, self.out_h() * self.out_w())
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
                        let mut acc = Accumulation::new(bias, o);
                        for ci in 0..ipg {
                            let c = g * ipg + ci;
                            for di in 0..self.kh {
                                for dj in 0..self.kw {
                                    let xv = x
                                        [((n * self.c_in + c) * self.h + i + di) * self.w + j + dj];
                                    let wv = weight[((o * ipg + ci) * self.kh + di) * self.kw + dj];
                                    acc.add(xv, wv);
                                }
                            }
                        }
                        acc.push_into(&mut out, &mut abs);
                    }
                }
            }
        }
        (out, abs)
    }
}

/// One output of a layer: `bias + Σ x·w`, compensated, and `|bias| + Σ |x·w|`.
struct Accumulation {
    sum: Sum,
    size: f64,
}

impl Accumulation {
    fn new(bias: Option<&[f32]>, o: usize) -> Accumulation {
        let b = bias.map_or(0.0, |b| f64::from(b[o]));
        let mut sum = Sum::default();
        sum.add(b);
        Accumulation { sum, size: b.abs() }
    }

    fn add(&mut self, x: f32, w: f32) {
        let p = f64::from(x) * f64::from(w);
        self.sum.add(p);
        self.size += p.abs();
    }

    fn push_into(&self, out: &mut Vec<f64>, abs: &mut Vec<f64>) {
        out.push(self.sum.value());
        abs.push(self.size);
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
            let mut acc = Accumulation::new(bias, o);
            for (k, &xv) in row.iter().enumerate() {
                acc.add(xv, weight[o * in_features + k]);
            }
            acc.push_into(&mut out, &mut abs);
        }
    }
    (out, abs)
}

/// BatchNorm folded into the layer before it, given its per-channel `(scale, shift)` (see
/// [`crate::bn_scale_shift`]): each output channel's weights (`weight` holds the channels one
/// after another, as OIHW and `[out, in]` do) times its scale, and the bias
/// `bias · scale + shift`, that is `(bias - mean) · scale + beta`.
pub fn fold_weights(
    weight: &[f32],
    bias: Option<&[f32]>,
    scale_shift: &[(f64, f64)],
) -> (Vec<f64>, Vec<f64>) {
    let channels = scale_shift.len();
    let per_out = weight.len().checked_div(channels).unwrap_or(0);
    assert_eq!(
        weight.len(),
        per_out * channels,
        "whole channels of weights"
    );
    let folded = weight
        .iter()
        .enumerate()
        .map(|(i, &w)| f64::from(w) * scale_shift[i / per_out].0)
        .collect();
    let folded_bias = scale_shift
        .iter()
        .enumerate()
        .map(|(o, &(scale, shift))| bias.map_or(0.0, |b| f64::from(b[o])) * scale + shift)
        .collect();
    (folded, folded_bias)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_by_one_conv_is_linear() {
        let conv = Conv {
            n: 1,
            c_in: 2,
            h: 1,
            w: 1,
            c_out: 3,
            kh: 1,
            kw: 1,
            groups: 1,
        };
        let (x, w, b) = (
            [1.5, -2.0],
            [1.0, 2.0, 3.0, 4.0, -5.0, 6.0],
            [0.5, 0.0, -1.0],
        );
        let (c, c_abs) = conv.apply(&x, &w, Some(&b));
        let (l, l_abs) = linear(&x, &w, Some(&b), 2, 3);
        assert_eq!((c.clone(), c_abs), (l, l_abs));
        assert_eq!(c, [-2.0, -3.5, -20.5]);
    }

    #[test]
    fn folded_bias() {
        let (w, b) = fold_weights(
            &[1.0, 2.0, 3.0, 4.0],
            Some(&[1.0, -1.0]),
            &[(2.0, 0.5), (0.5, 0.0)],
        );
        assert_eq!(w, [2.0, 4.0, 1.5, 2.0]);
        assert_eq!(b, [2.5, -0.5]);
    }
}
