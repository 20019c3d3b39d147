//! normkern inside an engine: the two fused patterns engines run most, on realistic shapes,
//! each checked against float64 and timed against the unfused sequence of passes it replaces.
//!
//! 1. A pre-norm transformer block's residual stream in bf16 (LLaMA-7B hidden size):
//!    `residual += x; x = rms_norm(residual)` in one call (vLLM's `fused_add_rms_norm`),
//!    against an add pass and then the RMSNorm.
//! 2. A Stable Diffusion UNet GroupNorm(32) followed by SiLU on channels-last f16 data, in one
//!    call, against the GroupNorm and then a SiLU pass.
//!
//! ```sh
//! cargo run --release --example engine
//! ```

use normkern::{GroupNorm, InOut, Kernels, Residual, RmsNorm, Shape, Silu, bf16, f16};
use normkern_reference::{Activation, Dims, signal};
use std::hint::black_box;
use std::time::Instant;

fn main() {
    let k = Kernels::detect();
    println!("normkern inside an engine: kernels {}", k.isa());
    println!("time is the median of 15 runs; error is the largest |y - y_f64| over the tensor\n");
    residual_stream(&k);
    unet_group_norm(&k);
}

/// `residual += x; x = rms_norm(residual) * gamma` on `[128 tokens, 4096]` bf16.
fn residual_stream(k: &Kernels) {
    let (tokens, hidden) = (128, 4096);
    let shape = Shape::rows(tokens, hidden);
    let x0: Vec<bf16> = signal(tokens * hidden, 1.0, 0.0, 1)
        .into_iter()
        .map(bf16::from_f32)
        .collect();
    let r0: Vec<bf16> = signal(tokens * hidden, 4.0, 0.5, 2)
        .into_iter()
        .map(bf16::from_f32)
        .collect();
    let gamma = signal(hidden, 0.1, 1.0, 3);
    let rms = RmsNorm::new().eps(1e-6).gamma(&gamma);

    let (mut x, mut residual) = (x0.clone(), r0.clone());
    let fused = median_us(|| {
        x.copy_from_slice(&x0);
        residual.copy_from_slice(&r0);
        let io = InOut::in_place(&mut x);
        k.add_rms_norm(&rms, shape, io, Residual::accumulate(&mut residual), None)
            .unwrap();
    });
    // What the fused call replaces: an add pass (rounded to bf16), then the norm.
    let (mut x_u, mut residual_u) = (x0.clone(), r0.clone());
    let unfused = median_us(|| {
        x_u.copy_from_slice(&x0);
        residual_u.copy_from_slice(&r0);
        for (r, &v) in residual_u.iter_mut().zip(&x_u) {
            *r = bf16::from_f32(r.to_f32() + v.to_f32());
        }
        k.rms_norm(&rms, shape, InOut::new(&residual_u, &mut x_u), None)
            .unwrap();
    });
    assert_eq!(residual, residual_u, "the fused sum equals the unfused add");
    // Both timings include restoring the two inputs: take that out.
    let (mut x_c, mut r_c) = (x0.clone(), r0.clone());
    let copies = median_us(|| {
        x_c.copy_from_slice(&x0);
        r_c.copy_from_slice(&r0);
    });
    let sum: Vec<f32> = residual.iter().map(|v| v.to_f32()).collect();
    let want = normkern_reference::rms_norm(&sum, hidden, 1e-6, Some(&gamma));
    let error = max_error(x.iter().map(|v| v.to_f32()), &want.y);
    report(
        "add + rms_norm (bf16)",
        "128x4096",
        fused - copies,
        unfused - copies,
        error,
        "bf16 keeps 8 bits: half an ulp of |y| ~ 3 is 8e-3",
    );
}

/// GroupNorm(32) + SiLU on an NHWC `1x64x64x320` f16 activation.
fn unet_group_norm(k: &Kernels) {
    let (h, w, c, groups) = (64, 64, 320, 32);
    let shape = Shape::nhwc(1, h, w, c);
    let x: Vec<f16> = signal(h * w * c, 2.0, 0.3, 4)
        .into_iter()
        .map(f16::from_f32)
        .collect();
    let (gamma, beta) = (signal(c, 0.2, 1.0, 5), signal(c, 0.1, 0.0, 6));
    let gn = GroupNorm::new(groups).eps(1e-5).gamma(&gamma).beta(&beta);

    let mut y = vec![f16::ZERO; x.len()];
    let fused = median_us(|| {
        let io = InOut::new(&x, &mut y);
        k.group_norm(&gn.then(Silu), shape, io, None).unwrap();
    });
    let mut y_u = vec![f16::ZERO; x.len()];
    let unfused = median_us(|| {
        k.group_norm(&gn, shape, InOut::new(&x, &mut y_u), None)
            .unwrap();
        for v in y_u.iter_mut() {
            let t = v.to_f32();
            *v = f16::from_f32(t / (1.0 + (-t).exp()));
        }
    });
    let wide: Vec<f32> = x.iter().map(|v| v.to_f32()).collect();
    let dims = Dims::channels_last(1, h * w, c);
    let want =
        normkern_reference::group_norm(&wide, &dims, groups, 1e-5, Some(&gamma), Some(&beta));
    let want: Vec<f64> = want.y.iter().map(|&v| Activation::Silu.apply(v)).collect();
    let error = max_error(y.iter().map(|v| v.to_f32()), &want);
    report(
        "group_norm + silu (f16)",
        "NHWC 1x64x64x320",
        fused,
        unfused,
        error,
        "f16 keeps 11 bits: half an ulp of |y| ~ 4 is 2e-3",
    );
}

fn median_us(mut f: impl FnMut()) -> f64 {
    f();
    let mut times: Vec<f64> = (0..15)
        .map(|_| {
            let start = Instant::now();
            f();
            black_box(());
            start.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn max_error(got: impl Iterator<Item = f32>, want: &[f64]) -> f64 {
    got.zip(want)
        .map(|(g, &w)| (f64::from(g) - w).abs())
        .fold(0.0, f64::max)
}

fn report(name: &str, shape: &str, fused: f64, unfused: f64, error: f64, bound: &str) {
    println!(
        "{name:<26} {shape:<18} fused {fused:>8.1} us   unfused {unfused:>8.1} us   ({:.2}x the time)",
        fused / unfused
    );
    println!(
        "{:<26} max error against float64 {error:.1e} ({bound})\n",
        ""
    );
}
