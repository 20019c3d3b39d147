//! A bare-metal binary that calls every normkern operator on static-sized buffers, with no
//! `std`, no allocator and no runtime: if normkern (without its `std` feature) ever needs any
//! of them, this crate stops compiling or linking. Built by `.ci/hardening` for
//! `thumbv7em-none-eabihf` (Cortex-M4F) and `riscv32imac-unknown-none-elf`, which also reports
//! the code size.
//!
//! Every input goes through `black_box`, and every output and result comes back out through
//! it, so the optimizer can neither constant-fold the kernels nor drop them.

#![no_std]
#![no_main]

mod bare;
mod workload;

use core::hint::black_box;
use normkern::{
    BatchNorm, BatchNormTraining, ConvKernel, GroupNorm, InOut, InstanceNorm, Isa, Kernels,
    LayerNorm, Layout, MeanVarianceNorm, Moments, Momentum, MvnAxes, RmsNorm, RunningStats,
    SavedStats, Shape,
};
use workload::{C, LEN, N, S};

/// The entry point the linker starts from (no runtime, no `main`).
#[unsafe(no_mangle)]
pub extern "C" fn _start() -> ! {
    let mut ok = true;
    for isa in Isa::available() {
        if let Ok(k) = Kernels::new(black_box(isa)) {
            ok &= every_operator(&k, Layout::ChannelsFirst);
            ok &= every_operator(&k, Layout::ChannelsLast);
        }
    }
    ok &= every_operator(&Kernels::detect(), black_box(Layout::ChannelsLast));
    black_box(ok);
    bare::idle()
}

fn shape(layout: Layout) -> Shape {
    match black_box(layout) {
        Layout::ChannelsFirst => Shape::channels_first(N, C, S),
        _ => Shape::channels_last(N, S, C),
    }
}

/// Calls each operator once; `true` when all succeeded.
fn every_operator(k: &Kernels, layout: Layout) -> bool {
    let shape = black_box(shape(layout));
    let mut x = [0.0f32; LEN];
    for (i, v) in x.iter_mut().enumerate() {
        *v = (i % 7) as f32 * 0.5 - 1.0;
    }
    let x = black_box(x);
    let mut y = [0.0f32; LEN];
    let gamma = black_box([1.5f32; C]);
    let beta = black_box([0.25f32; C]);
    let eps = black_box(normkern::DEFAULT_EPS);
    let (mut mean, mut inv) = ([0.0f32; N * S], [0.0f32; N * S]);
    let mut ok = true;

    // Moments.
    let m = k.moments(&x);
    let mut total = Moments::of_slice(&x[..LEN / 2]);
    total.push_slice(&x[LEN / 2..]);
    total.push(black_box(3.0));
    total.merge(&m);
    black_box((total.mean(), total.variance(), total.sample_variance()));

    // BatchNorm inference, training, folding.
    let running_mean = black_box([0.1f32; C]);
    let running_var = black_box([0.9f32; C]);
    let bn = BatchNorm::new(&running_mean, &running_var)
        .gamma(&gamma)
        .beta(&beta)
        .eps(eps);
    ok &= k
        .batch_norm_inference(&bn, shape, InOut::new(&x, &mut y))
        .is_ok();
    let (mut rm, mut rv) = ([0.0f32; C], [1.0f32; C]);
    let (mut sm, mut si) = ([0.0f32; C], [0.0f32; C]);
    let running = RunningStats::new(&mut rm, &mut rv, black_box(Momentum::PYTORCH_DEFAULT));
    let saved = SavedStats::new(&mut sm, &mut si);
    let p = BatchNormTraining::new().gamma(&gamma).beta(&beta).eps(eps);
    let io = InOut::new(&x, &mut y);
    ok &= k
        .batch_norm_training(&p, shape, io, Some(running), Some(saved))
        .is_ok();
    black_box((&rm, &rv, &sm, &si));
    let (mut scale, mut shift) = ([0.0f32; C], [0.0f32; C]);
    ok &= bn.scale_shift(&mut scale, &mut shift).is_ok();
    let mut weight = black_box([0.5f32; C * 4]);
    let mut folded = [0.0f32; C];
    let kernel = ConvKernel {
        in_per_group: 1,
        kh: 2,
        kw: 2,
    };
    ok &= bn
        .fold_into_conv(&mut weight, kernel, Some(&beta), &mut folded)
        .is_ok();
    ok &= bn
        .fold_into_linear(&mut weight, 4, None, &mut folded)
        .is_ok();
    black_box((&scale, &shift, &weight, &folded));

    // LayerNorm / RMSNorm over rows and over channels.
    let ln = LayerNorm::new().gamma(&gamma).beta(&beta).eps(eps);
    let rows = Shape::rows(N * S, C);
    let stats = SavedStats::new(&mut mean, &mut inv);
    ok &= k
        .layer_norm(&ln, rows, InOut::new(&x, &mut y), Some(stats))
        .is_ok();
    let stats = SavedStats::new(&mut mean, &mut inv);
    ok &= k
        .layer_norm(&ln, shape, InOut::new(&x, &mut y), Some(stats))
        .is_ok();
    let rms = RmsNorm::new().gamma(&gamma).eps(eps);
    ok &= k
        .rms_norm(&rms, rows, InOut::new(&x, &mut y), Some(&mut inv))
        .is_ok();
    let mut xy = x;
    ok &= k
        .rms_norm(&rms, shape, InOut::in_place(&mut xy), None)
        .is_ok();
    black_box((&mean, &inv, &xy));

    // InstanceNorm, GroupNorm, MVN.
    let (mut gm, mut gi) = ([0.0f32; N * C], [0.0f32; N * C]);
    let saved = SavedStats::new(&mut gm, &mut gi);
    let p = InstanceNorm::new().gamma(&gamma).beta(&beta).eps(eps);
    ok &= k
        .instance_norm(&p, shape, InOut::new(&x, &mut y), Some(saved))
        .is_ok();
    let saved = SavedStats::new(&mut gm[..N * 3], &mut gi[..N * 3]);
    let p = GroupNorm::new(black_box(3))
        .gamma(&gamma)
        .beta(&beta)
        .eps(eps);
    ok &= k
        .group_norm(&p, shape, InOut::new(&x, &mut y), Some(saved))
        .is_ok();
    for axes in [
        MvnAxes::BatchAndSpatial,
        MvnAxes::Spatial,
        MvnAxes::ChannelsAndSpatial,
    ] {
        let p = MeanVarianceNorm::new().axes(black_box(axes));
        ok &= k
            .mean_variance_norm(&p, shape, InOut::new(&x, &mut y))
            .is_ok();
    }
    black_box((&gm, &gi, &y));

    // Zero-copy byte views.
    let mut bytes = black_box([0u8; 16]);
    ok &= normkern::bytes::as_f32(&bytes).is_ok() | normkern::bytes::as_f32(&bytes[1..]).is_err();
    if let Ok(view) = normkern::bytes::as_f32_mut(&mut bytes) {
        view[0] = black_box(1.0);
    }
    black_box(&bytes);
    ok
}
