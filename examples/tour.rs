//! A tour of normkern on realistic activations: every operator on a transformer- or CNN-sized
//! tensor, timed, and checked against the float64 reference (`normkern-reference`, the one the
//! tests, the fuzz oracle and the benchmarks use: the textbook formulas in f64 on the same f32
//! inputs).
//!
//! `cargo run --release --example tour`

use normkern::{
    BatchNorm, BatchNormTraining, ConvKernel, GroupNorm, InOut, InstanceNorm, Isa, Kernels,
    LayerNorm, MeanVarianceNorm, Momentum, RmsNorm, RunningStats, SavedStats, Shape,
};
use normkern_reference::{self as reference, Dims, MvnAxes};
use std::time::Instant;

/// Deterministic activations: noise plus a smooth pattern, scaled and offset like real layers.
fn activations(len: usize, scale: f32, offset: f32, seed: u64) -> Vec<f32> {
    let noise = reference::signal(len, scale, offset, seed);
    noise
        .iter()
        .enumerate()
        .map(|(i, &v)| v + scale * (i as f32 * 0.001).sin())
        .collect()
}

fn max_error(got: &[f32], want: &[f64]) -> f64 {
    got.iter()
        .zip(want)
        .map(|(&g, &w)| (f64::from(g) - w).abs())
        .fold(0.0, f64::max)
}

/// Median wall time of `runs` calls, in microseconds.
fn time_us(runs: usize, mut f: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[runs / 2]
}

fn report(op: &str, layout: &str, shape: &str, x: &[f32], us: f64, err: f64) {
    let gbps = (2 * std::mem::size_of_val(x)) as f64 / (us * 1e3);
    println!("{op:<22} {layout:<5} {shape:<16} {us:>9.1} us {gbps:>7.1} GB/s   {err:.1e}");
}

fn main() {
    let k = Kernels::detect();
    let paths: Vec<&str> = Isa::available().map(Isa::name).collect();
    println!(
        "normkern tour: kernels {} (this CPU has: {})",
        k.isa(),
        paths.join(" ")
    );
    println!("each operator on a realistic activation; time is the median of 9 runs;");
    println!(
        "error is the largest |y - y_f64| against the float64 reference on the same f32 inputs\n"
    );
    println!(
        "{:<22} {:<5} {:<16} {:>12} {:>12}   max error",
        "operator", "", "shape", "time", "in+out"
    );
    // The operators' default epsilon, which every layer below keeps unless it sets its own.
    let eps = normkern::DEFAULT_EPS;

    // LayerNorm over a BERT-base activation whose features sit at an offset of 1e4 — where
    // subtracting an f32-rounded mean loses digits, and a pivot does not.
    let (rows, cols) = (512, 768);
    let x = activations(rows * cols, 1.0, 1.0e4, 1);
    let gamma = activations(cols, 0.2, 1.0, 2);
    let beta = activations(cols, 0.1, 0.0, 3);
    let mut y = vec![0.0; x.len()];
    let ln = LayerNorm::new().gamma(&gamma).beta(&beta);
    let shape = Shape::rows(rows, cols);
    let us = time_us(9, || {
        k.layer_norm(&ln, shape, InOut::new(&x, &mut y), None)
            .unwrap()
    });
    let want = reference::layer_norm(&x, cols, eps, Some(&gamma), Some(&beta)).y;
    report(
        "layer_norm (+1e4)",
        "NTC",
        "512x768",
        &x,
        us,
        max_error(&y, &want),
    );

    // RMSNorm over a LLaMA-sized hidden state.
    let (rows, cols) = (128, 4096);
    let x = activations(rows * cols, 2.0, 0.0, 4);
    let gamma = activations(cols, 0.2, 1.0, 5);
    let mut y = vec![0.0; x.len()];
    let rms = RmsNorm::new().eps(1e-6).gamma(&gamma);
    let shape = Shape::rows(rows, cols);
    let us = time_us(9, || {
        k.rms_norm(&rms, shape, InOut::new(&x, &mut y), None)
            .unwrap()
    });
    let want = reference::rms_norm(&x, cols, 1e-6, Some(&gamma)).y;
    report("rms_norm", "NTC", "128x4096", &x, us, max_error(&y, &want));

    // BatchNorm inference on a ResNet stem activation, and the same BatchNorm folded away.
    let (c, hw) = (64, 112 * 112);
    let shape = Shape::nchw(1, c, 112, 112);
    let x = activations(c * hw, 3.0, 0.5, 6);
    let (mean, var) = (activations(c, 0.5, 0.5, 7), activations(c, 0.2, 1.0, 8));
    let (gamma, beta) = (activations(c, 0.2, 1.0, 9), activations(c, 0.1, 0.0, 10));
    let bn = BatchNorm::new(&mean, &var).gamma(&gamma).beta(&beta);
    let mut y = vec![0.0; x.len()];
    let us = time_us(9, || {
        k.batch_norm_inference(&bn, shape, InOut::new(&x, &mut y))
            .unwrap()
    });
    let dims = Dims::channels_first(1, c, hw);
    let (want, _) =
        reference::batch_norm_inference(&x, &dims, &mean, &var, Some(&gamma), Some(&beta), eps);
    report(
        "batch_norm inference",
        "NCHW",
        "1x64x112x112",
        &x,
        us,
        max_error(&y, &want),
    );

    // BatchNorm training over a batch of sequences (per-feature statistics over N·T).
    let (n, t, c) = (32, 128, 768);
    let shape = Shape::ntc(n, t, c);
    let x = activations(n * t * c, 1.5, -2.0, 11);
    let (gamma, beta) = (activations(c, 0.2, 1.0, 12), activations(c, 0.1, 0.0, 13));
    let (mut running_mean, mut running_var) = (vec![0.0; c], vec![1.0; c]);
    let (mut saved_mean, mut saved_inv) = (vec![0.0; c], vec![0.0; c]);
    let mut y = vec![0.0; x.len()];
    let train = BatchNormTraining::new().gamma(&gamma).beta(&beta);
    let us = time_us(9, || {
        let running = RunningStats::new(
            &mut running_mean,
            &mut running_var,
            Momentum::PYTORCH_DEFAULT,
        );
        let saved = SavedStats::new(&mut saved_mean, &mut saved_inv);
        let io = InOut::new(&x, &mut y);
        k.batch_norm_training(&train, shape, io, Some(running), Some(saved))
            .unwrap()
    });
    let dims = Dims::channels_last(n, t, c);
    let want = reference::batch_norm_training(&x, &dims, eps, Some(&gamma), Some(&beta)).y;
    report(
        "batch_norm training",
        "NTC",
        "32x128x768",
        &x,
        us,
        max_error(&y, &want),
    );

    // InstanceNorm on a style-transfer feature map.
    let (c, hw) = (64, 128 * 128);
    let x = activations(c * hw, 4.0, 1.0, 14);
    let mut y = vec![0.0; x.len()];
    let shape = Shape::nchw(1, c, 128, 128);
    let us = time_us(9, || {
        k.instance_norm(&InstanceNorm::new(), shape, InOut::new(&x, &mut y), None)
            .unwrap()
    });
    // InstanceNorm is GroupNorm with a group per channel.
    let dims = Dims::channels_first(1, c, hw);
    let want = reference::group_norm(&x, &dims, c, eps, None, None).y;
    report(
        "instance_norm",
        "NCHW",
        "1x64x128x128",
        &x,
        us,
        max_error(&y, &want),
    );

    // GroupNorm(32) on a Stable Diffusion UNet activation, channels-last.
    let (hw, c, groups) = (64 * 64, 320, 32);
    let x = activations(hw * c, 1.0, 0.3, 15);
    let (gamma, beta) = (activations(c, 0.2, 1.0, 16), activations(c, 0.1, 0.0, 17));
    let mut y = vec![0.0; x.len()];
    let gn = GroupNorm::new(groups).gamma(&gamma).beta(&beta);
    let shape = Shape::nhwc(1, 64, 64, c);
    let us = time_us(9, || {
        k.group_norm(&gn, shape, InOut::new(&x, &mut y), None)
            .unwrap()
    });
    let dims = Dims::channels_last(1, hw, c);
    let want = reference::group_norm(&x, &dims, groups, eps, Some(&gamma), Some(&beta)).y;
    report(
        "group_norm (32)",
        "NHWC",
        "1x64x64x320",
        &x,
        us,
        max_error(&y, &want),
    );

    // ONNX MeanVarianceNormalization, default axes [0, 2, 3].
    let (n, c, hw) = (8, 32, 28 * 28);
    let x = activations(n * c * hw, 2.0, 5.0, 18);
    let mut y = vec![0.0; x.len()];
    let shape = Shape::nchw(n, c, 28, 28);
    let us = time_us(9, || {
        k.mean_variance_norm(&MeanVarianceNorm::new(), shape, InOut::new(&x, &mut y))
            .unwrap()
    });
    let dims = Dims::channels_first(n, c, hw);
    let want = reference::mvn(&x, &dims, MvnAxes::BatchAndSpatial).y;
    report(
        "mean_variance_norm",
        "NCHW",
        "8x32x28x28",
        &x,
        us,
        max_error(&y, &want),
    );

    fold_demo();
}

/// Folds a BatchNorm into the 3x3 convolution before it and checks the folded convolution
/// against convolution-then-BatchNorm on a feature map.
fn fold_demo() {
    let (cin, cout, h, w) = (16, 32, 20, 20);
    let input = activations(cin * h * w, 1.0, 0.0, 20);
    let mut weight = activations(cout * cin * 9, 0.1, 0.0, 21);
    let bias = activations(cout, 0.1, 0.0, 22);
    let (mean, var) = (
        activations(cout, 0.3, 0.1, 23),
        activations(cout, 0.2, 1.0, 24),
    );
    let (gamma, beta) = (
        activations(cout, 0.2, 1.0, 25),
        activations(cout, 0.1, 0.0, 26),
    );
    let bn = BatchNorm::new(&mean, &var).gamma(&gamma).beta(&beta);

    let (oh, ow) = (h - 2, w - 2);
    let conv = |weight: &[f32], bias: &[f32]| -> Vec<f32> {
        let mut out = vec![0.0f32; cout * oh * ow];
        for o in 0..cout {
            for y in 0..oh {
                for x in 0..ow {
                    let mut acc = bias[o];
                    for i in 0..cin {
                        for ky in 0..3 {
                            for kx in 0..3 {
                                acc += weight[((o * cin + i) * 3 + ky) * 3 + kx]
                                    * input[(i * h + y + ky) * w + x + kx];
                            }
                        }
                    }
                    out[(o * oh + y) * ow + x] = acc;
                }
            }
        }
        out
    };
    let conv_out = conv(&weight, &bias);
    let mut then_bn = vec![0.0; conv_out.len()];
    let k = Kernels::detect();
    let shape = Shape::nchw(1, cout, oh, ow);
    k.batch_norm_inference(&bn, shape, InOut::new(&conv_out, &mut then_bn))
        .unwrap();

    let mut folded_bias = vec![0.0; cout];
    let kernel = ConvKernel {
        in_per_group: cin,
        kh: 3,
        kw: 3,
    };
    bn.fold_into_conv(&mut weight, kernel, Some(&bias), &mut folded_bias)
        .unwrap();
    let folded = conv(&weight, &folded_bias);
    let err = folded
        .iter()
        .zip(&then_bn)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    println!(
        "\nfold: BatchNorm folded into a 3x3 conv {cin}->{cout} on {h}x{w}: \
         max |folded - conv-then-BN| = {err:.1e} (f32 conv either way)"
    );
}
