//! The plain two-pass f32 loops a user would write, compiled into the same firmware: the
//! yardstick for instructions per value. Sum, then sum of squared deviations around that
//! mean, then normalize; BatchNorm inference is one scale-and-shift per value with
//! `scale = gamma / sqrt(var + eps)` per channel. Square roots use the board's (the FPU's
//! `vsqrt.f32` on the Cortex-M4F).

use crate::board::sqrtf;
use cases::{Case, Layout, Op};

fn mean_var(v: &[f32]) -> (f32, f32) {
    let n = v.len() as f32;
    let mut sum = 0.0f32;
    for &a in v {
        sum += a;
    }
    let mean = sum / n;
    let mut sq = 0.0f32;
    for &a in v {
        let d = a - mean;
        sq += d * d;
    }
    (mean, sq / n)
}

#[inline(never)]
pub fn layer_norm(x: &[f32], y: &mut [f32], cols: usize, gamma: &[f32], beta: &[f32], eps: f32) {
    for (xr, yr) in x.chunks_exact(cols).zip(y.chunks_exact_mut(cols)) {
        let (mean, var) = mean_var(xr);
        let inv = 1.0 / sqrtf(var + eps);
        for (((o, &a), &g), &b) in yr.iter_mut().zip(xr).zip(gamma).zip(beta) {
            *o = (a - mean) * inv * g + b;
        }
    }
}

#[inline(never)]
pub fn rms_norm(x: &[f32], y: &mut [f32], cols: usize, gamma: &[f32], eps: f32) {
    for (xr, yr) in x.chunks_exact(cols).zip(y.chunks_exact_mut(cols)) {
        let mut sq = 0.0f32;
        for &a in xr {
            sq += a * a;
        }
        let inv = 1.0 / sqrtf(sq / cols as f32 + eps);
        for ((o, &a), &g) in yr.iter_mut().zip(xr).zip(gamma) {
            *o = a * inv * g;
        }
    }
}

/// Channels the plain BatchNorm keeps scale and shift for, on the stack.
pub const NAIVE_CHANNELS: usize = 64;

/// BatchNorm inference on either layout; at most [`NAIVE_CHANNELS`] channels.
#[inline(never)]
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_inference(
    x: &[f32],
    y: &mut [f32],
    c: usize,
    layout: Layout,
    stats: (&[f32], &[f32]),
    gamma: &[f32],
    beta: &[f32],
    eps: f32,
) {
    let (mut scale, mut shift) = ([0.0f32; NAIVE_CHANNELS], [0.0f32; NAIVE_CHANNELS]);
    for ch in 0..c {
        scale[ch] = gamma[ch] / sqrtf(stats.1[ch] + eps);
        shift[ch] = beta[ch] - stats.0[ch] * scale[ch];
    }
    let (scale, shift) = (&scale[..c], &shift[..c]);
    match layout {
        Layout::ChannelsLast => {
            for (xr, yr) in x.chunks_exact(c).zip(y.chunks_exact_mut(c)) {
                for (((o, &a), &s), &t) in yr.iter_mut().zip(xr).zip(scale).zip(shift) {
                    *o = a * s + t;
                }
            }
        }
        Layout::ChannelsFirst => {
            let plane = x.len() / c;
            for (i, (xp, yp)) in x
                .chunks_exact(plane)
                .zip(y.chunks_exact_mut(plane))
                .enumerate()
            {
                let (s, t) = (scale[i % c], shift[i % c]);
                for (o, &a) in yp.iter_mut().zip(xp) {
                    *o = a * s + t;
                }
            }
        }
    }
}

/// GroupNorm on channels-first data (InstanceNorm is `groups = c`): each group's channels
/// are contiguous.
#[inline(never)]
#[allow(clippy::too_many_arguments)]
pub fn group_norm_nchw(
    x: &[f32],
    y: &mut [f32],
    c: usize,
    spatial: usize,
    groups: usize,
    gamma: &[f32],
    beta: &[f32],
    eps: f32,
) {
    let per = c / groups;
    let len = per * spatial;
    for (gi, (xg, yg)) in x.chunks_exact(len).zip(y.chunks_exact_mut(len)).enumerate() {
        let (mean, var) = mean_var(xg);
        let inv = 1.0 / sqrtf(var + eps);
        let first = (gi % groups) * per;
        for (j, (xp, yp)) in xg
            .chunks_exact(spatial)
            .zip(yg.chunks_exact_mut(spatial))
            .enumerate()
        {
            let (g, b) = (gamma[first + j], beta[first + j]);
            for (o, &a) in yp.iter_mut().zip(xp) {
                *o = (a - mean) * inv * g + b;
            }
        }
    }
}

/// Runs the naive loop of `case`'s operator; `false` if there is none for it.
#[allow(clippy::too_many_arguments)]
pub fn run(
    case: &Case,
    x: &[f32],
    y: &mut [f32],
    gamma: &[f32],
    beta: &[f32],
    stats: (&[f32], &[f32]),
) -> bool {
    let d = case.dims;
    let first = d.layout == Layout::ChannelsFirst;
    match case.op {
        Op::LayerNorm => layer_norm(x, y, d.c, gamma, beta, case.eps),
        Op::RmsNorm => rms_norm(x, y, d.c, gamma, case.eps),
        Op::BatchNormInference if d.c <= NAIVE_CHANNELS => {
            batch_norm_inference(x, y, d.c, d.layout, stats, gamma, beta, case.eps)
        }
        Op::GroupNorm { groups } if first => {
            group_norm_nchw(x, y, d.c, d.spatial, groups, gamma, beta, case.eps)
        }
        Op::InstanceNorm if first => {
            group_norm_nchw(x, y, d.c, d.spatial, d.c, gamma, beta, case.eps)
        }
        _ => return false,
    }
    true
}
