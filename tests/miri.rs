//! Small-shape tests of every path through the crate's unsafe code, sized for Miri
//! (`cargo +nightly miri test --test miri`) and also run by `cargo test`.
//!
//! They cover the raw-pointer kernels (full vectors, unrolled pairs, padded tails, partial
//! stores), the `InOut` aliasing of in-place calls, sub-slices at odd offsets, the column
//! windows of the channels-last engine, every operator once in both layouts, and the byte
//! views, on every instruction set available. Under Miri that is `Isa::Scalar` and
//! `Isa::Portable` (wide's SSE2 backend) by default; building with
//! `RUSTFLAGS="-C target-feature=+avx2,+fma,+avx512f"` makes the AVX2 and AVX-512 kernels
//! statically available, and Miri interprets their intrinsics too (`.ci/hardening` runs both).
//!
//! Results are compared between instruction sets and in-place vs out-of-place; correctness
//! against float64 is the business of the other test suites.

use normkern::{
    BatchNorm, BatchNormTraining, ConvKernel, GroupNorm, InOut, InstanceNorm, Isa, Kernels,
    LayerNorm, MeanVarianceNorm, Moments, Momentum, MvnAxes, NormError, RmsNorm, RunningStats,
    SavedStats, Schedule, Shape,
};

const SCHEDULES: [Schedule; 2] = [Schedule::Overlapped, Schedule::Separate];

/// Deterministic, unround test data: distinct values around `offset`.
fn data(len: usize, offset: f32) -> Vec<f32> {
    (0..len)
        .map(|i| offset + ((i * 7919 + 13) % 101) as f32 * 0.173 - 8.0)
        .collect()
}

/// Every available set, the schedules alternating (Portable separate, AVX2 overlapped).
fn kernels() -> Vec<Kernels> {
    let all: Vec<Kernels> = Isa::available()
        .zip(SCHEDULES.into_iter().cycle())
        .map(|(isa, schedule)| Kernels::new(isa).unwrap().with_schedule(schedule))
        .collect();
    assert_eq!(all[0].isa(), Isa::Scalar);
    assert!(all.iter().any(|k| k.isa() == Isa::Portable));
    all
}

/// Two results of the same computation on different instruction sets: a few ulps apart
/// (FMA vs separate multiply and add, different summation orders).
fn assert_close(what: &str, isa: Isa, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-4 * (1.0 + w.abs()) || (g.is_nan() && w.is_nan()),
            "{what} on {isa}: [{i}] = {g}, scalar {w}"
        );
    }
}

fn bits(x: &[f32]) -> Vec<u32> {
    x.iter().map(|v| v.to_bits()).collect()
}

/// Runs `op` out of place (on `x[1..]`, so vectors start at odd offsets) and in place, on
/// every instruction set; checks in place == out of place bitwise, the ISAs against scalar,
/// and returns the scalar output.
fn each_isa(
    what: &str,
    x: &[f32],
    op: impl Fn(&Kernels, InOut<'_>) -> Result<(), NormError>,
) -> Vec<f32> {
    let mut shifted = vec![0.0f32; x.len() + 1];
    shifted[1..].copy_from_slice(x);
    let mut scalar = None;
    for k in kernels() {
        let mut y = vec![f32::NAN; x.len() + 1];
        op(&k, InOut::new(&shifted[1..], &mut y[1..])).unwrap();
        let y = y[1..].to_vec();
        let mut xy = shifted.clone();
        op(&k, InOut::in_place(&mut xy[1..])).unwrap();
        assert_eq!(
            bits(&xy[1..]),
            bits(&y),
            "{what} on {}: in place differs",
            k.isa()
        );
        match &scalar {
            None => scalar = Some(y),
            Some(s) => assert_close(what, k.isa(), &y, s),
        }
    }
    scalar.unwrap()
}

/// Under Miri only statically enabled instruction sets are available: with
/// `-C target-feature=+avx2,+fma` that includes AVX2 (Miri interprets its intrinsics; it cannot
/// run AVX-512's).
#[test]
fn instruction_sets() {
    let isas: Vec<Isa> = kernels().iter().map(|k| k.isa()).collect();
    println!("instruction sets under test: {isas:?}");
    if cfg!(all(
        target_feature = "avx2",
        target_feature = "fma",
        target_arch = "x86_64"
    )) {
        assert!(isas.contains(&Isa::Avx2));
    }
    for isa in Isa::ALL {
        assert_eq!(Kernels::new(isa).is_ok(), isa.is_available());
    }
}

#[test]
fn moments_tails_and_blocks() {
    // Lengths around every vector width (1, 8, 16) and the unrolled step (4 vectors).
    let x = data(70, 3.0);
    for len in [0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 70] {
        let scalar = Kernels::new(Isa::Scalar).unwrap().moments(&x[..len]);
        assert_eq!(scalar.count(), len as u64);
        for k in kernels() {
            let m = k.moments(&x[1..len.max(1)]);
            assert_eq!(m.count(), len.max(1) as u64 - 1);
            let m = k.moments(&x[..len]);
            assert_eq!(m.count(), len as u64);
            if len > 0 {
                let (a, b) = (m.mean().unwrap(), scalar.mean().unwrap());
                assert!(
                    (a - b).abs() <= 1e-5 * (1.0 + b.abs()),
                    "len {len} {}",
                    k.isa()
                );
                let (a, b) = (m.variance().unwrap(), scalar.variance().unwrap());
                assert!((a - b).abs() <= 1e-4 * (1.0 + b), "len {len} {}", k.isa());
            }
        }
    }
    let mut pushed = Moments::new();
    for &v in &x {
        pushed.push(v);
    }
    let mut merged = Moments::of_slice(&x[..20]);
    merged.push_slice(&x[20..]);
    merged.merge(&Moments::new());
    assert_eq!(merged.count(), pushed.count());
    assert!((merged.variance().unwrap() - pushed.variance().unwrap()).abs() < 1e-3);
}

#[test]
fn layer_norm_rows() {
    for cols in [1, 3, 8, 17, 33] {
        let x = data(2 * cols, 100.0);
        let rows = Shape::rows(2, cols);
        let gamma = data(cols, 1.0);
        let beta = data(cols, -2.0);
        let p = LayerNorm::new().gamma(&gamma).beta(&beta);
        each_isa("layer_norm", &x, |k, io| k.layer_norm(&p, rows, io, None));
        // Gamma only, beta only, neither: the other three specializations of the row kernel.
        for p in [
            LayerNorm::new().gamma(&gamma),
            LayerNorm::new().beta(&beta),
            LayerNorm::new().eps(0.0),
        ] {
            each_isa("layer_norm", &x, |k, io| k.layer_norm(&p, rows, io, None));
        }
        let (mut mean, mut inv) = (vec![0.0; 2], vec![0.0; 2]);
        let stats = SavedStats::new(&mut mean, &mut inv);
        let mut y = vec![0.0; x.len()];
        Kernels::scalar()
            .layer_norm(&p, rows, InOut::new(&x, &mut y), Some(stats))
            .unwrap();
        assert!(inv.iter().all(|v| v.is_finite() && *v > 0.0));
    }
}

/// Rows of huge or tiny magnitude take the power-of-two scaled path of the row statistics.
#[test]
fn scaled_rows() {
    for scale in [1e25f32, 1e-25] {
        for cols in [5, 16, 21] {
            let x: Vec<f32> = data(2 * cols, 0.0).iter().map(|v| v * scale).collect();
            let rows = Shape::rows(2, cols);
            let p = LayerNorm::new().eps(0.0);
            each_isa("layer_norm (scaled)", &x, |k, io| {
                k.layer_norm(&p, rows, io, None)
            });
            let p = RmsNorm::new().eps(0.0);
            each_isa("rms_norm (scaled)", &x, |k, io| {
                let mut inv_rms = [0.0; 2];
                k.rms_norm(&p, rows, io, Some(&mut inv_rms))
            });
        }
    }
}

#[test]
fn channel_reductions_both_layouts() {
    for (n, c, s) in [(1, 3, 5), (1, 9, 17), (2, 17, 2)] {
        for shape in [
            Shape::channels_first(n, c, s),
            Shape::channels_last(n, s, c),
        ] {
            let x = data(n * c * s, -50.0);
            let gamma = data(c, 0.5);
            let beta = data(c, 1.0);
            let ln = LayerNorm::new().gamma(&gamma).beta(&beta);
            each_isa("layer_norm over channels", &x, |k, io| {
                let (mut m, mut i) = (vec![0.0; n * s], vec![0.0; n * s]);
                let stats = SavedStats::new(&mut m, &mut i);
                k.layer_norm(&ln, shape, io, Some(stats))
            });
            let rms = RmsNorm::new().gamma(&gamma);
            each_isa("rms_norm over channels", &x, |k, io| {
                let mut inv_rms = vec![0.0; n * s];
                k.rms_norm(&rms, shape, io, Some(&mut inv_rms))
            });
        }
    }
    for cols in [1, 19] {
        let x = data(3 * cols, 0.0);
        let rows = Shape::rows(3, cols);
        let gamma = data(cols, 1.0);
        let p = RmsNorm::new().gamma(&gamma);
        each_isa("rms_norm", &x, |k, io| k.rms_norm(&p, rows, io, None));
        let p = RmsNorm::new();
        each_isa("rms_norm", &x, |k, io| {
            let mut inv_rms = [0.0; 3];
            k.rms_norm(&p, rows, io, Some(&mut inv_rms))
        });
    }
}

#[test]
fn batch_norm_inference_and_fold() {
    for (n, c, s) in [(1, 1, 1), (2, 3, 7), (1, 20, 9), (3, 5, 16)] {
        let mean = data(c, 1.0);
        let var: Vec<f32> = data(c, 20.0).iter().map(|v| v.abs() + 0.1).collect();
        let gamma = data(c, 2.0);
        let beta = data(c, -1.0);
        let bn = BatchNorm::new(&mean, &var).gamma(&gamma).beta(&beta);
        for shape in [
            Shape::channels_first(n, c, s),
            Shape::channels_last(n, s, c),
        ] {
            let x = data(n * c * s, 3.0);
            each_isa("batch_norm_inference", &x, |k, io| {
                k.batch_norm_inference(&bn, shape, io)
            });
        }
        let (mut scale, mut shift) = (vec![0.0; c], vec![0.0; c]);
        bn.scale_shift(&mut scale, &mut shift).unwrap();
        let kernel = ConvKernel {
            in_per_group: 2,
            kh: 3,
            kw: 1,
        };
        let mut weight = data(c * 6, 0.0);
        let bias = data(c, 0.5);
        let mut folded = vec![0.0; c];
        bn.fold_into_conv(&mut weight, kernel, Some(&bias), &mut folded)
            .unwrap();
        bn.fold_into_linear(&mut weight, 6, None, &mut folded)
            .unwrap();
    }
}

/// The channels-last engine works in windows of columns (1024 with `std`, 128 without): a
/// channel count just over a window runs a full window and a one-column one.
#[test]
fn channels_last_column_windows() {
    // Miri runs the crate without `std` (see `.ci/hardening`), where the window is 128.
    let c = if cfg!(miri) { 130 } else { 1030 };
    let (n, s) = (1, 2);
    let shape = Shape::channels_last(n, s, c);
    let x = data(n * s * c, 7.0);
    let mean = data(c, 7.0);
    let var = vec![2.0; c];
    let bn = BatchNorm::new(&mean, &var);
    each_isa("batch_norm_inference (windows)", &x, |k, io| {
        k.batch_norm_inference(&bn, shape, io)
    });
    let p = BatchNormTraining::new();
    each_isa("batch_norm_training (windows)", &x, |k, io| {
        k.batch_norm_training(&p, shape, io, None, None)
    });
    // One group wider than a window, sliced across windows.
    let p = GroupNorm::new(1);
    each_isa("group_norm (wide group)", &x, |k, io| {
        k.group_norm(&p, shape, io, None)
    });
}

#[test]
fn batch_norm_training_every_momentum() {
    let cases = [
        ((2, 3, 5), Momentum::PYTORCH_DEFAULT),
        ((1, 2, 17), Momentum::ONNX_DEFAULT),
        ((4, 9, 1), Momentum::CumulativeAverage { batches: 3 }),
    ];
    for ((n, c, s), momentum) in cases {
        for shape in [
            Shape::channels_first(n, c, s),
            Shape::channels_last(n, s, c),
        ] {
            let x = data(n * c * s, 10.0);
            let gamma = data(c, 1.5);
            let beta = data(c, 0.0);
            let p = BatchNormTraining::new().gamma(&gamma).beta(&beta);
            {
                each_isa("batch_norm_training", &x, |k, io| {
                    let (mut rm, mut rv) = (vec![0.0; c], vec![1.0; c]);
                    let (mut sm, mut si) = (vec![0.0; c], vec![0.0; c]);
                    let running = RunningStats::new(&mut rm, &mut rv, momentum);
                    let saved = SavedStats::new(&mut sm, &mut si);
                    let r = k.batch_norm_training(&p, shape, io, Some(running), Some(saved));
                    assert!(rv.iter().chain(&si).all(|v| v.is_finite()));
                    r
                });
            }
        }
    }
}

#[test]
fn instance_group_and_mvn() {
    for (n, c, s) in [(1, 4, 3), (2, 6, 9)] {
        for shape in [
            Shape::channels_first(n, c, s),
            Shape::channels_last(n, s, c),
        ] {
            let x = data(n * c * s, -3.0);
            let gamma = data(c, 1.0);
            let beta = data(c, 0.25);
            let p = InstanceNorm::new().gamma(&gamma).beta(&beta);
            each_isa("instance_norm", &x, |k, io| {
                let (mut m, mut i) = (vec![0.0; n * c], vec![0.0; n * c]);
                let saved = SavedStats::new(&mut m, &mut i);
                k.instance_norm(&p, shape, io, Some(saved))
            });
            for groups in [1, 2] {
                let p = GroupNorm::new(groups).gamma(&gamma).beta(&beta);
                each_isa("group_norm", &x, |k, io| {
                    let (mut m, mut i) = (vec![0.0; n * groups], vec![0.0; n * groups]);
                    let saved = SavedStats::new(&mut m, &mut i);
                    k.group_norm(&p, shape, io, Some(saved))
                });
            }
            for axes in [
                MvnAxes::BatchAndSpatial,
                MvnAxes::Spatial,
                MvnAxes::ChannelsAndSpatial,
            ] {
                let p = MeanVarianceNorm::new().axes(axes);
                each_isa("mean_variance_norm", &x, |k, io| {
                    k.mean_variance_norm(&p, shape, io)
                });
            }
        }
    }
}

/// Non-finite values and empty tensors go through the same pointer code.
#[test]
fn non_finite_and_empty() {
    let mut x = data(2 * 9, 0.0);
    x[3] = f32::NAN;
    x[12] = f32::INFINITY;
    let ln = LayerNorm::new();
    for k in kernels() {
        let mut y = vec![0.0; x.len()];
        k.layer_norm(&ln, Shape::rows(2, 9), InOut::new(&x, &mut y), None)
            .unwrap();
        assert!(y.iter().all(|v| v.is_nan()));
        let m = k.moments(&x);
        assert!(m.variance().unwrap().is_nan());
        let mut empty: [f32; 0] = [];
        k.layer_norm(&ln, Shape::rows(0, 4), InOut::in_place(&mut empty), None)
            .unwrap();
        let shape = Shape::channels_last(0, 3, 5);
        k.instance_norm(
            &InstanceNorm::new(),
            shape,
            InOut::in_place(&mut empty),
            None,
        )
        .unwrap();
        k.mean_variance_norm(&MeanVarianceNorm::new(), shape, InOut::in_place(&mut empty))
            .unwrap();
    }
}

/// Invalid calls return before touching anything.
#[test]
fn errors_leave_buffers_untouched() {
    let k = Kernels::new(Isa::Portable).unwrap();
    let x = data(10, 0.0);
    let mut y = vec![-7.0; 9];
    let rows = Shape::rows(2, 5);
    assert!(
        k.layer_norm(&LayerNorm::new(), rows, InOut::new(&x, &mut y), None)
            .is_err()
    );
    assert!(y.iter().all(|&v| v == -7.0));
    let mut xy = x.clone();
    let mut inv_rms = vec![-7.0; 3];
    let r = k.rms_norm(
        &RmsNorm::new(),
        rows,
        InOut::in_place(&mut xy),
        Some(&mut inv_rms),
    );
    assert!(r.is_err());
    assert_eq!(bits(&xy), bits(&x));
    assert!(inv_rms.iter().all(|&v| v == -7.0));
    let shape = Shape::channels_first(1, 2, 5);
    let (mut m, mut i) = (vec![-7.0; 3], vec![-7.0; 3]);
    let saved = SavedStats::new(&mut m, &mut i);
    let r = k.group_norm(
        &GroupNorm::new(2),
        shape,
        InOut::in_place(&mut xy),
        Some(saved),
    );
    assert!(r.is_err());
    assert_eq!(bits(&xy), bits(&x));
    assert!(m.iter().chain(&i).all(|&v| v == -7.0));
}

#[test]
fn byte_views() {
    let values = [1.0f32, -2.5, 3.25, 0.0];
    let mut bytes = [0u8; 24];
    let at = bytes.as_ptr().align_offset(4);
    assert!(at < 4);
    for (i, v) in values.iter().enumerate() {
        bytes[at + 4 * i..at + 4 * i + 4].copy_from_slice(&v.to_ne_bytes());
    }
    assert_eq!(
        normkern::bytes::as_f32(&bytes[at..at + 16]).unwrap(),
        &values
    );
    let view = normkern::bytes::as_f32_mut(&mut bytes[at..at + 16]).unwrap();
    view[0] = 4.0;
    assert_eq!(normkern::bytes::as_f32(&bytes[at..at + 4]).unwrap(), &[4.0]);
    assert!(normkern::bytes::as_f32(&bytes[at + 1..at + 17]).is_err());
    assert!(normkern::bytes::as_f32_mut(&mut bytes[at + 2..at + 18]).is_err());
    assert!(normkern::bytes::as_f32(&bytes[at..at + 6]).is_err());
}
