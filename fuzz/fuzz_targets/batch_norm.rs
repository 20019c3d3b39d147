//! BatchNorm: inference with running statistics, training (batch statistics, saved statistics,
//! running-statistics update under each momentum convention), and folding into a per-channel
//! scale/shift, a convolution or a linear layer. Both layouts.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use normkern::{
    BatchNorm, BatchNormTraining, ConvKernel, Kernels, Momentum, NormError, RunningStats,
};
use normkern_fuzz::adapt::{self, MaybeBeta, MaybeGamma};
use normkern_fuzz::bounds::{self as r, DEV, Expect, REL};
use normkern_fuzz::check::{self, Case, Extra, GroupMap, ParamFlags, Reference, Tensor};
use normkern_fuzz::each_elem;
use normkern_fuzz::elem::{ElemPick, ElemType, Io};
use normkern_fuzz::input::{
    self as spec, Affine, Buffers, Dim, Eps, IsaPick, Len, Param, SavedSpec, ShapeSpec,
};
use normkern_fuzz::saved;
use normkern_reference::{self as exact, Grouping};

#[derive(Arbitrary, Debug, Clone, Copy)]
enum MomentumSpec {
    PyTorch(u8),
    Onnx(u8),
    /// Any bit pattern: out of 0..=1, NaN and infinities are invalid.
    PyTorchBits(u32),
    OnnxBits(u32),
    /// `batches = 0` is invalid.
    Cumulative(u8),
}

impl MomentumSpec {
    fn momentum(self) -> Momentum {
        match self {
            MomentumSpec::PyTorch(v) => Momentum::PyTorch(f32::from(v) / 255.0),
            MomentumSpec::Onnx(v) => Momentum::Onnx(f32::from(v) / 255.0),
            MomentumSpec::PyTorchBits(b) => Momentum::PyTorch(f32::from_bits(b)),
            MomentumSpec::OnnxBits(b) => Momentum::Onnx(f32::from_bits(b)),
            MomentumSpec::Cumulative(b) => Momentum::CumulativeAverage {
                batches: u64::from(b),
            },
        }
    }
}

/// Independent rule: PyTorch / ONNX momenta must be finite and in 0..=1; a cumulative average
/// needs at least one batch.
fn momentum_valid(m: Momentum) -> bool {
    match m {
        Momentum::PyTorch(v) | Momentum::Onnx(v) => v.is_finite() && (0.0..=1.0).contains(&v),
        Momentum::CumulativeAverage { batches } => batches >= 1,
        other => panic!("no validity rule for momentum {other:?}"),
    }
}

#[derive(Arbitrary, Debug)]
struct Running {
    mean: Param,
    var: Param,
    momentum: MomentumSpec,
}

#[derive(Arbitrary, Debug)]
enum Fold {
    ScaleShift {
        scale: Len,
        shift: Len,
    },
    Conv {
        in_per_group: Dim,
        kh: Dim,
        kw: Dim,
        weight: Param,
        bias: Option<Param>,
        folded: Len,
    },
    Linear {
        in_features: Dim,
        weight: Param,
        bias: Option<Param>,
        folded: Len,
    },
}

#[derive(Arbitrary, Debug)]
#[allow(clippy::large_enum_variant)] // a fuzz input, built once per execution
enum Mode {
    Inference {
        mean: Param,
        var: Param,
    },
    Training {
        running: Option<Running>,
        saved: Option<SavedSpec>,
    },
    Fold {
        channels: Dim,
        mean: Param,
        var: Param,
        fold: Fold,
    },
}

#[derive(Arbitrary, Debug)]
struct Input {
    /// The element type (first: every seed written before it decodes with a zero byte in
    /// front, as f32).
    elem: ElemPick,
    mode: Mode,
    shape: ShapeSpec,
    isa: IsaPick,
    buffers: Buffers,
    eps: Eps,
    gamma: Option<Param>,
    beta: Option<Param>,
    data: spec::Data,
}

fuzz_target!(|input: Input| run(input));

fn run(input: Input) {
    match &input.mode {
        Mode::Inference { mean, var } => inference(&input, mean, var),
        Mode::Training { running, saved } => training(&input, running.as_ref(), *saved),
        Mode::Fold {
            channels,
            mean,
            var,
            fold,
        } => self::fold(&input, channels.value(), mean, var, fold),
    }
}

fn inference(input: &Input, mean: &Param, var: &Param) {
    let shape = input.shape.shape();
    let c = shape.c();
    let eps = input.eps.value();
    let want = spec::shape_len(&shape);
    let tensor = Tensor::build(input.elem, input.isa, input.buffers, &input.data, want);
    let (mean, var) = (mean.build(Some(c)), var.build(Some(c)));
    let affine = Affine::build(&input.gamma, &input.beta, c);
    let (g, b) = (affine.gamma(), affine.beta());

    let valid = tensor.lengths_ok(want)
        && mean.len() == c
        && var.len() == c
        && affine.lengths_ok(c)
        && spec::eps_valid(eps);

    // Inference normalizes each value on its own: poisoning is per element.
    let grouping = valid.then(|| GroupMap::elementwise(tensor.x.len()));
    let params = running_flags(tensor.elem, eps, &affine, &mean, &var);
    let case = Case {
        grouping: grouping.as_ref(),
        ..tensor.case("batch_norm_inference", valid, params)
    };
    let bn = BatchNorm::new(&mean, &var)
        .eps(eps)
        .maybe_gamma(g)
        .maybe_beta(b);
    let run = |k: &Kernels, io: Io<'_>, _: &[f32], _: &mut [Vec<f32>]| -> Result<(), NormError> {
        each_elem!(io, io => k.batch_norm_inference(&bn, shape, io))
    };
    let reference = |x: &[f32]| {
        let dims = adapt::dims(&shape);
        let (y, mag) = exact::batch_norm_inference(x, &dims, &mean, &var, g, b, eps);
        // One rounding of x - mean, of the scale and of the fused multiply-add, relative to
        // mag = |t| + |beta|.
        let y = y
            .iter()
            .zip(&mag)
            .map(|(&y, &m)| Some((y, REL * m + r::ABS)))
            .collect();
        Reference { y, extras: vec![] }
    };
    check::check_case(&case, &run, &reference);
}

fn training(input: &Input, running: Option<&Running>, saved: Option<SavedSpec>) {
    let shape = input.shape.shape();
    let (n, c, s) = (shape.n(), shape.c(), shape.spatial());
    let eps = input.eps.value();
    let want = spec::shape_len(&shape);
    let tensor = Tensor::build(input.elem, input.isa, input.buffers, &input.data, want);
    let affine = Affine::build(&input.gamma, &input.beta, c);
    let (g, b) = (affine.gamma(), affine.beta());
    let saved = saved.map(|sv| sv.build(Some(c)));
    let running_bufs = running.map(|rs| (rs.mean.build(Some(c)), rs.var.build(Some(c))));
    let momentum = running.map(|rs| rs.momentum.momentum());
    let per_channel = n as u128 * s as u128;

    let valid = tensor.lengths_ok(want)
        && spec::eps_valid(eps)
        && affine.lengths_ok(c)
        && saved::lengths_ok(saved.as_ref(), Some(c))
        && running_bufs
            .as_ref()
            .is_none_or(|(m, v)| m.len() == c && v.len() == c)
        && momentum.is_none_or(momentum_valid)
        && per_channel > 1;

    let dims = adapt::dims(&shape);
    let grouping = valid.then(|| GroupMap::of(&dims, Grouping::PerChannel));
    let mut extras = saved::extras(saved.as_ref(), ["saved_mean", "saved_inv_std"], true);
    if let Some((m, v)) = &running_bufs {
        extras.push(Extra::in_out("running_mean", m.clone()));
        extras.push(Extra::in_out("running_var", v.clone()));
    }
    // The running statistics are parameters too.
    let (rm, rv) = running_bufs.as_ref().map(|(m, v)| (&m[..], &v[..])).unzip();
    let params = ParamFlags::of(tensor.elem, eps, &[g, b, rm, rv]);
    let case = Case {
        extras,
        grouping: grouping.as_ref(),
        ..tensor.case("batch_norm_training", valid, params)
    };
    let p = BatchNormTraining::new()
        .eps(eps)
        .maybe_gamma(g)
        .maybe_beta(b);
    let has_saved = saved.is_some();
    let run =
        |k: &Kernels, io: Io<'_>, _: &[f32], extras: &mut [Vec<f32>]| -> Result<(), NormError> {
            let (saved_bufs, running_slices) = extras.split_at_mut(if has_saved { 2 } else { 0 });
            let saved = saved::stats(saved_bufs);
            let running = match running_slices {
                [mean, var] => Some(RunningStats::new(mean, var, momentum.expect("running"))),
                _ => None,
            };
            each_elem!(io, io => k.batch_norm_training(&p, shape, io, running, saved))
        };
    let reference = |x: &[f32]| {
        let want = exact::batch_norm_training(x, &dims, eps, g, b);
        let st = &want.stats;
        let mut extras = vec![];
        if has_saved {
            extras.extend(saved::expected(st, eps));
        }
        if let (Some((rm, rv)), Some(m)) = (&running_bufs, momentum) {
            let m = adapt::momentum(m);
            let running = exact::running_update(st, rm, rv, m);
            let w = m.batch_weight();
            let mut mean_out: Vec<Expect> = vec![];
            let mut var_out: Vec<Expect> = vec![];
            for (ch, st) in st.iter().enumerate() {
                let cnt = st.count as f64;
                let batch_var = m.batch_var(st);
                let (old_m, old_v) = ((1.0 - w) * f64::from(rm[ch]), (1.0 - w) * f64::from(rv[ch]));
                let (new_m, new_v) = (w * st.mean, w * batch_var);
                // The batch mean carries the saved mean's error, weighted by w; the products and
                // the sum are rounded once each (REL). The weights `w` and `1 - w` are rounded to
                // f32 first, an absolute error of up to 2u = 1.2e-7 each (an ONNX momentum m is
                // applied as 1 - (1 - m)), which WEIGHT = 2.4e-7 (4u) of each operand covers.
                const WEIGHT: f64 = 2.4e-7;
                let (rmf, rvf) = (f64::from(rm[ch]), f64::from(rv[ch]));
                let m_tol = REL * (old_m.abs() + new_m.abs())
                    + WEIGHT * (rmf.abs() + st.mean.abs())
                    + w * DEV * (cnt.sqrt() * st.std())
                    + 1e-38;
                let v_tol =
                    REL * (old_v.abs() + new_v.abs()) + WEIGHT * (rvf.abs() + batch_var) + 1e-37;
                mean_out.push(Some((running.mean[ch], m_tol)));
                var_out.push(Some((running.var[ch], v_tol)));
            }
            extras.push(mean_out);
            extras.push(var_out);
        }
        let y = r::outputs(&want, &dims, Grouping::PerChannel, g);
        Reference { y, extras }
    };
    check::check_case(&case, &run, &reference);
}

/// A BatchNorm's parameter flags: running statistics count, and a variance must also be >= 0.
fn running_flags(
    elem: ElemType,
    eps: f32,
    affine: &Affine,
    mean: &[f32],
    var: &[f32],
) -> ParamFlags {
    let params = [affine.gamma(), affine.beta(), Some(mean), Some(var)];
    let mut flags = ParamFlags::of(elem, eps, &params);
    flags.in_domain &= var.iter().all(|&v| v >= 0.0);
    flags
}

/// An error of `op` names it.
fn names(op: &str, result: Result<(), NormError>) {
    if let Err(e) = result {
        assert_eq!(e.op(), op, "{e}");
    }
}

fn fold(input: &Input, channels: usize, mean: &Param, var: &Param, fold: &Fold) {
    let eps = input.eps.value();
    let (mean, var) = (mean.build(Some(channels)), var.build(Some(channels)));
    // A folded BatchNorm has as many channels as running means.
    let c = mean.len();
    let affine = Affine::build(&input.gamma, &input.beta, c);
    let (g, b) = (affine.gamma(), affine.beta());
    let bn = BatchNorm::new(&mean, &var)
        .eps(eps)
        .maybe_gamma(g)
        .maybe_beta(b);
    assert_eq!(bn.channels(), mean.len());
    let bn_ok = var.len() == c && affine.lengths_ok(c) && spec::eps_valid(eps);
    // Folding computes in f32.
    let numeric = bn_ok && running_flags(ElemType::F32, eps, &affine, &mean, &var).in_domain;
    // Exact per-channel scale and shift in f64 (only used on valid, in-domain parameters).
    let scale_shift = || exact::bn_scale_shift(&mean, &var, g, b, eps);
    let beta_of = |ch: usize| exact::affine_at(g, b, ch).1;
    let close = |what: &str, got: f32, want: f64, tol: f64| {
        assert!(
            (f64::from(got) - want).abs() <= tol,
            "fold: {what} = {got:e}, reference {want:e} (tolerance {tol:e})"
        );
    };

    match fold {
        Fold::ScaleShift { scale, shift } => {
            let mut sc = vec![check::sentinel(); scale.resolve(Some(c))];
            let mut sh = vec![check::sentinel(); shift.resolve(Some(c))];
            let result = bn.scale_shift(&mut sc, &mut sh);
            let valid = bn_ok && sc.len() == c && sh.len() == c;
            assert_eq!(result.is_ok(), valid, "scale_shift: {result:?}");
            names("BatchNorm::scale_shift", result);
            if !valid {
                assert!(
                    check::bits(&sc)
                        .iter()
                        .chain(&check::bits(&sh))
                        .all(|&v| v == check::SENTINEL)
                );
                return;
            }
            if numeric {
                for (ch, (s, shift)) in scale_shift().into_iter().enumerate() {
                    let ms = f64::from(mean[ch]) * s;
                    close("scale", sc[ch], s, REL * s.abs() + r::ABS);
                    close(
                        "shift",
                        sh[ch],
                        shift,
                        REL * (beta_of(ch).abs() + ms.abs()) + r::ABS,
                    );
                }
            }
        }
        Fold::Conv { .. } | Fold::Linear { .. } => {
            let (kernel, weight, bias, folded, is_conv) = match fold {
                Fold::Conv {
                    in_per_group,
                    kh,
                    kw,
                    weight,
                    bias,
                    folded,
                } => {
                    let k = ConvKernel {
                        in_per_group: in_per_group.value(),
                        kh: kh.value(),
                        kw: kw.value(),
                    };
                    (k, weight, bias, folded, true)
                }
                Fold::Linear {
                    in_features,
                    weight,
                    bias,
                    folded,
                } => {
                    let k = ConvKernel {
                        in_per_group: in_features.value(),
                        kh: 1,
                        kw: 1,
                    };
                    (k, weight, bias, folded, false)
                }
                Fold::ScaleShift { .. } => unreachable!(),
            };
            let per_out = kernel
                .in_per_group
                .checked_mul(kernel.kh)
                .and_then(|v| v.checked_mul(kernel.kw));
            let want_w = per_out.and_then(|p| p.checked_mul(c));
            let w0 = weight.build(want_w);
            let bias = spec::opt_param(bias, Some(c));
            let mut w = w0.clone();
            let mut fb = vec![check::sentinel(); folded.resolve(Some(c))];
            let (result, op) = if is_conv {
                let r = bn.fold_into_conv(&mut w, kernel, bias.as_deref(), &mut fb);
                (r, "BatchNorm::fold_into_conv")
            } else {
                let r = bn.fold_into_linear(&mut w, kernel.in_per_group, bias.as_deref(), &mut fb);
                (r, "BatchNorm::fold_into_linear")
            };
            names(op, result);
            let valid = bn_ok
                && want_w == Some(w0.len())
                && bias.as_ref().is_none_or(|v| v.len() == c)
                && fb.len() == c;
            assert_eq!(result.is_ok(), valid, "fold: {result:?}");
            if !valid {
                assert!(
                    check::bits(&w) == check::bits(&w0),
                    "fold: weight written on error"
                );
                assert!(check::bits(&fb).iter().all(|&v| v == check::SENTINEL));
                return;
            }
            let numeric = numeric
                && w0.iter().all(|&v| r::param_in_domain(v))
                && bias
                    .as_ref()
                    .is_none_or(|v| v.iter().all(|&v| r::param_in_domain(v)));
            if numeric {
                let (want_w, want_b) = exact::fold_weights(&w0, bias.as_deref(), &scale_shift());
                for (i, &want) in want_w.iter().enumerate() {
                    close("weight", w[i], want, REL * want.abs() + r::ABS);
                }
                for (ch, &want) in want_b.iter().enumerate() {
                    // (bias - mean) · scale + beta, rounded relative to each of its two terms.
                    let bt = beta_of(ch);
                    let t = want - bt;
                    close(
                        "folded_bias",
                        fb[ch],
                        want,
                        REL * (t.abs() + bt.abs()) + r::ABS,
                    );
                }
            }
        }
    }
}
