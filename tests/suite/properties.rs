//! Property tests for normkern.
//!
//! Every operator, on both layouts, on every instruction set this CPU has and both out of place
//! and in place, is checked against the float64 reference (the `normkern-reference` crate) over
//! shapes that hit every vector tail, magnitudes from 1e-20 to 1e18, offsets up to 1e5 and
//! every eps the issue names (0 included). Then: identities between operators, merged
//! statistics, NaN/inf isolation, constant and extreme inputs, and the rejection of bad input
//! without touching any output buffer.
//!
//! Tolerances are derived from f32's unit roundoff in `tests/common/check.rs`. When a property
//! fails, proptest prints the minimized case; the context string names the operator, the
//! instruction set, the buffer mode and the layout.
//!
//! `PROPTEST_CASES=2000 cargo test --test suite properties::` soaks; `NORMKERN_TOL_REPORT=1` with
//! `--nocapture` prints how much of each tolerance the worst case used.

use crate::common::adapt::{self, MaybeBeta, MaybeGamma};
use crate::common::check::{self, FEW_ROUNDINGS, Mode, Path, SENTINEL, Y_TOL};
use crate::common::ops::{self, Op};
use crate::common::strategies as st;
use crate::common::{AffineSpec, Rng, Signal, to_f32};
use normkern::{
    BatchNorm, ConvKernel, ErrorKind, GroupNorm, InOut, InstanceNorm, Isa, Kernels, LayerNorm,
    Layout, Moments, MvnAxes, NormError, SavedStats, Shape,
};
use normkern_reference::{self as reference, Conv, Dims};
use proptest::prelude::*;

/// Cases for the main reference properties; the others use fewer (see each block).
const CASES: u32 = 192;

/// Lists the instruction sets every property below loops over.
#[test]
fn paths_tested() {
    let names: Vec<&str> = Isa::available().map(Isa::name).collect();
    println!("paths tested: {}", names.join(" "));
    assert!(names.contains(&"scalar") && names.contains(&"portable"));
    for isa in Isa::ALL {
        assert_eq!(Kernels::new(isa).is_ok(), isa.is_available(), "{isa}");
    }
}

/// The properties every normalizing operator shares.
macro_rules! operator_properties {
    ($op:expr) => {
        proptest! {
            #![proptest_config(st::config(CASES))]

            /// Every layout × instruction set × buffer mode matches the f64 reference: y, and
            /// saved and running statistics when the operator reports them.
            #[test]
            fn matches_reference(case in st::case($op)) {
                ops::matches_reference($op, &case, &case.sample())?;
            }
        }

        proptest! {
            #![proptest_config(st::config(CASES / 2))]

            /// NaN or ±inf in a group poisons only that group: the value's own output is
            /// non-finite, the rest of its group may be NaN, every other group matches the
            /// reference.
            #[test]
            fn non_finite_input_poisons_only_its_group(
                case in st::case($op),
                poison in st::poison(),
            ) {
                let mut x = case.sample();
                let at = poison.apply(&mut x);
                ops::poisoned_matches_reference($op, &case, &x, &at)?;
            }

            /// A group of equal values gives exactly beta, eps 0 included.
            #[test]
            fn constant_groups_give_exactly_beta(case in st::case($op), seed in any::<u64>()) {
                ops::constant_groups($op, &case, seed)?;
            }

            /// |x| up to 1e18 never overflows an intermediate.
            #[test]
            fn magnitudes_up_to_1e18_do_not_overflow(case in st::case($op), seed in any::<u64>()) {
                ops::extremes($op, &case, seed)?;
            }
        }
    };
}

/// `module => op, ...`: a module holding [`operator_properties!`] for each operator.
macro_rules! operator_modules {
    ($($module:ident => $op:expr),* $(,)?) => {$(
        mod $module {
            use super::*;
            operator_properties!($op);
        }
    )*};
}

// One module of properties per operator (and per MVN axes), named after it.
operator_modules! {
    layer_norm => Op::LayerNorm,
    layer_norm_channels => Op::LayerNormChannels,
    rms_norm => Op::RmsNorm,
    rms_norm_channels => Op::RmsNormChannels,
    batch_norm_inference => Op::BatchNormInference,
    batch_norm_training => Op::BatchNormTraining,
    instance_norm => Op::InstanceNorm,
    group_norm => Op::GroupNorm,
    mvn_batch_and_spatial => Op::Mvn(MvnAxes::BatchAndSpatial),
    mvn_spatial => Op::Mvn(MvnAxes::Spatial),
    mvn_channels_and_spatial => Op::Mvn(MvnAxes::ChannelsAndSpatial),
}

/// Identities between operators: different engines, same mathematics. Each side is within
/// `Y_TOL · mag` of the exact value, so they agree within twice that.
mod identities {
    use super::*;

    const AGREE: f64 = 2.0 * Y_TOL;

    /// Runs `op` on the logical tensor on one layout; the output back in channels-first order.
    fn run_on(
        op: Op,
        case: &ops::Case,
        layout: Layout,
        path: Path,
        x_cf: &[f32],
    ) -> Result<ops::Outputs, TestCaseError> {
        let cf = case.dims(Layout::ChannelsFirst);
        let dims = case.dims(layout);
        let x = Dims::relayout(x_cf, &cf, &dims);
        let mut out = ops::execute(op, case, &case.params(), layout, path, &x)?;
        out.y = Dims::relayout(&out.y, &dims, &cf);
        Ok(out)
    }

    fn as_f64(v: &[f32]) -> Vec<f64> {
        v.iter().map(|&v| f64::from(v)).collect()
    }

    proptest! {
        #![proptest_config(st::config(128))]

        /// GroupNorm with one group is LayerNorm over each sample's C × spatial values (gamma
        /// and beta expanded from per-channel to per-element), on both layouts.
        #[test]
        fn group_norm_with_one_group_is_layer_norm(case in st::case(Op::GroupNorm)) {
            let case = ops::Case { groups: 1, ..case };
            let params = case.params();
            let x_cf = case.sample();
            let per_sample = case.c * case.spatial;
            for layout in [Layout::ChannelsFirst, Layout::ChannelsLast] {
                let dims = case.dims(layout);
                let x = Dims::relayout(&x_cf, &case.dims(Layout::ChannelsFirst), &dims);
                let want = reference::group_norm(
                    &x, &dims, 1, case.eps, params.gamma.as_deref(), params.beta.as_deref(),
                );
                // Per-element parameters: the channel of each position in the sample's row.
                let mut channel_of = vec![0; per_sample];
                Dims { n: 1, ..dims }.for_each(|_, c, _, i| channel_of[i] = c);
                let expand = |p: &Option<Vec<f32>>| {
                    p.as_ref().map(|p| channel_of.iter().map(|&c| p[c]).collect::<Vec<f32>>())
                };
                let (gamma, beta) = (expand(&params.gamma), expand(&params.beta));
                let ln = LayerNorm::new()
                    .eps(case.eps)
                    .maybe_gamma(gamma.as_deref())
                    .maybe_beta(beta.as_deref());
                let rows = Shape::rows(case.n, per_sample);
                for path in check::paths() {
                    let gn = ops::execute(Op::GroupNorm, &case, &params, layout, path, &x)?;
                    let (mut mean, mut inv) = (vec![SENTINEL; case.n], vec![SENTINEL; case.n]);
                    let saved = SavedStats::new(&mut mean, &mut inv);
                    let y = check::run(path, &x, |io| path.kernels.layer_norm(&ln, rows, io, Some(saved)))?;
                    let ctx = format!("{path} {layout:?}");
                    check::check_all(&format!("GN(1) vs LN y @ {ctx}"), &y, &as_f64(&gn.y), &want.mag, AGREE)?;
                    check::check_stats("LN as GN(1)", &ctx, &mean, &inv, &want)?;
                }
            }
        }

        /// GroupNorm with one channel per group is InstanceNorm.
        #[test]
        fn group_norm_with_a_group_per_channel_is_instance_norm(case in st::case(Op::GroupNorm)) {
            let case = ops::Case { groups: case.c, ..case };
            let x_cf = case.sample();
            for layout in [Layout::ChannelsFirst, Layout::ChannelsLast] {
                let dims = case.dims(layout);
                let x = Dims::relayout(&x_cf, &case.dims(Layout::ChannelsFirst), &dims);
                let params = case.params();
                let want = reference::group_norm(
                    &x, &dims, case.c, case.eps, params.gamma.as_deref(), params.beta.as_deref(),
                );
                for path in check::paths() {
                    let gn = ops::execute(Op::GroupNorm, &case, &params, layout, path, &x)?;
                    let inst = ops::execute(Op::InstanceNorm, &case, &params, layout, path, &x)?;
                    let ctx = format!("{path} {layout:?}");
                    check::check_all(&format!("GN(C) vs IN y @ {ctx}"), &inst.y, &as_f64(&gn.y), &want.mag, AGREE)?;
                }
            }
        }

        /// NCHW and NHWC (NCL and NTC) agree under transposition, for every operator that
        /// takes a layout.
        #[test]
        fn layouts_agree_under_transposition(
            case in st::case(Op::GroupNorm),
            which in 0usize..9,
        ) {
            let op = [
                Op::InstanceNorm,
                Op::GroupNorm,
                Op::BatchNormInference,
                Op::BatchNormTraining,
                Op::LayerNormChannels,
                Op::RmsNormChannels,
                Op::Mvn(MvnAxes::BatchAndSpatial),
                Op::Mvn(MvnAxes::Spatial),
                Op::Mvn(MvnAxes::ChannelsAndSpatial),
            ][which];
            let mut case = case;
            if op == Op::BatchNormTraining && case.n * case.spatial < 2 {
                case.spatial = 2;
            }
            let x_cf = case.sample();
            let (want, _) = ops::expect(op, &case, &case.params(), Layout::ChannelsFirst, &x_cf);
            for path in check::paths() {
                let first = run_on(op, &case, Layout::ChannelsFirst, path, &x_cf)?;
                let last = run_on(op, &case, Layout::ChannelsLast, path, &x_cf)?;
                let ctx = format!("{} @ {path}", op.name());
                check::check_all(&format!("NCHW vs NHWC y @ {ctx}"), &last.y, &as_f64(&first.y), &want.mag, AGREE)?;
                if let (Some(a), Some(b)) = (&first.saved, &last.saved) {
                    let mean_mag: Vec<f64> = want.stats.iter().map(|s| s.mean.abs() + s.std()).collect();
                    check::check_all(&format!("NCHW vs NHWC mean @ {ctx}"), &b.0, &as_f64(&a.0), &mean_mag, AGREE)?;
                    let inv_mag: Vec<f64> = want.inv_std.iter().map(|v| v.abs()).collect();
                    check::check_all(&format!("NCHW vs NHWC inv_std @ {ctx}"), &b.1, &as_f64(&a.1), &inv_mag, AGREE)?;
                }
                if let (Some(a), Some(b)) = (&first.inv_rms, &last.inv_rms) {
                    let inv_mag: Vec<f64> = want.inv_std.iter().map(|v| v.abs()).collect();
                    check::check_all(&format!("NCHW vs NHWC inv_rms @ {ctx}"), b, &as_f64(a), &inv_mag, AGREE)?;
                }
            }
        }

        /// `Shape::rows(n · spatial, c)` is the channels-last `[n, spatial, c]`: LayerNorm and
        /// RMSNorm give the same outputs and statistics, bit for bit, on every path.
        #[test]
        fn rows_are_channels_last_positions(case in st::case(Op::LayerNormChannels)) {
            let case = ops::Case { saved: true, ..case };
            let params = case.params();
            let x = Dims::relayout(
                &case.sample(),
                &case.dims(Layout::ChannelsFirst),
                &case.dims(Layout::ChannelsLast),
            );
            for (rows, tensor) in [(Op::LayerNorm, Op::LayerNormChannels), (Op::RmsNorm, Op::RmsNormChannels)] {
                for path in check::paths() {
                    let a = ops::execute(rows, &case, &params, Layout::ChannelsLast, path, &x)?;
                    let b = ops::execute(tensor, &case, &params, Layout::ChannelsLast, path, &x)?;
                    let stats = |o: &ops::Outputs| {
                        let (mean, inv) = o.saved.clone().unwrap_or_default();
                        [o.y.clone(), mean, inv, o.inv_rms.clone().unwrap_or_default()]
                    };
                    prop_assert!(
                        stats(&a).iter().zip(&stats(&b)).all(|(a, b)| check::same_bits(a, b)),
                        "{} on rows vs {} on [n, spatial, c] @ {path}", rows.name(), tensor.name()
                    );
                }
            }
        }

        /// BatchNorm inference is `x * scale + shift` with the scale and shift it reports.
        /// A handful of roundings separate the two forms, relative to `|x·scale|`,
        /// `|mean·scale|` and `|beta|` (the folded form cancels `x·scale` against the shift).
        #[test]
        fn batch_norm_inference_is_its_scale_and_shift(case in st::case(Op::BatchNormInference)) {
            let params = case.params();
            let (gamma, beta) = (params.gamma.as_deref(), params.beta.as_deref());
            let bn = BatchNorm::new(&params.mean, &params.var)
                .eps(case.eps)
                .maybe_gamma(gamma)
                .maybe_beta(beta);
            let (mut scale, mut shift) = (vec![SENTINEL; case.c], vec![SENTINEL; case.c]);
            bn.scale_shift(&mut scale, &mut shift).map_err(|e| check::fail(format!("{e:?}")))?;
            let x_cf = case.sample();
            for layout in [Layout::ChannelsFirst, Layout::ChannelsLast] {
                let (shape, dims) = (case.shape(layout), case.dims(layout));
                let x = Dims::relayout(&x_cf, &case.dims(Layout::ChannelsFirst), &dims);
                let mut want = vec![0.0; x.len()];
                let mut mag = vec![0.0; x.len()];
                dims.for_each(|_, c, _, i| {
                    let (s, b) = (f64::from(scale[c]), f64::from(shift[c]));
                    want[i] = f64::from(x[i]) * s + b;
                    let beta = params.beta.as_ref().map_or(0.0, |b| f64::from(b[c]));
                    mag[i] = (f64::from(x[i]) * s).abs() + (f64::from(params.mean[c]) * s).abs() + beta.abs();
                });
                for path in check::paths() {
                    let y = check::run(path, &x, |io| path.kernels.batch_norm_inference(&bn, shape, io))?;
                    check::check_all(&format!("BN vs scale/shift @ {path} {layout:?}"), &y, &want, &mag, FEW_ROUNDINGS)?;
                }
            }
            // And the scale and shift themselves, against f64.
            let exact = reference::bn_scale_shift(
                &params.mean, &params.var, gamma, beta, case.eps,
            );
            let s_want: Vec<f64> = exact.iter().map(|p| p.0).collect();
            let s_mag: Vec<f64> = s_want.iter().map(|v| v.abs()).collect();
            check::check_all("scale_shift scale", &scale, &s_want, &s_mag, FEW_ROUNDINGS)?;
            let b_want: Vec<f64> = exact.iter().map(|p| p.1).collect();
            let b_mag: Vec<f64> = (0..case.c)
                .map(|c| (f64::from(params.mean[c]) * exact[c].0).abs() + reference::affine_at(gamma, beta, c).1.abs())
                .collect();
            check::check_all("scale_shift shift", &shift, &b_want, &b_mag, FEW_ROUNDINGS)?;
        }

        /// Folding BatchNorm into a convolution (grouped and depthwise included, with and
        /// without bias): the folded convolution equals convolution then BatchNorm.
        #[test]
        fn fold_into_conv_equals_conv_then_batch_norm(case in conv_case()) {
            let FoldCase { conv, signal, bias, eps, affine, stats_seed } = case;
            let x = signal.sample(conv.input_len());
            let mut rng = Rng::new(stats_seed);
            let weight: Vec<f32> = (0..conv.weight_len()).map(|_| rng.range(-1.0, 1.0) as f32).collect();
            let bias: Option<Vec<f32>> = bias.then(|| (0..conv.c_out).map(|_| to_f32(signal.magnitude * rng.range(-1.0, 1.0))).collect());
            let (mean, var) = bn_stats(&mut rng, conv.c_out, signal.magnitude * (conv.in_per_group() * conv.kh * conv.kw) as f64);
            let (gamma, beta) = affine.make(conv.c_out);
            let layer = BnLayer { mean: &mean, var: &var, gamma: gamma.as_deref(), beta: beta.as_deref(), eps };
            let bn = layer.batch_norm();

            let (conv_out, abs_sum) = conv.apply(&x, &weight, bias.as_deref());
            let (want, mag) = bn_after(&conv_out, &abs_sum, &layer, conv.out_h() * conv.out_w());

            let mut folded = weight.clone();
            let mut folded_bias = vec![SENTINEL; conv.c_out];
            let kernel = ConvKernel { in_per_group: conv.in_per_group(), kh: conv.kh, kw: conv.kw };
            bn.fold_into_conv(&mut folded, kernel, bias.as_deref(), &mut folded_bias)
                .map_err(|e| check::fail(format!("{e:?}")))?;
            let (folded_out, _) = conv.apply(&x, &folded, Some(&folded_bias));
            let folded_f32: Vec<f32> = folded_out.iter().map(|&v| v as f32).collect();
            check::check_all("folded conv vs exact", &folded_f32, &want, &mag, FEW_ROUNDINGS)?;

            let conv_f32: Vec<f32> = conv_out.iter().map(|&v| v as f32).collect();
            for path in check::paths() {
                let y = check::run(path, &conv_f32, |io| path.kernels.batch_norm_inference(&bn, adapt::shape(&conv.output_dims()), io))?;
                check::check_all(&format!("conv then BN vs exact @ {path}"), &y, &want, &mag, FEW_ROUNDINGS)?;
                check::check_all(&format!("conv then BN vs folded @ {path}"), &y, &folded_out, &mag, 2.0 * FEW_ROUNDINGS)?;
            }
        }

        /// Folding BatchNorm into a linear layer: `x·Wᵀ + b` then BatchNorm1d equals the folded
        /// layer.
        #[test]
        fn fold_into_linear_equals_linear_then_batch_norm(
            batch in 1usize..=4,
            in_features in 1usize..=70,
            out_features in st::channels(),
            signal in st::signal(),
            bias in any::<bool>(),
            eps in st::eps(),
            affine in st::affine(),
            seed in any::<u64>(),
        ) {
            let x = signal.sample(batch * in_features);
            let mut rng = Rng::new(seed);
            let weight: Vec<f32> = (0..out_features * in_features).map(|_| rng.range(-1.0, 1.0) as f32).collect();
            let bias: Option<Vec<f32>> = bias.then(|| (0..out_features).map(|_| to_f32(signal.magnitude * rng.range(-1.0, 1.0))).collect());
            let (mean, var) = bn_stats(&mut rng, out_features, signal.magnitude * in_features as f64);
            let (gamma, beta) = affine.make(out_features);
            let layer = BnLayer { mean: &mean, var: &var, gamma: gamma.as_deref(), beta: beta.as_deref(), eps };
            let bn = layer.batch_norm();

            let (out, abs_sum) = reference::linear(&x, &weight, bias.as_deref(), in_features, out_features);
            // [batch, out] is channels-last with one position per sample.
            let shape = Shape::rows(batch, out_features);
            let (want, mag) = bn_after_rows(&out, &abs_sum, &layer);

            let mut folded = weight.clone();
            let mut folded_bias = vec![SENTINEL; out_features];
            bn.fold_into_linear(&mut folded, in_features, bias.as_deref(), &mut folded_bias)
                .map_err(|e| check::fail(format!("{e:?}")))?;
            let (folded_out, _) = reference::linear(&x, &folded, Some(&folded_bias), in_features, out_features);
            let folded_f32: Vec<f32> = folded_out.iter().map(|&v| v as f32).collect();
            check::check_all("folded linear vs exact", &folded_f32, &want, &mag, FEW_ROUNDINGS)?;

            let out_f32: Vec<f32> = out.iter().map(|&v| v as f32).collect();
            for path in check::paths() {
                let y = check::run(path, &out_f32, |io| path.kernels.batch_norm_inference(&bn, shape, io))?;
                check::check_all(&format!("linear then BN vs exact @ {path}"), &y, &want, &mag, FEW_ROUNDINGS)?;
            }
        }
    }

    /// Running statistics for BatchNorm after a layer whose outputs have size `size`.
    fn bn_stats(rng: &mut Rng, c: usize, size: f64) -> (Vec<f32>, Vec<f32>) {
        let mean = (0..c)
            .map(|_| to_f32(size * rng.range(-0.5, 0.5)))
            .collect();
        let var = (0..c)
            .map(|_| to_f32((size * rng.range(0.2, 1.5)).powi(2)))
            .collect();
        (mean, var)
    }

    /// A BatchNorm's parameters, kept for the reference (a [`BatchNorm`]'s are private).
    struct BnLayer<'a> {
        mean: &'a [f32],
        var: &'a [f32],
        gamma: Option<&'a [f32]>,
        beta: Option<&'a [f32]>,
        eps: f32,
    }

    impl<'a> BnLayer<'a> {
        fn batch_norm(&self) -> BatchNorm<'a> {
            BatchNorm::new(self.mean, self.var)
                .eps(self.eps)
                .maybe_gamma(self.gamma)
                .maybe_beta(self.beta)
        }
    }

    /// Exact BatchNorm of channels-first layer outputs (`plane` values per channel and sample),
    /// with the error scale `|scale| (Σ|w·x| + |bias| + |mean|) + |beta|`.
    fn bn_after(
        out: &[f64],
        abs_sum: &[f64],
        bn: &BnLayer<'_>,
        plane: usize,
    ) -> (Vec<f64>, Vec<f64>) {
        let c = bn.mean.len();
        let ss = reference::bn_scale_shift(bn.mean, bn.var, bn.gamma, bn.beta, bn.eps);
        let mut want = vec![];
        let mut mag = vec![];
        for (i, (&v, &a)) in out.iter().zip(abs_sum).enumerate() {
            let ch = (i / plane) % c;
            let (s, shift) = ss[ch];
            let beta = reference::affine_at(bn.gamma, bn.beta, ch).1;
            want.push(v * s + shift);
            mag.push(s.abs() * (a + f64::from(bn.mean[ch]).abs()) + beta.abs());
        }
        (want, mag)
    }

    /// As [`bn_after`] for `[batch, channels]` rows.
    fn bn_after_rows(out: &[f64], abs_sum: &[f64], bn: &BnLayer<'_>) -> (Vec<f64>, Vec<f64>) {
        let c = bn.mean.len();
        let mut want = vec![];
        let mut mag = vec![];
        for (row, abs_row) in out.chunks(c).zip(abs_sum.chunks(c)) {
            let (w, m) = bn_after(row, abs_row, bn, 1);
            want.extend(w);
            mag.extend(m);
        }
        (want, mag)
    }

    #[derive(Clone, Copy, Debug)]
    struct FoldCase {
        conv: Conv,
        signal: Signal,
        bias: bool,
        eps: f32,
        affine: AffineSpec,
        stats_seed: u64,
    }

    /// Small direct convolutions: dense, grouped and depthwise (with a channel multiplier).
    fn conv_case() -> impl Strategy<Value = FoldCase> {
        let geometry = (
            1usize..=2,
            prop::sample::select(vec!["dense", "grouped", "depthwise"]),
            1usize..=4,
            1usize..=4,
            1usize..=3,
            1usize..=3,
            0usize..=5,
            0usize..=5,
        )
            .prop_map(|(n, kind, a, b, kh, kw, dh, dw)| {
                let (groups, c_in, c_out) = match kind {
                    "dense" => (1, a, b),
                    "grouped" => (2, 2 * a, 2 * b),
                    _ => (a + 1, a + 1, (a + 1) * b), // depthwise, multiplier b
                };
                Conv {
                    n,
                    c_in,
                    h: kh + dh,
                    w: kw + dw,
                    c_out,
                    kh,
                    kw,
                    groups,
                }
            });
        (
            geometry,
            st::signal(),
            any::<bool>(),
            st::eps(),
            st::affine(),
            any::<u64>(),
        )
            .prop_map(|(conv, signal, bias, eps, affine, stats_seed)| FoldCase {
                conv,
                signal,
                bias,
                eps,
                affine,
                stats_seed,
            })
    }
}

/// `Moments`: one pass, pushes, slices and merges in any split and order.
///
/// Bounds: the blocked kernels (one pass, and each merged piece) are within [`Y_TOL`] of f64,
/// relative to `|mean| + std` for the mean and to the variance for the variances, like the
/// operators' statistics. A merge of pieces equals the one-pass result within the sum of the
/// two bounds: "a few ulps" is not attainable by any f32 method, because the two orders round
/// differently and each is some ulps from exact (measured: up to ~18u apart). `push` is a plain
/// sequential Welford update with no blocking: its rounding errors random-walk, so its bound
/// grows like `4 √n u` (≥ `Y_TOL`). Results that are themselves subnormal (variances of
/// 1e-20-sized data) carry one `2⁻¹⁵⁰` of absolute error per operation that lands there, which
/// also random-walks: `4 √n` of them.
mod moments {
    use super::*;
    use normkern_reference::Stats;

    /// The bound for a result of a sequential chain over `n` values.
    fn chain_tol(n: usize) -> f64 {
        Y_TOL.max(4.0 * (n as f64).sqrt() * check::U)
    }

    /// Mean within `tol · (|mean| + std)`, biased and unbiased variance within `tol · var`,
    /// count exact; plus `4 √n · 2⁻¹⁵⁰` absolute on subnormal variances.
    fn check_moments(
        what: &str,
        ctx: &str,
        m: &Moments,
        want: &Stats,
        tol: f64,
    ) -> Result<(), TestCaseError> {
        if m.count() != want.count as u64 {
            return Err(check::fail(format!(
                "{what} @ {ctx}: count {} != {}",
                m.count(),
                want.count
            )));
        }
        let mean = m.mean().unwrap_or(f32::NAN);
        let var = m.variance().unwrap_or(f32::NAN);
        let scale = want.mean.abs() + want.std();
        // Expressed through check_loose's `Y_TOL · mag + SUBNORMAL_SLACK`.
        let subnormal = 4.0 * (want.count as f64).sqrt() * check::SUBNORMAL_SLACK / 4.0;
        let var_mag = |v: f64| (v * tol + subnormal) / Y_TOL;
        check::check_loose(
            &format!("{what} mean @ {ctx}"),
            &[mean],
            &[want.mean],
            &[scale / Y_TOL * tol],
        )?;
        check::check_loose(
            &format!("{what} variance @ {ctx}"),
            &[var],
            &[want.var],
            &[var_mag(want.var)],
        )?;
        if want.count > 1 {
            let sample = m.sample_variance().unwrap_or(f32::NAN);
            let sv = want.sample_var();
            check::check_loose(
                &format!("{what} sample variance @ {ctx}"),
                &[sample],
                &[sv],
                &[var_mag(sv)],
            )?;
        }
        Ok(())
    }

    /// A slice cut at `cuts` (sorted, possibly repeated: empty pieces).
    fn pieces<'a>(x: &'a [f32], cuts: &[usize]) -> Vec<&'a [f32]> {
        let mut bounds: Vec<usize> = cuts.iter().map(|&c| c % (x.len() + 1)).collect();
        bounds.push(0);
        bounds.push(x.len());
        bounds.sort_unstable();
        bounds.windows(2).map(|w| &x[w[0]..w[1]]).collect()
    }

    proptest! {
        #![proptest_config(st::config(256))]

        /// One pass on every instruction set (and `Moments::of_slice`) against f64.
        #[test]
        fn one_pass_matches_reference(len in st::row_len(), signal in st::signal()) {
            let x = signal.sample(len);
            let want = Stats::of(&x);
            check_moments("of_slice", "detect", &Moments::of_slice(&x), &want, Y_TOL)?;
            for isa in Isa::available() {
                let m = Kernels::new(isa).unwrap().moments(&x);
                check_moments("one pass", isa.name(), &m, &want, Y_TOL)?;
            }
        }

        /// Split anywhere (empty pieces included), summarize the pieces on any instruction set,
        /// merge in any order: equal to the one-pass result, and to f64.
        #[test]
        fn merging_any_split_in_any_order_matches_one_pass(
            len in st::row_len(),
            signal in st::signal(),
            cuts in prop::collection::vec(any::<usize>(), 0..8),
            order_seed in any::<u64>(),
        ) {
            let x = signal.sample(len);
            let want = Stats::of(&x);
            let parts = pieces(&x, &cuts);
            let mut order: Vec<usize> = (0..parts.len()).collect();
            let mut rng = Rng::new(order_seed);
            for i in (1..order.len()).rev() {
                order.swap(i, rng.below(i + 1));
            }
            for isa in Isa::available() {
                let k = Kernels::new(isa).unwrap();
                let one = k.moments(&x);
                let mut merged = Moments::new();
                for &i in &order {
                    merged.merge(&k.moments(parts[i]));
                }
                let ctx = format!("{isa}, {} pieces", parts.len());
                check_moments("merged", &ctx, &merged, &want, Y_TOL)?;
                let one_stats = Stats {
                    count: len,
                    mean: f64::from(one.mean().unwrap()),
                    var: f64::from(one.variance().unwrap()),
                    mean_square: f64::NAN,
                };
                check_moments("merged vs one pass", &ctx, &merged, &one_stats, 2.0 * Y_TOL)?;
            }
            // push_slice of the pieces in order.
            let mut sliced = Moments::new();
            for p in &parts {
                sliced.push_slice(p);
            }
            check_moments("push_slice", "detect", &sliced, &want, Y_TOL)?;
        }

        /// Pushing values one at a time (sequential Welford) matches f64 within its
        /// `4 √n u` bound.
        #[test]
        fn pushing_one_value_at_a_time_matches_reference(len in st::row_len(), signal in st::signal()) {
            let x = signal.sample(len);
            let mut m = Moments::new();
            for &v in &x {
                m.push(v);
            }
            check_moments("push", "scalar", &m, &Stats::of(&x), chain_tol(len))?;
        }
    }

    #[test]
    fn empty_moments_have_no_statistics() {
        let m = Moments::new();
        assert_eq!(
            (m.count(), m.mean(), m.variance(), m.sample_variance()),
            (0, None, None, None)
        );
        let mut one = Moments::new();
        one.push(3.0);
        assert_eq!(
            (one.mean(), one.variance(), one.sample_variance()),
            (Some(3.0), Some(0.0), None)
        );
        one.merge(&Moments::new());
        assert_eq!(one.count(), 1);
        for isa in Isa::available() {
            assert_eq!(Kernels::new(isa).unwrap().moments(&[]).count(), 0);
        }
    }
}

/// Bad input: every operator refuses it with an error naming the operator and what was wrong,
/// before writing anything. Outputs are pre-filled with a sentinel (in place: the input itself)
/// and compared bitwise afterwards, as are saved and running statistics and RMSNorm's inverse
/// root mean squares.
mod bad_input {
    use super::*;
    use check::wrong_len as wrong;
    use normkern::{BatchNormTraining, MeanVarianceNorm, Momentum, RmsNorm, RunningStats};

    /// One thing wrong with an otherwise valid call.
    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Defect {
        XLen,
        YLen,
        GammaLen,
        BetaLen,
        /// BatchNorm inference's running mean / variance.
        StatsMeanLen,
        StatsVarLen,
        SavedMeanLen,
        SavedInvStdLen,
        InvRmsLen,
        RunningMeanLen,
        RunningVarLen,
        /// LayerNorm and RMSNorm over `shape.c = 0` channels.
        ZeroChannels,
        ZeroGroups,
        GroupsNotDividing,
        Eps(f32),
        BadMomentum(Momentum),
        /// BatchNorm training with `n · spatial` of 1 (or 0).
        TooFewValues {
            spatial: usize,
        },
        ShapeOverflow,
    }

    fn defects(op: Op) -> Vec<Defect> {
        use Defect::*;
        let mut all = vec![XLen, YLen, ShapeOverflow];
        let eps = [
            -1e-5,
            -f32::MIN_POSITIVE,
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
        ]
        .map(Eps);
        match op {
            Op::Mvn(_) => {}
            Op::RmsNorm | Op::RmsNormChannels => {
                all.extend([GammaLen]);
                all.extend(eps);
            }
            _ => {
                all.extend([GammaLen, BetaLen]);
                all.extend(eps);
            }
        }
        match op {
            Op::LayerNorm | Op::LayerNormChannels => {
                all.extend([SavedMeanLen, SavedInvStdLen, ZeroChannels])
            }
            Op::RmsNorm | Op::RmsNormChannels => all.extend([InvRmsLen, ZeroChannels]),
            Op::BatchNormInference => all.extend([StatsMeanLen, StatsVarLen]),
            Op::BatchNormTraining => {
                all.extend([SavedMeanLen, SavedInvStdLen, RunningMeanLen, RunningVarLen]);
                all.extend([TooFewValues { spatial: 1 }, TooFewValues { spatial: 0 }]);
                all.extend(
                    [
                        Momentum::PyTorch(-0.1),
                        Momentum::PyTorch(1.0001),
                        Momentum::PyTorch(f32::NAN),
                        Momentum::Onnx(f32::INFINITY),
                        Momentum::Onnx(-1.0),
                        Momentum::CumulativeAverage { batches: 0 },
                    ]
                    .map(Defect::BadMomentum),
                );
            }
            Op::InstanceNorm => all.extend([SavedMeanLen, SavedInvStdLen]),
            Op::GroupNorm => {
                all.extend([SavedMeanLen, SavedInvStdLen, ZeroGroups, GroupsNotDividing])
            }
            Op::Mvn(_) => {}
        }
        all
    }

    /// Whether `err` is the error `defect` calls for, from `op`.
    fn expected(op: Op, defect: Defect, err: &NormError) -> bool {
        use ErrorKind as E;
        let kind = err.kind();
        let length =
            |names: &[&str]| matches!(kind, E::Length { buffer, .. } if names.contains(&buffer));
        let right_kind = match defect {
            Defect::XLen => length(&["x"]),
            Defect::YLen => length(&["y"]),
            Defect::GammaLen => length(&["gamma"]),
            Defect::BetaLen => length(&["beta"]),
            // BatchNorm checks var against mean first, then mean against the shape.
            Defect::StatsMeanLen => length(&["mean", "var"]),
            Defect::StatsVarLen => length(&["var"]),
            Defect::SavedMeanLen => length(&["mean"]),
            Defect::SavedInvStdLen => length(&["inv_std"]),
            Defect::InvRmsLen => length(&["inv_rms"]),
            Defect::RunningMeanLen => length(&["running_mean"]),
            Defect::RunningVarLen => length(&["running_var"]),
            Defect::ZeroChannels => matches!(kind, E::ZeroDimension("shape.c")),
            Defect::ZeroGroups => matches!(kind, E::ZeroDimension("groups")),
            Defect::GroupsNotDividing => matches!(kind, E::Groups { .. }),
            Defect::Eps(_) => matches!(kind, E::Epsilon(_)),
            Defect::BadMomentum(_) => matches!(kind, E::Momentum(_)),
            Defect::TooFewValues { .. } => matches!(kind, E::TooFewValues { .. }),
            Defect::ShapeOverflow => matches!(kind, E::ShapeOverflow),
        };
        right_kind && err.op() == op.api_name()
    }

    #[derive(Clone, Copy, Debug)]
    struct BadCase {
        n: usize,
        c: usize,
        spatial: usize,
        layout: Layout,
        gamma: bool,
        beta: bool,
        saved: bool,
        running: bool,
        /// How a length goes wrong: 0 one short, 1 one long, 2 doubled (+ 1).
        delta: u8,
        seed: u64,
    }

    fn bad_case() -> impl Strategy<Value = BadCase> {
        (
            (1usize..=3, 1usize..=9, 1usize..=9),
            prop::sample::select(vec![Layout::ChannelsFirst, Layout::ChannelsLast]),
            any::<(bool, bool, bool, bool)>(),
            0u8..3,
            any::<u64>(),
        )
            .prop_map(
                |((n, c, spatial), layout, (gamma, beta, saved, running), delta, seed)| BadCase {
                    n,
                    c,
                    spatial,
                    layout,
                    gamma,
                    beta,
                    saved,
                    running,
                    delta,
                    seed,
                },
            )
    }

    /// Calls `op` with `defect` along `path`; checks the error and that nothing was written.
    fn attempt(op: Op, b: &BadCase, defect: Defect, path: Path) -> Result<(), TestCaseError> {
        let is = |d: Defect| defect == d;
        let (mut n, mut c, mut spatial) = (b.n, b.c, b.spatial);
        if let Defect::TooFewValues { spatial: s } = defect {
            (n, spatial) = (1, s);
        }
        if is(Defect::ZeroChannels) {
            c = 0;
        }
        let total = n * c * spatial;
        let shape = if is(Defect::ShapeOverflow) {
            let huge = usize::MAX / 2 + 1;
            match (op, b.layout) {
                (Op::LayerNorm | Op::RmsNorm, _) => Shape::rows(huge, c.max(2)),
                (_, Layout::ChannelsFirst) => Shape::channels_first(huge, c.max(2), spatial),
                _ => Shape::channels_last(huge, spatial, c.max(2)),
            }
        } else {
            match (op, b.layout) {
                (Op::LayerNorm | Op::RmsNorm, _) => Shape::rows(n * spatial, c),
                (_, Layout::ChannelsFirst) => Shape::channels_first(n, c, spatial),
                _ => Shape::channels_last(n, spatial, c),
            }
        };
        let len_for = |d: Defect, len: usize| if is(d) { wrong(len, b.delta) } else { len };
        let x_len = len_for(Defect::XLen, total);
        let y_len = len_for(Defect::YLen, x_len);
        let mut rng = Rng::new(b.seed);
        let x: Vec<f32> = (0..x_len).map(|_| rng.range(-1.0, 1.0) as f32).collect();
        let param = |present: bool, d: Defect, rng: &mut Rng| -> Option<Vec<f32>> {
            (present || is(d)).then(|| {
                (0..len_for(d, c))
                    .map(|_| rng.range(0.5, 1.5) as f32)
                    .collect()
            })
        };
        let gamma = param(b.gamma, Defect::GammaLen, &mut rng);
        let beta = param(b.beta, Defect::BetaLen, &mut rng);
        let stats_mean = param(true, Defect::StatsMeanLen, &mut rng).unwrap();
        let stats_var = param(true, Defect::StatsVarLen, &mut rng).unwrap();
        let mut run_mean = param(true, Defect::RunningMeanLen, &mut rng).unwrap();
        let mut run_var = param(true, Defect::RunningVarLen, &mut rng).unwrap();
        let run_before = (run_mean.clone(), run_var.clone());
        let groups = match op {
            Op::LayerNorm | Op::LayerNormChannels | Op::RmsNorm | Op::RmsNormChannels => {
                n * spatial
            }
            Op::BatchNormTraining => c,
            Op::InstanceNorm | Op::GroupNorm => n * c, // GroupNorm below uses groups = c
            _ => 0,
        };
        let mut saved_mean = vec![SENTINEL; len_for(Defect::SavedMeanLen, groups)];
        let mut saved_inv = vec![SENTINEL; len_for(Defect::SavedInvStdLen, groups)];
        let mut inv_rms = vec![SENTINEL; len_for(Defect::InvRmsLen, groups)];
        let eps = match defect {
            Defect::Eps(e) => e,
            _ => 1e-5,
        };
        let momentum = match defect {
            Defect::BadMomentum(m) => m,
            _ => Momentum::PYTORCH_DEFAULT,
        };
        // RMSNorm's optional output goes with the case's `saved`, as in the reference
        // properties.
        let want_saved = b.saved || is(Defect::SavedMeanLen) || is(Defect::SavedInvStdLen);
        let want_inv_rms = b.saved || is(Defect::InvRmsLen);
        let want_running = b.running
            || is(Defect::RunningMeanLen)
            || is(Defect::RunningVarLen)
            || matches!(defect, Defect::BadMomentum(_));
        let gn_groups = if is(Defect::ZeroGroups) {
            0
        } else if is(Defect::GroupsNotDividing) {
            c + 1
        } else {
            c
        };
        let (g, be) = (gamma.as_deref(), beta.as_deref());
        let k = path.kernels;

        let mut out = vec![SENTINEL; y_len];
        let mut xy = x.clone();
        let result = {
            let io = match path.mode {
                Mode::OutOfPlace => InOut::new(&x, &mut out),
                Mode::InPlace => InOut::in_place(&mut xy),
            };
            let saved = want_saved.then(|| SavedStats::new(&mut saved_mean, &mut saved_inv));
            let inv_rms_out = want_inv_rms.then_some(&mut inv_rms[..]);
            let running =
                want_running.then(|| RunningStats::new(&mut run_mean, &mut run_var, momentum));
            match op {
                Op::LayerNorm | Op::LayerNormChannels => {
                    let p = LayerNorm::new().eps(eps).maybe_gamma(g).maybe_beta(be);
                    k.layer_norm(&p, shape, io, saved)
                }
                Op::RmsNorm | Op::RmsNormChannels => {
                    let p = RmsNorm::new().eps(eps).maybe_gamma(g);
                    k.rms_norm(&p, shape, io, inv_rms_out)
                }
                Op::BatchNormInference => {
                    let bn = BatchNorm::new(&stats_mean, &stats_var)
                        .eps(eps)
                        .maybe_gamma(g)
                        .maybe_beta(be);
                    k.batch_norm_inference(&bn, shape, io)
                }
                Op::BatchNormTraining => {
                    let p = BatchNormTraining::new()
                        .eps(eps)
                        .maybe_gamma(g)
                        .maybe_beta(be);
                    k.batch_norm_training(&p, shape, io, running, saved)
                }
                Op::InstanceNorm => {
                    let p = InstanceNorm::new().eps(eps).maybe_gamma(g).maybe_beta(be);
                    k.instance_norm(&p, shape, io, saved)
                }
                Op::GroupNorm => {
                    let p = GroupNorm::new(gn_groups)
                        .eps(eps)
                        .maybe_gamma(g)
                        .maybe_beta(be);
                    k.group_norm(&p, shape, io, saved)
                }
                Op::Mvn(axes) => {
                    k.mean_variance_norm(&MeanVarianceNorm::new().axes(axes), shape, io)
                }
            }
        };
        let ctx = format!("{} with {defect:?} @ {path}, {b:?}", op.name());
        match result {
            Ok(()) => return Err(check::fail(format!("{ctx}: accepted"))),
            Err(e) if !expected(op, defect, &e) => {
                return Err(check::fail(format!("{ctx}: wrong error {e:?} ({e})")));
            }
            Err(_) => {}
        }
        let untouched = match path.mode {
            Mode::OutOfPlace => out.iter().all(|v| v.to_bits() == SENTINEL.to_bits()),
            Mode::InPlace => check::same_bits(&xy, &x),
        };
        prop_assert!(untouched, "{}: output written", ctx);
        prop_assert!(
            saved_mean
                .iter()
                .chain(&saved_inv)
                .chain(&inv_rms)
                .all(|v| v.to_bits() == SENTINEL.to_bits()),
            "{}: saved statistics or inv_rms written",
            ctx
        );
        prop_assert!(
            check::same_bits(&run_mean, &run_before.0) && check::same_bits(&run_var, &run_before.1),
            "{}: running statistics written",
            ctx
        );
        Ok(())
    }

    fn every_defect(op: Op, b: &BadCase) -> Result<(), TestCaseError> {
        for defect in defects(op) {
            for path in check::paths() {
                // In place there is one buffer: its length cannot disagree with itself.
                if defect == Defect::YLen && path.mode == Mode::InPlace {
                    continue;
                }
                attempt(op, b, defect, path)?;
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(st::config(64))]

        #[test]
        fn layer_norm_refuses_bad_input(b in bad_case()) {
            every_defect(Op::LayerNorm, &b)?;
            every_defect(Op::LayerNormChannels, &b)?;
        }

        #[test]
        fn rms_norm_refuses_bad_input(b in bad_case()) {
            every_defect(Op::RmsNorm, &b)?;
            every_defect(Op::RmsNormChannels, &b)?;
        }

        #[test]
        fn batch_norm_refuses_bad_input(b in bad_case()) {
            every_defect(Op::BatchNormInference, &b)?;
            every_defect(Op::BatchNormTraining, &b)?;
        }

        #[test]
        fn instance_and_group_norm_refuse_bad_input(b in bad_case()) {
            every_defect(Op::InstanceNorm, &b)?;
            every_defect(Op::GroupNorm, &b)?;
        }

        #[test]
        fn mvn_refuses_bad_input(b in bad_case()) {
            for axes in [MvnAxes::BatchAndSpatial, MvnAxes::Spatial, MvnAxes::ChannelsAndSpatial] {
                every_defect(Op::Mvn(axes), &b)?;
            }
        }

        /// `scale_shift`, `fold_into_conv` and `fold_into_linear` refuse wrong lengths and bad
        /// eps without writing their outputs (or scaling any weight).
        #[test]
        fn folding_refuses_bad_input(
            c in 1usize..=9,
            per_out in 1usize..=6,
            which in 0usize..9,
            delta in 0u8..3,
            bias in any::<bool>(),
        ) {
            let ok = vec![1.0f32; c];
            let bad = vec![1.0f32; wrong(c, delta)];
            let (mut mean, mut var, mut gamma, mut beta) = (&ok, &ok, Some(&ok), Some(&ok));
            let mut eps = 1e-5;
            let (mut scale_len, mut weight_len, mut bias_len, mut folded_len) = (c, c * per_out, c, c);
            match which {
                0 => var = &bad,
                1 => gamma = Some(&bad),
                2 => beta = Some(&bad),
                3 => eps = -1.0,
                4 => eps = f32::NAN,
                5 => scale_len = wrong(c, delta),
                6 => weight_len = wrong(c * per_out, delta),
                7 => bias_len = wrong(c, delta),
                _ => folded_len = wrong(c, delta),
            }
            if which == 0 && delta == 2 {
                mean = &ok; // keep mean the reference length
            }
            let bn = BatchNorm::new(mean, var)
                .eps(eps)
                .maybe_gamma(gamma.map(|v| v.as_slice()))
                .maybe_beta(beta.map(|v| v.as_slice()));
            let sentinel = |len| vec![SENTINEL; len];

            let (mut scale, mut shift) = (sentinel(scale_len), sentinel(c));
            let r = bn.scale_shift(&mut scale, &mut shift);
            if which != 6 && which != 7 && which != 8 {
                prop_assert!(
                    r.is_err_and(|e| e.op() == "BatchNorm::scale_shift"),
                    "scale_shift: defect {} gave {:?}", which, r
                );
                prop_assert!(scale.iter().chain(&shift).all(|v| v.to_bits() == SENTINEL.to_bits()));
            }

            if which != 5 && (which != 7 || bias) {
                let conv_bias = vec![0.5f32; bias_len];
                let bias_arg = bias.then_some(conv_bias.as_slice());
                let kernel = ConvKernel { in_per_group: per_out, kh: 1, kw: 1 };
                let mut weight = sentinel(weight_len);
                let mut folded = sentinel(folded_len);
                let r = bn.fold_into_conv(&mut weight, kernel, bias_arg, &mut folded);
                prop_assert!(r.is_err_and(|e| e.op() == "BatchNorm::fold_into_conv"), "{:?}", r);
                prop_assert!(weight.iter().chain(&folded).all(|v| v.to_bits() == SENTINEL.to_bits()));
                let r = bn.fold_into_linear(&mut weight, per_out, bias_arg, &mut folded);
                prop_assert!(r.is_err_and(|e| e.op() == "BatchNorm::fold_into_linear"), "{:?}", r);
                prop_assert!(weight.iter().chain(&folded).all(|v| v.to_bits() == SENTINEL.to_bits()));
            }
        }
    }

    /// Shapes whose element count overflows are refused by the folds too.
    #[test]
    fn folding_refuses_overflowing_kernels() {
        let ok = [1.0f32; 2];
        let bn = BatchNorm::new(&ok, &ok);
        let (mut w, mut b) = ([SENTINEL; 4], [SENTINEL; 2]);
        let huge = ConvKernel {
            in_per_group: usize::MAX,
            kh: 2,
            kw: 1,
        };
        let err = bn.fold_into_conv(&mut w, huge, None, &mut b).unwrap_err();
        assert_eq!(
            (err.op(), err.kind()),
            ("BatchNorm::fold_into_conv", ErrorKind::ShapeOverflow)
        );
        let err = bn.fold_into_linear(&mut w, usize::MAX, None, &mut b);
        let err = err.unwrap_err();
        assert_eq!(
            (err.op(), err.kind()),
            ("BatchNorm::fold_into_linear", ErrorKind::ShapeOverflow)
        );
        assert!(
            w.iter()
                .chain(&b)
                .all(|v| v.to_bits() == SENTINEL.to_bits())
        );
    }

    /// Forcing an instruction set this CPU lacks is an error; available ones construct.
    #[test]
    fn unavailable_instruction_sets_are_refused() {
        for isa in Isa::ALL {
            match Kernels::new(isa) {
                Ok(k) => assert!(isa.is_available() && k.isa() == isa),
                Err(e) => {
                    assert!(!isa.is_available());
                    assert_eq!(e.op(), "Kernels::new");
                    assert_eq!(e.kind(), ErrorKind::IsaUnavailable(isa));
                    assert_eq!(
                        e.to_string(),
                        format!("Kernels::new: instruction set {isa} is not available")
                    );
                }
            }
        }
    }

    /// Byte views need a whole number of 4-byte-aligned f32 values.
    #[test]
    fn byte_views_refuse_ragged_or_misaligned_bytes() {
        let words = [0u32; 4];
        let bytes: &[u8] = bytemuck_free_bytes(&words);
        assert_eq!(normkern::bytes::as_f32(bytes).map(<[f32]>::len), Ok(4));
        for len in [1, 2, 3, 5, 15] {
            let err = normkern::bytes::as_f32(&bytes[..len]).unwrap_err();
            assert_eq!(err.op(), "bytes::as_f32");
            assert_eq!(
                err.kind(),
                ErrorKind::Bytes {
                    len,
                    misaligned: false
                }
            );
        }
        let err = normkern::bytes::as_f32(&bytes[1..9]).unwrap_err();
        assert_eq!(
            (err.op(), err.kind()),
            (
                "bytes::as_f32",
                ErrorKind::Bytes {
                    len: 8,
                    misaligned: true
                }
            )
        );
        let mut words = [0u32; 4];
        // SAFETY: as in `bytemuck_free_bytes`, mutably.
        let bytes: &mut [u8] =
            unsafe { std::slice::from_raw_parts_mut(words.as_mut_ptr().cast::<u8>(), 16) };
        let err = normkern::bytes::as_f32_mut(&mut bytes[..7]).unwrap_err();
        assert_eq!(err.op(), "bytes::as_f32_mut");
        assert_eq!(
            err.to_string(),
            "bytes::as_f32_mut: 7 bytes are not a whole number of f32 values"
        );
    }

    /// The bytes of `words` (aligned to 4).
    fn bytemuck_free_bytes(words: &[u32; 4]) -> &[u8] {
        // SAFETY: u32 has no padding; the byte slice covers exactly the array.
        unsafe { std::slice::from_raw_parts(words.as_ptr().cast::<u8>(), 16) }
    }
}

/// What the one call form promises besides the numbers: errors that name the operator and where
/// each expected length came from, outputs untouched on error, `InOut` shareable across
/// threads, the scalar kernels in a `const`, and LayerNorm over the channels of a
/// channels-first tensor (what `layer_norm_channels` was).
mod api {
    use super::*;
    use normkern::{BatchNormTraining, MeanVarianceNorm, Momentum, RmsNorm, RunningStats};

    // `InOut` (and the handle and the error) can be sent to and shared with other threads:
    // checked when this file compiles.
    const _: () = {
        const fn send_and_sync<T: Send + Sync>() {}
        send_and_sync::<InOut<'static>>();
        send_and_sync::<Kernels>();
        send_and_sync::<NormError>();
    };

    /// The scalar kernels, built in a `const`.
    const SCALAR: Kernels = Kernels::scalar();

    #[test]
    fn scalar_kernels_are_const() {
        assert_eq!(SCALAR.isa(), Isa::Scalar);
        // The same kernels as the run-time scalar set; `scalar()`'s schedule and output
        // prefetch are fixed, the run-time ones this CPU's (the scalar kernels have one order
        // of passes and no prefetch instruction either way).
        let runtime = Kernels::new(Isa::Scalar).map(|k| {
            k.with_schedule(SCALAR.schedule())
                .with_output_prefetch(SCALAR.output_prefetch())
        });
        assert_eq!(Ok(SCALAR), runtime);
        let mut h = [3.0f32; 8];
        let mut inv_rms = [SENTINEL; 2];
        let rms = RmsNorm::new().eps(0.0);
        SCALAR
            .rms_norm(
                &rms,
                Shape::rows(2, 4),
                InOut::in_place(&mut h),
                Some(&mut inv_rms),
            )
            .unwrap();
        assert_eq!((h, inv_rms), ([1.0; 8], [1.0 / 3.0; 2]));
    }

    /// Every output a call can write, pre-filled with the sentinel.
    struct Outputs {
        y: Vec<f32>,
        mean: Vec<f32>,
        inv_std: Vec<f32>,
        inv_rms: Vec<f32>,
        running_mean: Vec<f32>,
        running_var: Vec<f32>,
    }

    impl Outputs {
        /// `y` values, `stats` values per statistic (saved, inv_rms, running).
        fn new(y: usize, stats: usize) -> Outputs {
            let s = || vec![SENTINEL; stats];
            Outputs {
                y: vec![SENTINEL; y],
                mean: s(),
                inv_std: s(),
                inv_rms: s(),
                running_mean: s(),
                running_var: s(),
            }
        }

        /// The output and the saved statistics, to hand one call.
        fn y_and_saved(&mut self) -> (&mut [f32], SavedStats<'_>) {
            (
                &mut self.y,
                SavedStats::new(&mut self.mean, &mut self.inv_std),
            )
        }

        fn untouched(&self) -> bool {
            let all = [
                &self.y,
                &self.mean,
                &self.inv_std,
                &self.inv_rms,
                &self.running_mean,
                &self.running_var,
            ];
            all.iter()
                .all(|b| b.iter().all(|v| v.to_bits() == SENTINEL.to_bits()))
        }
    }

    /// `call` fails on every instruction set with exactly `message` (the operator's name, a
    /// colon, what was wrong), and writes none of its outputs.
    fn refuses(
        message: &str,
        (y, stats): (usize, usize),
        call: impl Fn(Kernels, &mut Outputs) -> Result<(), NormError>,
    ) {
        for isa in Isa::available() {
            let mut out = Outputs::new(y, stats);
            let err = call(Kernels::new(isa).unwrap(), &mut out).expect_err(message);
            assert_eq!(err.to_string(), message, "on {isa}");
            assert_eq!(format!("{}: {}", err.op(), err.kind()), message);
            assert!(out.untouched(), "{message}: an output was written on {isa}");
        }
    }

    #[test]
    fn errors_name_the_operator_and_where_the_expectation_came_from() {
        let x = [0.5f32; 24];
        let (three, four) = ([1.0f32; 3], [1.0f32; 4]);
        // 2 samples, 4 channels, 3 positions; and 6 rows of 4.
        let (tensor, rows) = (Shape::nchw(2, 4, 1, 3), Shape::rows(6, 4));

        let ln = LayerNorm::new().gamma(&three);
        refuses(
            "layer_norm: `gamma` holds 3 values, expected 4 (shape.c)",
            (24, 6),
            |k, o| {
                let (y, s) = o.y_and_saved();
                k.layer_norm(&ln, rows, InOut::new(&x, y), Some(s))
            },
        );
        let ln = LayerNorm::new().beta(&four);
        refuses(
            "layer_norm: `mean` holds 7 values, expected 6 (shape.n * shape.spatial)",
            (24, 7),
            |k, o| {
                let (y, s) = o.y_and_saved();
                k.layer_norm(&ln, tensor, InOut::new(&x, y), Some(s))
            },
        );
        refuses(
            "layer_norm: `x` holds 24 values, expected 20 (shape.n * shape.c * shape.spatial)",
            (20, 5),
            |k, o| k.layer_norm(&ln, Shape::rows(5, 4), InOut::new(&x, &mut o.y), None),
        );
        let rms = RmsNorm::new().gamma(&four);
        refuses(
            "rms_norm: `inv_rms` holds 5 values, expected 6 (shape.n * shape.spatial)",
            (24, 5),
            |k, o| k.rms_norm(&rms, rows, InOut::new(&x, &mut o.y), Some(&mut o.inv_rms)),
        );
        refuses("rms_norm: `shape.c` must be at least 1", (0, 3), |k, o| {
            let p = RmsNorm::new();
            k.rms_norm(
                &p,
                Shape::rows(3, 0),
                InOut::new(&[], &mut o.y),
                Some(&mut o.inv_rms),
            )
        });
        refuses(
            "rms_norm: epsilon -0.5 is not finite and >= 0",
            (24, 6),
            |k, o| {
                let p = RmsNorm::new().eps(-0.5);
                k.rms_norm(&p, rows, InOut::new(&x, &mut o.y), Some(&mut o.inv_rms))
            },
        );

        let (mean, var) = ([0.0f32; 3], [1.0f32; 4]);
        refuses(
            "batch_norm_inference: `var` holds 4 values, expected 3 (mean.len())",
            (24, 0),
            |k, o| {
                let bn = BatchNorm::new(&mean, &var);
                k.batch_norm_inference(&bn, tensor, InOut::new(&x, &mut o.y))
            },
        );
        refuses(
            "batch_norm_inference: `mean` holds 3 values, expected 4 (shape.c)",
            (24, 0),
            |k, o| {
                let bn = BatchNorm::new(&mean, &var[..3]);
                k.batch_norm_inference(&bn, tensor, InOut::new(&x, &mut o.y))
            },
        );

        let train = BatchNormTraining::new().gamma(&four);
        refuses(
            "batch_norm_training: `running_var` holds 3 values, expected 4 (shape.c)",
            (24, 4),
            |k, o| {
                let m = Momentum::PYTORCH_DEFAULT;
                let r = RunningStats::new(&mut o.running_mean, &mut o.running_var[..3], m);
                let s = SavedStats::new(&mut o.mean, &mut o.inv_std);
                k.batch_norm_training(&train, tensor, InOut::new(&x, &mut o.y), Some(r), Some(s))
            },
        );
        refuses(
            "batch_norm_training: `inv_std` holds 3 values, expected 4 (shape.c)",
            (24, 4),
            |k, o| {
                let s = SavedStats::new(&mut o.mean, &mut o.inv_std[..3]);
                k.batch_norm_training(&train, tensor, InOut::new(&x, &mut o.y), None, Some(s))
            },
        );
        refuses(
            "batch_norm_training: momentum 1.5 is not finite and in 0..=1 (or no batch was counted)",
            (24, 4),
            |k, o| {
                let m = Momentum::Onnx(1.5);
                let r = RunningStats::new(&mut o.running_mean, &mut o.running_var, m);
                k.batch_norm_training(&train, tensor, InOut::new(&x, &mut o.y), Some(r), None)
            },
        );
        refuses(
            "batch_norm_training: training needs more than 1 value per channel, got 1",
            (4, 4),
            |k, o| {
                let r = RunningStats::new(
                    &mut o.running_mean,
                    &mut o.running_var,
                    Momentum::PYTORCH_DEFAULT,
                );
                let s = SavedStats::new(&mut o.mean, &mut o.inv_std);
                let one = Shape::ncl(1, 4, 1);
                k.batch_norm_training(&train, one, InOut::new(&x[..4], &mut o.y), Some(r), Some(s))
            },
        );

        let inorm = InstanceNorm::new().gamma(&four).beta(&four);
        refuses(
            "instance_norm: `inv_std` holds 7 values, expected 8 (shape.n * shape.c)",
            (24, 8),
            |k, o| {
                let s = SavedStats::new(&mut o.mean, &mut o.inv_std[..7]);
                k.instance_norm(&inorm, tensor, InOut::new(&x, &mut o.y), Some(s))
            },
        );
        refuses(
            "instance_norm: `beta` holds 4 values, expected 3 (shape.c)",
            (18, 6),
            |k, o| {
                let three_channels = Shape::ntc(2, 3, 3);
                let p = InstanceNorm::new().gamma(&three).beta(&four);
                let (y, s) = o.y_and_saved();
                k.instance_norm(&p, three_channels, InOut::new(&x[..18], y), Some(s))
            },
        );

        refuses(
            "group_norm: `mean` holds 3 values, expected 4 (shape.n * groups)",
            (24, 4),
            |k, o| {
                let s = SavedStats::new(&mut o.mean[..3], &mut o.inv_std);
                k.group_norm(
                    &GroupNorm::new(2),
                    tensor,
                    InOut::new(&x, &mut o.y),
                    Some(s),
                )
            },
        );
        refuses(
            "group_norm: 4 channels do not split into 3 equal groups",
            (24, 6),
            |k, o| {
                let (y, s) = o.y_and_saved();
                k.group_norm(&GroupNorm::new(3), tensor, InOut::new(&x, y), Some(s))
            },
        );
        refuses(
            "group_norm: `groups` must be at least 1",
            (24, 0),
            |k, o| k.group_norm(&GroupNorm::new(0), tensor, InOut::new(&x, &mut o.y), None),
        );
        refuses(
            "group_norm: the shape's element count overflows usize",
            (24, 2),
            |k, o| {
                let huge = Shape::nchw(1, 2, usize::MAX, 2); // h * w saturates
                let (y, s) = o.y_and_saved();
                k.group_norm(&GroupNorm::new(1), huge, InOut::new(&x, y), Some(s))
            },
        );

        refuses(
            "mean_variance_norm: `y` holds 23 values, expected 24 (shape.n * shape.c * shape.spatial)",
            (23, 0),
            |k, o| {
                let p = MeanVarianceNorm::new().axes(MvnAxes::Spatial);
                k.mean_variance_norm(&p, tensor, InOut::new(&x, &mut o.y))
            },
        );
    }

    /// LayerNorm on a channels-first tensor normalizes each position's values across the
    /// planes (ConvNeXt's `LayerNorm(channels_first)`, the former `layer_norm_channels`), as
    /// it does each position's contiguous channels on the same tensor channels-last, with the
    /// statistics of each (n, position) in that order.
    #[test]
    fn layer_norm_on_channels_first_normalizes_each_position() {
        // NCL [2, 2, 3]: position p of sample s holds (p + 1 + 10 s, p + 3 + 10 s).
        let x_cf = [
            1.0f32, 2.0, 3.0, 3.0, 4.0, 5.0, 11.0, 12.0, 13.0, 13.0, 14.0, 15.0,
        ];
        let x_cl = Dims::relayout(
            &x_cf,
            &Dims::channels_first(2, 2, 3),
            &Dims::channels_last(2, 3, 2),
        );
        let (gamma, beta) = ([2.0f32, 0.5], [0.25f32, -1.0]);
        let ln = LayerNorm::new().eps(0.0).gamma(&gamma).beta(&beta);
        // Every position: x̂ = -1 on channel 0, +1 on channel 1.
        let y_cf = [-1.75f32, -1.75, -1.75, -0.5, -0.5, -0.5];
        let want_mean = [2.0f32, 3.0, 4.0, 12.0, 13.0, 14.0];
        for path in check::paths() {
            for (shape, x) in [
                (Shape::ncl(2, 2, 3), &x_cf[..]),
                (Shape::ntc(2, 3, 2), &x_cl[..]),
            ] {
                let (mut mean, mut inv) = ([SENTINEL; 6], [SENTINEL; 6]);
                let saved = SavedStats::new(&mut mean, &mut inv);
                let y = check::run(path, x, |io| {
                    path.kernels.layer_norm(&ln, shape, io, Some(saved))
                })
                .unwrap();
                let y = match shape.layout() {
                    Layout::ChannelsFirst => y,
                    _ => Dims::relayout(
                        &y,
                        &Dims::channels_last(2, 3, 2),
                        &Dims::channels_first(2, 2, 3),
                    ),
                };
                let close = |got: &[f32], want: &[f32]| {
                    got.iter().zip(want).all(|(&g, &w)| {
                        f64::from((g - w).abs()) <= Y_TOL * f64::from(1.0 + w.abs())
                    })
                };
                let want_y: Vec<f32> = [y_cf, y_cf].concat();
                assert!(close(&y, &want_y), "{path} {shape:?}: y {y:?}");
                assert!(close(&mean, &want_mean), "{path} {shape:?}: mean {mean:?}");
                assert!(close(&inv, &[1.0; 6]), "{path} {shape:?}: inv_std {inv:?}");
            }
        }
    }
}
