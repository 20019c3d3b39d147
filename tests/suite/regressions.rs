//! Minimal, deterministic reproductions of what the property suite (`tests/suite/properties.rs`)
//! found, one test per root cause. Each asserts the correct behaviour, with the tolerances of
//! `tests/common/check.rs` (64u relative to `1 + |x̂|`), on every available instruction set.
//! The docs say what was observed when the test was written and where the cause lies.

use crate::common::check::{U, Y_TOL};
use normkern::{
    BatchNorm, BatchNormTraining, ErrorKind, InOut, InstanceNorm, Isa, Kernels, LayerNorm,
    MeanVarianceNorm, Moments, Momentum, RmsNorm, RunningStats, SavedStats, Shape,
};
use normkern_reference::Stats;

/// Normalizes with `op` on every instruction set; panics with the worst error (in units of u,
/// relative to `1 + |x̂|`) if it exceeds [`Y_TOL`]. `rms`: RMSNorm semantics (no centering).
fn assert_normalizes(what: &str, x: &[f32], rms: bool, op: impl Fn(Kernels, &[f32], &mut [f32])) {
    let st = Stats::of(x);
    let (center, spread) = if rms {
        (0.0, st.mean_square)
    } else {
        (st.mean, st.var)
    };
    let want: Vec<f64> = x
        .iter()
        .map(|&v| (f64::from(v) - center) / spread.sqrt())
        .collect();
    let mut report = vec![];
    for isa in Isa::available() {
        let mut y = vec![0.0; x.len()];
        op(Kernels::new(isa).unwrap(), x, &mut y);
        let worst = y
            .iter()
            .zip(&want)
            .map(|(&g, &w)| (f64::from(g) - w).abs() / (1.0 + w.abs()))
            .fold(0.0, f64::max);
        if worst.is_nan() || worst > Y_TOL {
            report.push(format!("{isa}: {:.0}u", worst / U));
        }
    }
    assert!(
        report.is_empty(),
        "{what}: error above 64u on {}",
        report.join(", ")
    );
}

/// Column engine (channels-last BatchNorm/GroupNorm/InstanceNorm/MVN, channels-first
/// LayerNorm/RMSNorm over channels): each column is accumulated by Welford around the value in
/// the first row of its 1024-row block (`src/ops/columns.rs`). When that value is an outlier,
/// every update rounds at the scale of `|pivot - mean|`, not of the spread: observed 423-430u
/// (2.5e-5) at 1024 rows with the first value 100σ out, on every instruction set. (Rows and
/// planes no longer show this: their two-pass kernels correct the mean.)
/// Fixed by corrected two-pass statistics per cached block, centered on each column's mean.
#[test]
fn column_engine_outlier_in_first_row() {
    // A sawtooth in [-0.5, 0.5): structured data, whose rounding errors do not cancel.
    let mut x: Vec<f32> = (0..1024)
        .map(|i| (i * 37 % 101) as f32 / 101.0 - 0.5)
        .collect();
    x[0] = 100.0;
    let n = x.len();
    assert_normalizes(
        "BatchNorm training NTC [1, 1024, 1]",
        &x,
        false,
        |k, x, y| {
            let p = BatchNormTraining::new().eps(0.0);
            k.batch_norm_training(&p, Shape::ntc(1, n, 1), InOut::new(x, y), None, None)
                .unwrap();
        },
    );
    assert_normalizes(
        "LayerNorm over 1024 channels, NCL [1, 1024, 1]",
        &x,
        false,
        |k, x, y| {
            let p = LayerNorm::new().eps(0.0);
            k.layer_norm(&p, Shape::ncl(1, n, 1), InOut::new(x, y), None)
                .unwrap();
        },
    );
}

/// Column engine again: Welford keeps the variance in f32 without the power-of-two scaling
/// the row and plane kernels now use, so for |x| ≲ 1e-19 the variance is subnormal and loses
/// digits; with eps = 0 nothing masks it. Observed for `[a, -a, a/2, -a/2]`: 50u at a = 1e-20,
/// 156u at 1e-21, 3% at 1e-22, 56% at 1e-23 (every instruction set).
/// Fixed by per-column power-of-two scaling and f64 merging of the blocks.
#[test]
fn column_engine_tiny_values_with_eps_zero() {
    for a in [1e-20f32, 1e-21, 1e-22, 1e-23] {
        let x = [a, -a, 0.5 * a, -0.5 * a];
        assert_normalizes(
            &format!("BatchNorm training NTC, a = {a:e}"),
            &x,
            false,
            |k, x, y| {
                let p = BatchNormTraining::new().eps(0.0);
                k.batch_norm_training(&p, Shape::ntc(1, 4, 1), InOut::new(x, y), None, None)
                    .unwrap();
            },
        );
        assert_normalizes(
            &format!("LayerNorm channels NCL, a = {a:e}"),
            &x,
            false,
            |k, x, y| {
                let p = LayerNorm::new().eps(0.0);
                k.layer_norm(&p, Shape::ncl(1, 4, 1), InOut::new(x, y), None)
                    .unwrap();
            },
        );
        assert_normalizes(
            &format!("RMSNorm channels NCL, a = {a:e}"),
            &x,
            true,
            |k, x, y| {
                let p = RmsNorm::new().eps(0.0);
                k.rms_norm(&p, Shape::ncl(1, 4, 1), InOut::new(x, y), None)
                    .unwrap();
            },
        );
    }
}

/// Two-pass kernels (`src/kernels/generic.rs`) fold their f32 partial sums into f64 only
/// between runs, so one long run (a LayerNorm row, or a group's contiguous planes, up to 64Ki
/// values) sums up to `len / (4 · LANES)` terms per f32 accumulator. Integer-valued data rounds
/// systematically. Observed for one row of 65536 values: inv_std off by 110u (AVX2) and 72u
/// (AVX-512) for one pattern, 73u (portable) and 96u (AVX2) for another; in the property
/// suite the scalar path exceeds 64u from ~5k-value groups (up to ~150u at 20k).
/// Fixed by folding into f64 every 256 vectors inside a run too.
#[test]
fn one_long_run_is_summed_in_blocks() {
    let n = 65536u64;
    type Pattern = (&'static str, fn(u64) -> f32);
    let patterns: [Pattern; 2] = [
        ("hash % 7 - 3", |i| {
            (((i * 2_654_435_761) >> 13) % 7) as f32 - 3.0
        }),
        ("i² % 7 - 3", |i| ((i * i) % 7) as f32 - 3.0),
    ];
    let mut report = vec![];
    for (name, pattern) in patterns {
        let x: Vec<f32> = (0..n).map(pattern).collect();
        let st = Stats::of(&x);
        for isa in Isa::available() {
            let k = Kernels::new(isa).unwrap();
            let mut y = vec![0.0; x.len()];
            let (mut mean, mut inv) = ([0.0f32], [0.0f32]);
            let saved = SavedStats::new(&mut mean, &mut inv);
            let p = LayerNorm::new().eps(0.0);
            k.layer_norm(
                &p,
                Shape::rows(1, x.len()),
                InOut::new(&x, &mut y),
                Some(saved),
            )
            .unwrap();
            let err = (f64::from(inv[0]) * st.std() - 1.0).abs();
            if err > Y_TOL {
                report.push(format!("{name} on {isa}: {:.0}u", err / U));
            }
        }
    }
    assert!(
        report.is_empty(),
        "inv_std off by more than 64u: {}",
        report.join(", ")
    );
}

/// `Moments::push` (`src/moments.rs`) adds `(d·e - var) / n` to an f32 variance: once that is
/// below half an ulp of the variance (n ≳ 10⁷) the small negative updates round away and the
/// large positive ones do not, so the variance drifts upward. Observed after 10⁷ pushes of
/// values in [0, 1): variance 0.0837667 instead of 0.0833332 (+0.52%); `Moments::of_slice` on
/// the same values is within 5e-7.
/// Fixed by compensated (TwoSum) accumulation in `push`.
#[test]
fn push_does_not_drift_on_long_streams() {
    let n = 10_000_000u64;
    let value = |i: u64| ((i * 7919 % 1000) as f32) / 1000.0;
    let mut m = Moments::new();
    let (mut sum, mut squares) = (0.0f64, 0.0f64);
    for i in 0..n {
        let v = value(i);
        m.push(v);
        sum += f64::from(v);
        squares += f64::from(v) * f64::from(v);
    }
    let mean = sum / n as f64;
    let var = squares / n as f64 - mean * mean;
    let got = f64::from(m.variance().unwrap());
    let rel = (got - var).abs() / var;
    // The bound of the property suite's push test: 4 √n u.
    let bound = 4.0 * (n as f64).sqrt() * U;
    assert!(
        rel <= bound,
        "variance {got} vs {var}: relative error {rel:.2e} > {bound:.2e}"
    );
}

/// Spreads so small that `1 / std` exceeds f32's range (std ≲ 3e-39, subnormal inputs) with
/// eps = 0: the inverse std overflows to infinity, which the operators read as "constant group"
/// and output beta (0) instead of ±1. Outside the documented magnitudes (1e-20..1e18), and
/// ONNX/PyTorch in f32 give NaN here, hence ignored; kept to document the limit.
#[test]
#[ignore = "subnormal spreads are outside the documented range; documents the limit"]
fn subnormal_spread_with_eps_zero() {
    let x = [1e-42f32, -1e-42];
    assert_normalizes("LayerNorm [1e-42, -1e-42]", &x, false, |k, x, y| {
        let p = LayerNorm::new().eps(0.0);
        k.layer_norm(&p, Shape::rows(1, 2), InOut::new(x, y), None)
            .unwrap();
    });
}

/// Found by the `batch_norm` fuzz target: channels-last BatchNorm inference on an empty tensor
/// with more channels than one column window panicked (the second window's offset lay past the
/// empty buffer). Fixed by returning before any kernel runs when the tensor holds no values.
#[test]
fn empty_channels_last_batch_norm_inference_with_many_channels() {
    let c = 3000;
    let (mean, var) = (vec![0.0; c], vec![1.0; c]);
    for isa in Isa::available() {
        let k = Kernels::new(isa).unwrap();
        for shape in [Shape::ntc(0, 5, c), Shape::ntc(3, 0, c)] {
            let bn = BatchNorm::new(&mean, &var);
            assert_eq!(
                k.batch_norm_inference(&bn, shape, InOut::<f32>::new(&[], &mut [])),
                Ok(())
            );
        }
    }
}

/// Found by the `mvn` fuzz target: channels-first MVN over its default axes with an empty batch
/// panicked (channel 1's planes started past the empty buffer).
#[test]
fn empty_batch_mean_variance_norm() {
    for isa in Isa::available() {
        let k = Kernels::new(isa).unwrap();
        let p = MeanVarianceNorm::new();
        let shape = Shape::nchw(0, 4, 3, 3);
        assert_eq!(
            k.mean_variance_norm(&p, shape, InOut::<f32>::new(&[], &mut [])),
            Ok(())
        );
    }
}

/// Found by the fuzz targets: a shape with a zero dimension holds no values whatever the other
/// dimensions are, but `Shape::len` refused it when their product overflowed; and operators
/// walked the huge other dimensions of such empty tensors (hours for 2^40). Both now answer at
/// once.
#[test]
fn empty_shapes_with_huge_dimensions() {
    let huge = 1usize << 40;
    assert_eq!(
        Shape::channels_first(usize::MAX, usize::MAX, 0).len(),
        Some(0)
    );
    assert_eq!(Shape::channels_last(huge, 0, huge).len(), Some(0));
    let k = Kernels::detect();
    let start = std::time::Instant::now();
    let ln = LayerNorm::new();
    let shape = Shape::channels_first(huge, 5, 0);
    assert_eq!(
        k.layer_norm(&ln, shape, InOut::<f32>::new(&[], &mut []), None),
        Ok(())
    );
    let shape = Shape::channels_last(huge, 7, 0);
    assert_eq!(
        k.instance_norm(
            &InstanceNorm::new(),
            shape,
            InOut::<f32>::new(&[], &mut []),
            None
        ),
        Ok(())
    );
    let shape = Shape::channels_last(huge, 3, 0);
    assert_eq!(
        k.mean_variance_norm(
            &MeanVarianceNorm::new(),
            shape,
            InOut::<f32>::new(&[], &mut [])
        ),
        Ok(())
    );
    let bn = BatchNorm::new(&[], &[]);
    assert_eq!(
        k.batch_norm_inference(&bn, Shape::ncl(huge, 0, 9), InOut::<f32>::new(&[], &mut [])),
        Ok(())
    );
    assert!(
        start.elapsed().as_secs() < 5,
        "empty tensors took {:?}",
        start.elapsed()
    );
}

/// Found by the `layer_norm` fuzz target: LayerNorm over channels returned `Ok` for an empty
/// tensor whose saved-stats buffers had the wrong length (the empty-tensor shortcut came before
/// the saved-stats check). Every length is now validated before any shortcut.
#[test]
fn empty_layer_norm_channels_still_checks_saved_stats() {
    let k = Kernels::detect();
    let ln = LayerNorm::new();
    for shape in [Shape::nhwc(165, 4, 0, 43), Shape::nchw(165, 43, 4, 0)] {
        let (mut mean, mut inv) = (vec![7.0; 255], vec![]);
        let saved = SavedStats::new(&mut mean, &mut inv);
        let err = k
            .layer_norm(&ln, shape, InOut::<f32>::new(&[], &mut []), Some(saved))
            .unwrap_err();
        assert_eq!(err.op(), "layer_norm", "{shape:?}");
        assert!(
            matches!(
                err.kind(),
                ErrorKind::Length {
                    buffer: "mean",
                    expected: 0,
                    actual: 255,
                    ..
                }
            ),
            "{shape:?}: {err}"
        );
        assert!(mean.iter().all(|&v| v == 7.0));
    }
}

/// One-pass row sums around a pivot (`src/kernels/generic.rs`), as first written for short
/// rows: the pivot was the mean of the row's first 64 values, and the sums went into one
/// accumulator (found by the property suite before it landed). In this sparse
/// 255-wide row (a position of the property suite's channels-last LayerNorm over channels)
/// one large value among the first 64 put the pivot 0.2 standard deviations off; every
/// zero then added that offset to a partial sum growing to 250 times it, and the rounding of
/// `sum(x - pivot)` moved the mean by 73u of the standard deviation on the scalar path
/// (vector paths split the sum over their lanes). Fixed by a pivot from 256 values (all of a
/// short row's, pieces spread over a long one), four accumulators per row, and accepting the sums only for pivots within a quarter of a
/// standard deviation (at most 8u of drift); a second, centered pass otherwise.
#[test]
fn row_sums_drift_with_an_offset_pivot() {
    let mut x = vec![0.0f32; 255];
    for (i, v) in [
        (14, -1_168_241_700_000.0),
        (21, 2_871_683_000.0),
        (24, -1_226_390_200_000.0),
        (115, 12_805_494_000.0),
        (140, 570_429_700_000.0),
        (225, -97_122_950_000.0),
    ] {
        x[i] = v;
    }
    assert_normalizes(
        "LayerNorm over a sparse row of 255",
        &x,
        false,
        |k, x, y| {
            let p = LayerNorm::new().eps(0.0);
            k.layer_norm(&p, Shape::rows(1, x.len()), InOut::new(x, y), None)
                .unwrap();
        },
    );
    // Outliers in the pivot's sample (its first piece): the pivot lands 0.9 standard
    // deviations from the mean, so the one-pass sums must be refused and the row redone
    // centered.
    let mut row: Vec<f32> = (0..4096)
        .map(|i| (i * 37 % 101) as f32 / 101.0 - 0.5)
        .collect();
    row[..16].fill(1000.0);
    assert_normalizes(
        "LayerNorm over a row with outliers",
        &row,
        false,
        |k, x, y| {
            let p = LayerNorm::new().eps(0.0);
            k.layer_norm(&p, Shape::rows(1, x.len()), InOut::new(x, y), None)
                .unwrap();
        },
    );
}

/// BatchNorm training's running update (`src/ops/batch_norm.rs`) took the weight of the old
/// value as `1 - w` from the batch's weight `w`. With ONNX momentum `m` (the old value's
/// weight), `w = 1 - m` was rounded first, so a small `m` came back with a relative error of
/// `2^-24 / m`: found by the property suite with m = 5.95e-4 and a channel of zeros, where the
/// running mean `m · old` was off by 150u. Fixed by forming each weight from the parameter.
#[test]
fn small_onnx_momentum_keeps_its_digits() {
    let m = 0.000_595_325_8f32;
    let old = -0.091_6f32;
    let x = [0.0f32, 0.0, 1.0, 3.0];
    let shape = Shape::ncl(1, 2, 2);
    for isa in Isa::available() {
        let (mut mean, mut var) = ([old, old], [1.0f32, 1.0]);
        let mut y = [0.0f32; 4];
        let stats = RunningStats::new(&mut mean, &mut var, Momentum::Onnx(m));
        Kernels::new(isa)
            .unwrap()
            .batch_norm_training(
                &BatchNormTraining::new(),
                shape,
                InOut::new(&x, &mut y),
                Some(stats),
                None,
            )
            .unwrap();
        let want = f64::from(m) * f64::from(old);
        let error = (f64::from(mean[0]) - want).abs() / want.abs();
        assert!(
            error <= 4.0 * U,
            "{isa}: running mean {} for {want}: {:.0}u",
            mean[0],
            error / U
        );
        // The other channel: mean 2, biased variance 1.
        let want = f64::from(m) * f64::from(old) + (1.0 - f64::from(m)) * 2.0;
        assert!(
            (f64::from(mean[1]) - want).abs() <= 4.0 * U * want.abs(),
            "{isa}: {}",
            mean[1]
        );
        let want = f64::from(m) + (1.0 - f64::from(m));
        assert!(
            (f64::from(var[1]) - want).abs() <= 4.0 * U,
            "{isa}: {}",
            var[1]
        );
    }
}

/// Channels-last statistics (`src/ops/columns.rs`), as first written with one-pass column sums:
/// when any group of a window failed the acceptance test, the whole window was redone with
/// the two-pass blocks, so a NaN in one channel changed the last bits of every other
/// channel's output (found by all five fuzz targets with channels-last cases). Fixed by
/// redoing only the groups that fail. Every clean channel must come out bit for bit as it
/// does without the NaN.
#[test]
fn channels_last_groups_do_not_depend_on_each_other() {
    let (rows, c) = (300, 24);
    let clean: Vec<f32> = (0..rows * c)
        .map(|i| ((i * 7919) % 1009) as f32 / 101.0 + (i % c) as f32)
        .collect();
    let mut poisoned = clean.clone();
    poisoned[5 * c + 3] = f32::NAN;
    let shape = Shape::ntc(1, rows, c);
    for isa in Isa::available() {
        let k = Kernels::new(isa).unwrap();
        let run = |x: &[f32]| {
            let mut y = vec![0.0f32; x.len()];
            k.batch_norm_training(
                &BatchNormTraining::new(),
                shape,
                InOut::new(x, &mut y),
                None,
                None,
            )
            .unwrap();
            y
        };
        let (want, got) = (run(&clean), run(&poisoned));
        for (i, (w, g)) in want.iter().zip(&got).enumerate() {
            if i % c == 3 {
                assert!(g.is_nan(), "{isa}: y[{i}] = {g} in the poisoned channel");
            } else {
                assert_eq!(
                    w.to_bits(),
                    g.to_bits(),
                    "{isa}: y[{i}] changed by channel 3's NaN"
                );
            }
        }
    }
}

/// Short rows share their reductions sixteen at a time (one transposing add tree per block),
/// so a row's statistics must not depend on the other rows of its block: poisoning one row
/// with NaN, or with values large enough to overflow its squares, leaves every other row's
/// output bit for bit as it was, on every path, whole-vector widths and ragged ones alike.
#[test]
fn short_rows_do_not_depend_on_each_other() {
    for cols in [64, 37, 256] {
        let rows = 40;
        let clean: Vec<f32> = (0..rows * cols)
            .map(|i| ((i * 7919) % 1009) as f32 / 101.0 + (i / cols) as f32)
            .collect();
        for poison in [f32::NAN, 3e30] {
            let mut poisoned = clean.clone();
            poisoned[17 * cols + cols / 2] = poison;
            for isa in Isa::available() {
                let k = Kernels::new(isa).unwrap();
                let (gamma, beta) = (vec![1.5f32; cols], vec![0.25f32; cols]);
                let p = LayerNorm::new().gamma(&gamma).beta(&beta).eps(1e-5);
                let run = |x: &[f32]| {
                    let mut y = vec![0.0f32; x.len()];
                    k.layer_norm(&p, Shape::rows(rows, cols), InOut::new(x, &mut y), None)
                        .unwrap();
                    y
                };
                let (want, got) = (run(&clean), run(&poisoned));
                for (i, (w, g)) in want.iter().zip(&got).enumerate() {
                    if i / cols != 17 {
                        assert_eq!(
                            w.to_bits(),
                            g.to_bits(),
                            "{isa}, {cols} cols: y[{i}] changed by row 17's {poison}"
                        );
                    }
                }
            }
        }
    }
}

/// A NaN in a group of tiny values (where the second pass scales by a large power of two and
/// eps·scale² overflows) poisons the whole group and its statistics: the scaled inverse std
/// once fell back to 1/sqrt(eps) without looking at the NaN (fuzz finding, rms_norm).
#[test]
fn nan_among_tiny_values_poisons_its_group() {
    for isa in Isa::available() {
        let k = Kernels::new(isa).unwrap();
        for tiny in [1e-30f32, 1e-25, 1e-22, -8.5e-41] {
            let x = [f32::NAN, tiny];
            let (mut y, mut inv) = ([0.0f32; 2], [0.0f32]);
            let io = InOut::new(&x, &mut y);
            k.rms_norm(&RmsNorm::new(), Shape::rows(1, 2), io, Some(&mut inv))
                .unwrap();
            assert!(
                y.iter().chain(&inv).all(|v| v.is_nan()),
                "{isa} rms {tiny}: {y:?} {inv:?}"
            );
            let (mut y, mut mean, mut inv) = ([0.0f32; 2], [0.0f32], [0.0f32]);
            let saved = SavedStats::new(&mut mean, &mut inv);
            k.layer_norm(
                &LayerNorm::new(),
                Shape::rows(1, 2),
                InOut::new(&x, &mut y),
                Some(saved),
            )
            .unwrap();
            assert!(
                y.iter().chain(&mean).chain(&inv).all(|v| v.is_nan()),
                "{isa} ln {tiny}: {y:?} {mean:?} {inv:?}"
            );
        }
    }
}
