//! Property tests of what engines run around a normalization: the f16 and bf16 element types,
//! the activations fused into the normalize pass and the residual add fused into LayerNorm and
//! RMSNorm, on every instruction set this CPU has, out of place and in place, on both layouts
//! where the operator has them.
//!
//! - Element types: every operator in f16 and bf16 is "widen to f32, run the f32 operator,
//!   round once" within 1 ulp of the element type, and its statistics (saved, running, inverse
//!   root mean squares) are the f32 run's, bit for bit.
//! - Activations: `.then(act)` is the operator followed by the activation: within the
//!   activation's stated error (in f32 ulps, `src/simd/math.rs`) of the float64 activation of
//!   the f32 operator's output; in f16 and bf16 within 1 ulp of the element type.
//! - Fused residual add: `add_layer_norm` and `add_rms_norm`, with and without bias, the sum
//!   written to its own buffer, over the residual or nowhere, in f32, f16 and bf16, then an
//!   activation or none, equal an add pass (rounded to the element type) followed by the norm
//!   within the norm's tolerance, with the statistics of that sum; the sum they write is that
//!   add, bit for bit.
//! - Bad input (wrong skip, sum and bias lengths, a channels-first shape, and the usual wrong
//!   lengths, for every element type) is an error naming the operator, with every output,
//!   the residual and the statistics untouched.
//!
//! The float64 values come from `normkern-reference` (its `Activation::apply` for the
//! activations); the tolerances are derived in `tests/common/check.rs` and at each check below.

use crate::common::adapt::{MaybeBeta, MaybeGamma};
use crate::common::check::{self, Mode, Path, SENTINEL, SUBNORMAL_SLACK, Y_TOL};
use crate::common::engine::{self, Act, Elem, with_activation};
use crate::common::ops::{self, Op};
use crate::common::strategies as st;
use crate::common::{AffineSpec, Rng, Signal, to_f32};
use normkern::{
    ErrorKind, InOut, LayerNorm, Layout, MvnAxes, NoActivation, NormError, Residual, RmsNorm,
    SavedStats, Shape, bf16, f16,
};
use normkern_reference::{self as reference, Dims, Formula};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

/// Cases per property: each runs on every instruction set, both buffer modes and both layouts.
const CASES: u32 = 24;

/// The case with its signal brought into `T`'s range. f16 holds magnitudes up to 65504: its
/// signals take magnitudes 1e-6..1e3 (log-mapped from the strategy's 1e-20..1e18) and offsets
/// within ±3e4, so that every value (at most 16 magnitudes from the offset) stays below 5e4.
/// bf16 has f32's range: unchanged.
fn in_range<T: Elem>(case: &ops::Case) -> ops::Case {
    ops::Case {
        signal: fit::<T>(case.signal),
        ..*case
    }
}

/// [`in_range`] for one signal.
fn fit<T: Elem>(s: Signal) -> Signal {
    if T::MAX > 1e30 {
        return s;
    }
    let e = s.magnitude.log10().clamp(-20.0, 18.0);
    Signal {
        magnitude: 10f64.powf(-6.0 + (e + 20.0) * 9.0 / 38.0),
        offset: s.offset * 0.3,
        ..s
    }
}

/// The logical tensor of `case` in `T`, in `layout`, and widened back to f32.
fn data<T: Elem>(case: &ops::Case, layout: Layout) -> (Vec<T>, Vec<f32>) {
    let x_cf: Vec<T> = engine::round_all(&case.sample());
    let x = Dims::relayout(&x_cf, &case.dims(Layout::ChannelsFirst), &case.dims(layout));
    let wide = engine::widen_all(&x);
    (x, wide)
}

/// Every value of `got` within `max` ulps of `want` (of `T`); else the worst, with its place.
fn within_ulps<T: Elem>(what: &str, got: &[T], want: &[T], max: u64) -> Result<(), TestCaseError> {
    if got.len() != want.len() {
        return Err(check::fail(format!(
            "{what}: {} values, expected {}",
            got.len(),
            want.len()
        )));
    }
    let worst = (0..got.len())
        .map(|i| (i, engine::ulps(got[i], want[i])))
        .max_by_key(|&(_, d)| d);
    match worst {
        Some((i, d)) if d > max => {
            let bad = (0..got.len())
                .filter(|&j| engine::ulps(got[j], want[j]) > max)
                .count();
            Err(check::fail(format!(
                "{what}: {bad} of {} values more than {max} ulp(s) of {} off; worst at [{i}]: \
                 got {:e}, want {:e} ({d} ulps)",
                got.len(),
                T::NAME,
                got[i].widen(),
                want[i].widen(),
            )))
        }
        _ => Ok(()),
    }
}

/// The statistics two runs wrote, bit for bit.
fn same_statistics<T: Elem, U: Elem>(
    what: &str,
    got: &ops::Outputs<T>,
    want: &ops::Outputs<U>,
) -> Result<(), TestCaseError> {
    for ((name, g), (_, w)) in got.statistics().into_iter().zip(want.statistics()) {
        let (Some(g), Some(w)) = (g, w) else {
            continue;
        };
        if let Some(i) = (0..g.len().max(w.len()))
            .find(|&i| g.get(i).map(|v| v.to_bits()) != w.get(i).map(|v| v.to_bits()))
        {
            return Err(check::fail(format!(
                "{what}: {name}[{i}] = {:?}, but {:?} from the f32 run",
                g.get(i),
                w.get(i)
            )));
        }
    }
    Ok(())
}

/// Element types: the operator in `T` is the f32 operator on the widened input, its output
/// rounded once to `T`, within 1 ulp of `T` (the two may round an f32 value that differs in
/// its last bits to neighbouring values of `T`); its statistics are the f32 run's, bit for bit
/// (they are taken from the same widened values).
fn is_the_f32_operator_rounded<T: Elem>(op: Op, case: &ops::Case) -> Result<(), TestCaseError> {
    let case = in_range::<T>(case);
    let params = case.params();
    for &layout in op.layouts() {
        let (x, wide) = data::<T>(&case, layout);
        let mut failures = vec![];
        for path in check::paths() {
            let what = format!("{} {} @ {path} {layout:?}", op.name(), T::NAME);
            let got = ops::execute_with(op, &case, &params, layout, path, &x, Act::None.any())?;
            let f32_run = ops::execute(op, &case, &params, layout, path, &wide)?;
            let want: Vec<T> = engine::round_all(&f32_run.y);
            let result = within_ulps(&format!("{what} y"), &got.y, &want, 1)
                .and_then(|()| same_statistics(&what, &got, &f32_run));
            if let Err(e) = result {
                failures.push((path, e));
            }
        }
        check::all_paths(failures)?;
    }
    Ok(())
}

/// The ulps of `T` `.then(act)` may be off the float64 activation of the f32 operator's
/// output: in f32, the activation's own stated error (the normalized value it is applied to is
/// the f32 operator's output, bit for bit); in f16 and bf16, 1 ulp: the f32 result, within a
/// few f32 ulps of the exact one, rounds to within one value of `T` of its correct rounding.
fn activation_ulps<T: Elem>(act: Act) -> u64 {
    if T::MANTISSA_BITS == f32::MANTISSA_BITS {
        act.max_ulps()
    } else {
        1
    }
}

/// Activations: `op.then(act)` in `T` equals `op` in f32 (on the widened input) followed by
/// the float64 activation, rounded once to `T`, within [`activation_ulps`]; the statistics are
/// those of the f32 run without activation.
fn activation_follows<T: Elem>(op: Op, case: &ops::Case, act: Act) -> Result<(), TestCaseError> {
    let case = in_range::<T>(case);
    let params = case.params();
    let max = activation_ulps::<T>(act);
    for &layout in op.layouts() {
        let (x, wide) = data::<T>(&case, layout);
        let mut failures = vec![];
        for path in check::paths() {
            let what = format!(
                "{}.then({act:?}) {} @ {path} {layout:?}",
                op.name(),
                T::NAME
            );
            let got = with_activation!(act, a => ops::execute_with(op, &case, &params, layout, path, &x, a))?;
            let plain = ops::execute(op, &case, &params, layout, path, &wide)?;
            let want: Vec<T> = plain
                .y
                .iter()
                .map(|&v| engine::round_f64(act.exact(f64::from(v))))
                .collect();
            let result = within_ulps(&format!("{what} y"), &got.y, &want, max)
                .and_then(|()| same_statistics(&what, &got, &plain));
            if let Err(e) = result {
                failures.push((path, e));
            }
        }
        check::all_paths(failures)?;
    }
    Ok(())
}

/// Any of the four activations.
fn activation() -> impl Strategy<Value = Act> {
    prop::sample::select(Act::ALL.to_vec())
}

/// The element-type properties of an operator; with `then`, the activation property too.
macro_rules! engine_properties {
    ($op:expr) => {
        proptest! {
            #![proptest_config(st::config(CASES))]

            /// f16 is the f32 operator rounded once, within 1 ulp; statistics bit for bit.
            #[test]
            fn f16_is_the_f32_operator_rounded(case in st::case($op)) {
                is_the_f32_operator_rounded::<f16>($op, &case)?;
            }

            /// bf16 likewise.
            #[test]
            fn bf16_is_the_f32_operator_rounded(case in st::case($op)) {
                is_the_f32_operator_rounded::<bf16>($op, &case)?;
            }
        }
    };
    ($op:expr, then) => {
        engine_properties!($op);

        proptest! {
            #![proptest_config(st::config(CASES))]

            /// `.then(act)` is the operator followed by the activation, in f32, f16 or bf16.
            #[test]
            fn then_applies_the_activation(case in st::case($op), act in activation(), elem in 0u8..3) {
                match elem {
                    0 => activation_follows::<f32>($op, &case, act)?,
                    1 => activation_follows::<f16>($op, &case, act)?,
                    _ => activation_follows::<bf16>($op, &case, act)?,
                }
            }
        }
    };
}

mod layer_norm {
    use super::*;
    engine_properties!(Op::LayerNorm, then);
}

mod layer_norm_channels {
    use super::*;
    engine_properties!(Op::LayerNormChannels, then);
}

mod rms_norm {
    use super::*;
    engine_properties!(Op::RmsNorm, then);
}

mod rms_norm_channels {
    use super::*;
    engine_properties!(Op::RmsNormChannels, then);
}

mod batch_norm_inference {
    use super::*;
    engine_properties!(Op::BatchNormInference, then);
}

mod batch_norm_training {
    use super::*;
    engine_properties!(Op::BatchNormTraining);
}

mod instance_norm {
    use super::*;
    engine_properties!(Op::InstanceNorm, then);
}

mod group_norm {
    use super::*;
    engine_properties!(Op::GroupNorm, then);
}

mod mvn_batch_and_spatial {
    use super::*;
    engine_properties!(Op::Mvn(MvnAxes::BatchAndSpatial));
}

mod mvn_spatial {
    use super::*;
    engine_properties!(Op::Mvn(MvnAxes::Spatial));
}

mod mvn_channels_and_spatial {
    use super::*;
    engine_properties!(Op::Mvn(MvnAxes::ChannelsAndSpatial));
}

/// The residual add fused into LayerNorm and RMSNorm.
mod fused {
    use super::*;

    /// Where the sum goes.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum SumTo {
        /// `Residual::new`: not written.
        Nowhere,
        /// `Residual::sum_to`: a buffer of its own.
        Own,
        /// `Residual::accumulate`: over the residual.
        Residual,
    }

    /// A fused call: `[n, positions, c]` channels-last (as `Shape::rows(n · positions, c)` or
    /// `Shape::channels_last(n, positions, c)`), x and skip, an optional bias, the layer and
    /// its activation, where the sum and the statistics go.
    #[derive(Clone, Copy, Debug)]
    pub struct FusedCase {
        pub rms: bool,
        pub n: usize,
        pub positions: usize,
        pub c: usize,
        pub rows_form: bool,
        pub x: Signal,
        pub skip: Signal,
        pub bias: Option<u64>,
        pub eps: f32,
        pub affine: AffineSpec,
        pub saved: bool,
        pub sum: SumTo,
        pub act: Act,
    }

    impl FusedCase {
        pub fn shape(&self) -> Shape {
            if self.rows_form {
                Shape::rows(self.n * self.positions, self.c)
            } else {
                Shape::channels_last(self.n, self.positions, self.c)
            }
        }

        pub fn len(&self) -> usize {
            self.n * self.positions * self.c
        }

        pub fn rows(&self) -> usize {
            self.n * self.positions
        }

        /// The bias: per channel, of the size of the data.
        pub fn bias(&self) -> Option<Vec<f32>> {
            self.bias.map(|seed| {
                let mut rng = Rng::new(seed);
                let size = self.x.magnitude.max(self.skip.magnitude);
                (0..self.c)
                    .map(|_| to_f32(size * rng.range(-1.0, 1.0)))
                    .collect()
            })
        }

        /// Gamma and beta (RMSNorm has no beta).
        pub fn affine(&self) -> (Option<Vec<f32>>, Option<Vec<f32>>) {
            let (gamma, beta) = self.affine.make(self.c);
            (gamma, if self.rms { None } else { beta })
        }

        pub fn op(&self) -> &'static str {
            if self.rms {
                "add_rms_norm"
            } else {
                "add_layer_norm"
            }
        }
    }

    pub fn fused_case() -> impl Strategy<Value = FusedCase> {
        let sum = prop::sample::select(vec![SumTo::Nowhere, SumTo::Own, SumTo::Residual]);
        let act = prop::sample::select(vec![
            Act::None,
            Act::Relu,
            Act::Silu,
            Act::Gelu,
            Act::GeluTanh,
        ]);
        (
            (
                any::<bool>(),
                1usize..=2,
                1usize..=6,
                st::row_len(),
                any::<bool>(),
            ),
            (st::signal(), st::signal(), prop::option::of(any::<u64>())),
            (
                st::eps(),
                st::affine(),
                any::<bool>(),
                sum,
                prop_oneof![2 => Just(Act::None), 1 => act],
            ),
        )
            .prop_map(
                |(
                    (rms, n, positions, c, rows_form),
                    (x, skip, bias),
                    (eps, affine, saved, sum, act),
                )| {
                    let positions = positions.min(st::MAX_ELEMENTS / (n * c)).max(1);
                    FusedCase {
                        rms,
                        n,
                        positions,
                        c,
                        rows_form,
                        x,
                        skip,
                        bias,
                        eps,
                        affine,
                        saved,
                        sum,
                        act,
                    }
                },
            )
    }

    /// The add pass: `(x + skip) + bias` in f32 (no bias: `x + skip`), rounded to `T`.
    pub fn add<T: Elem>(x: &[T], skip: &[T], bias: Option<&[f32]>, c: usize) -> Vec<T> {
        (0..x.len())
            .map(|i| {
                let s = x[i].widen() + skip[i].widen();
                T::round(match bias {
                    Some(b) => s + b[i % c],
                    None => s,
                })
            })
            .collect()
    }

    /// What one call wrote: the output (in place: the input buffer), the sum (where it went:
    /// its own buffer or the residual), the residual or skip buffer, the statistics
    /// (LayerNorm's mean and inverse std, RMSNorm's inverse root mean squares).
    pub struct Written<T> {
        pub y: Vec<T>,
        pub sum: Option<Vec<T>>,
        pub skip: Vec<T>,
        pub mean: Vec<f32>,
        pub inv: Vec<f32>,
    }

    /// The inputs of one call (their lengths may be wrong on purpose).
    pub struct Inputs<T> {
        pub x: Vec<T>,
        pub skip: Vec<T>,
        pub bias: Option<Vec<f32>>,
        pub gamma: Option<Vec<f32>>,
        pub beta: Option<Vec<f32>>,
    }

    /// Calls the fused operator of `case` on `shape` along `path`, with the sum where
    /// `case.sum` says (`sum_len` values in a buffer of its own), `y_len` output values (out of
    /// place) and, with `case.saved`, statistics buffers of `stats_len` values: the output, the
    /// sum and the statistics pre-filled with the sentinel.
    pub fn call<T: Elem>(
        case: &FusedCase,
        shape: Shape,
        path: Path,
        input: &Inputs<T>,
        y_len: usize,
        sum_len: usize,
        stats_len: (usize, usize),
    ) -> (Result<(), NormError>, Written<T>) {
        let sentinel = T::round(SENTINEL);
        let k = path.kernels;
        let mut y = vec![sentinel; y_len];
        let mut xy = match path.mode {
            Mode::OutOfPlace => vec![],
            Mode::InPlace => input.x.clone(),
        };
        let mut skip = input.skip.clone();
        let mut sum = vec![sentinel; sum_len];
        let mut mean = vec![SENTINEL; stats_len.0];
        let mut inv = vec![SENTINEL; stats_len.1];
        let result = {
            let io = match path.mode {
                Mode::OutOfPlace => InOut::new(&input.x, &mut y),
                Mode::InPlace => InOut::in_place(&mut xy),
            };
            let mut residual = match case.sum {
                SumTo::Nowhere => Residual::new(&skip),
                SumTo::Own => Residual::new(&skip).sum_to(&mut sum),
                SumTo::Residual => Residual::accumulate(&mut skip),
            };
            if let Some(b) = &input.bias {
                residual = residual.bias(b);
            }
            let (gamma, beta) = (input.gamma.as_deref(), input.beta.as_deref());
            with_activation!(case.act, a => {
                if case.rms {
                    let p = RmsNorm::new().eps(case.eps).maybe_gamma(gamma).then(a);
                    let inv_rms = case.saved.then_some(&mut inv[..]);
                    k.add_rms_norm(&p, shape, io, residual, inv_rms)
                } else {
                    let p = LayerNorm::new().eps(case.eps).maybe_gamma(gamma).maybe_beta(beta);
                    let saved = case.saved.then(|| SavedStats::new(&mut mean, &mut inv));
                    k.add_layer_norm(&p.then(a), shape, io, residual, saved)
                }
            })
        };
        let written = Written {
            y: match path.mode {
                Mode::OutOfPlace => y,
                Mode::InPlace => xy,
            },
            sum: match case.sum {
                SumTo::Nowhere => None,
                SumTo::Own => Some(sum),
                SumTo::Residual => Some(skip.clone()),
            },
            skip,
            mean,
            inv,
        };
        (result, written)
    }

    /// Whether the fused and the unfused outputs agree. Each is the f32 norm of the same
    /// rounded sum within `Y_TOL · mag` of the exact value (`tests/common/check.rs`), so they
    /// are within twice that of each other; an activation stretches that by at most its slope
    /// and adds its own error (a few f32 ulps, each side); rounding to a narrower `T` adds half
    /// an ulp of `T` on each side.
    fn agree<T: Elem>(fused: T, unfused: T, mag: f64, act: Act) -> bool {
        let (f, u) = (f64::from(fused.widen()), f64::from(unfused.widen()));
        if f.is_nan() || u.is_nan() || f.is_infinite() || u.is_infinite() {
            return fused.bits() == unfused.bits() || (f.is_nan() && u.is_nan());
        }
        let big = f.abs().max(u.abs());
        let mut tol = act.lipschitz() * 2.0 * Y_TOL * mag
            + 2.0 * act.max_ulps() as f64 * engine::ulp::<f32>(big)
            + SUBNORMAL_SLACK;
        if T::MANTISSA_BITS < f32::MANTISSA_BITS {
            tol += engine::ulp::<T>(big);
        }
        (f - u).abs() <= tol
    }

    /// The fused call equals the add pass followed by the norm (and the activation) of the
    /// rounded sum, on every instruction set and buffer mode: output within [`agree`], the
    /// statistics those of the rounded sum (within the norm's tolerance), the sum written bit
    /// for bit that of the add pass, and the buffers it does not write untouched.
    pub fn equals_unfused<T: Elem>(case: &FusedCase) -> Result<(), TestCaseError> {
        let (xs, ss) = (fit::<T>(case.x), fit::<T>(case.skip));
        let case = &FusedCase {
            x: xs,
            skip: ss,
            ..*case
        };
        let (len, c, rows) = (case.len(), case.c, case.rows());
        let (gamma, beta) = case.affine();
        let input = Inputs {
            x: engine::round_all::<T>(&case.x.sample(len)),
            skip: engine::round_all::<T>(&case.skip.sample(len)),
            bias: case.bias(),
            gamma,
            beta,
        };
        let sum = add(&input.x, &input.skip, input.bias.as_deref(), c);
        let wide = engine::widen_all(&sum);
        let formula = if case.rms {
            Formula::Rms { eps: case.eps }
        } else {
            Formula::Standard { eps: case.eps }
        };
        let dims = Dims::rows(rows, c);
        let want = reference::channels(
            &wide,
            &dims,
            formula,
            input.gamma.as_deref(),
            input.beta.as_deref(),
        );
        let shape = case.shape();
        let sum_len = if case.sum == SumTo::Own { len } else { 0 };
        let mut failures = vec![];
        for path in check::paths() {
            let what = format!("{}.then({:?}) {} @ {path}", case.op(), case.act, T::NAME);
            let unfused = unfused::<T>(case, path, &sum, &input)?;
            let (result, got) = call(case, shape, path, &input, len, sum_len, (rows, rows));
            if let Err(e) = result {
                failures.push((path, check::fail(format!("{what}: unexpected error {e}"))));
                continue;
            }
            let result = compare(case, &what, &got, &unfused, &want, &input, &sum);
            if let Err(e) = result {
                failures.push((path, e));
            }
        }
        check::all_paths(failures)
    }

    /// The unfused sequence's norm (and activation) of the rounded sum, out of place.
    fn unfused<T: Elem>(
        case: &FusedCase,
        path: Path,
        sum: &[T],
        input: &Inputs<T>,
    ) -> Result<Vec<T>, TestCaseError> {
        let k = path.kernels;
        let shape = case.shape();
        let (gamma, beta) = (input.gamma.as_deref(), input.beta.as_deref());
        let mut y = vec![T::round(SENTINEL); sum.len()];
        let io = InOut::new(sum, &mut y);
        let result = with_activation!(case.act, a => {
            if case.rms {
                let p = RmsNorm::new().eps(case.eps).maybe_gamma(gamma).then(a);
                k.rms_norm(&p, shape, io, None)
            } else {
                let p = LayerNorm::new().eps(case.eps).maybe_gamma(gamma).maybe_beta(beta);
                k.layer_norm(&p.then(a), shape, io, None)
            }
        });
        result.map_err(|e| check::fail(format!("unfused {}: unexpected error {e}", case.op())))?;
        Ok(y)
    }

    fn compare<T: Elem>(
        case: &FusedCase,
        what: &str,
        got: &Written<T>,
        unfused: &[T],
        want: &reference::Expected,
        input: &Inputs<T>,
        sum: &[T],
    ) -> Result<(), TestCaseError> {
        if let Some(i) =
            (0..unfused.len()).find(|&i| !agree(got.y[i], unfused[i], want.mag[i], case.act))
        {
            return Err(check::fail(format!(
                "{what}: y[{i}] = {:e}, unfused {:e} (mag {:e})",
                got.y[i].widen(),
                unfused[i].widen(),
                want.mag[i]
            )));
        }
        match (&got.sum, case.sum) {
            (Some(written), _) if !engine::same_bits(written, sum) => {
                let i = (0..sum.len()).find(|&i| written[i].bits() != sum[i].bits());
                let i = i.unwrap_or(0);
                return Err(check::fail(format!(
                    "{what}: sum ({:?})[{i}] = {:e}, the add pass gives {:e}",
                    case.sum,
                    written.get(i).map_or(f32::NAN, |v| v.widen()),
                    sum[i].widen()
                )));
            }
            _ => {}
        }
        if case.sum != SumTo::Residual && !engine::same_bits(&got.skip, &input.skip) {
            return Err(check::fail(format!(
                "{what}: skip written ({:?})",
                case.sum
            )));
        }
        if case.saved {
            if case.rms {
                let inv_mag: Vec<f64> = want.inv_std.iter().map(|v| v.abs()).collect();
                check::check_all(
                    &format!("{what} inv_rms"),
                    &got.inv,
                    &want.inv_std,
                    &inv_mag,
                    Y_TOL,
                )?;
            } else {
                check::check_stats(case.op(), what, &got.mean, &got.inv, want)?;
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(st::config(2 * CASES))]

        /// add_layer_norm and add_rms_norm in f32 equal the add pass followed by the norm.
        #[test]
        fn f32_fused_equals_unfused(case in fused_case()) {
            equals_unfused::<f32>(&case)?;
        }

        /// In f16.
        #[test]
        fn f16_fused_equals_unfused(case in fused_case()) {
            equals_unfused::<f16>(&case)?;
        }

        /// In bf16.
        #[test]
        fn bf16_fused_equals_unfused(case in fused_case()) {
            equals_unfused::<bf16>(&case)?;
        }
    }
}

/// Bad input: an error naming the operator, before anything is written.
mod bad_input {
    use super::fused::{self, FusedCase, Inputs, SumTo};
    use super::*;
    use check::wrong_len;

    /// One thing wrong with an otherwise valid fused call.
    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Defect {
        XLen,
        YLen,
        SkipLen,
        SumLen,
        BiasLen,
        GammaLen,
        BetaLen,
        MeanLen,
        InvLen,
        ZeroChannels,
        ChannelsFirst,
        Eps(f32),
        ShapeOverflow,
    }

    const DEFECTS: [Defect; 15] = [
        Defect::XLen,
        Defect::YLen,
        Defect::SkipLen,
        Defect::SumLen,
        Defect::BiasLen,
        Defect::GammaLen,
        Defect::BetaLen,
        Defect::MeanLen,
        Defect::InvLen,
        Defect::ZeroChannels,
        Defect::ChannelsFirst,
        Defect::Eps(-1e-5),
        Defect::Eps(f32::NAN),
        Defect::Eps(f32::INFINITY),
        Defect::ShapeOverflow,
    ];

    /// Whether `defect` can happen to `case` along `path`: one buffer in place (no separate
    /// output length), a sum buffer only when the sum has one of its own, beta and the mean
    /// only for LayerNorm.
    fn applies(case: &FusedCase, defect: Defect, path: Path) -> bool {
        match defect {
            Defect::YLen => path.mode == Mode::OutOfPlace,
            Defect::SumLen => case.sum == SumTo::Own,
            Defect::BetaLen | Defect::MeanLen => !case.rms,
            _ => true,
        }
    }

    /// Whether `err` is the error `defect` calls for, from `case`'s operator.
    fn expected(case: &FusedCase, defect: Defect, err: &NormError) -> bool {
        use ErrorKind as E;
        let kind = err.kind();
        let length = |name: &str| matches!(kind, E::Length { buffer, .. } if buffer == name);
        let right_kind = match defect {
            Defect::XLen => length("x"),
            Defect::YLen => length("y"),
            Defect::SkipLen => length("skip"),
            Defect::SumLen => length("sum"),
            Defect::BiasLen => length("bias"),
            Defect::GammaLen => length("gamma"),
            Defect::BetaLen => length("beta"),
            Defect::MeanLen => length("mean"),
            Defect::InvLen => length(if case.rms { "inv_rms" } else { "inv_std" }),
            Defect::ZeroChannels => matches!(kind, E::ZeroDimension("shape.c")),
            Defect::ChannelsFirst => matches!(kind, E::Layout(Layout::ChannelsFirst)),
            Defect::Eps(_) => matches!(kind, E::Epsilon(_)),
            Defect::ShapeOverflow => matches!(kind, E::ShapeOverflow),
        };
        right_kind && err.op() == case.op()
    }

    /// Calls the fused operator with `defect` along `path`; checks the error and that no
    /// buffer was written: the output (in place, the input), the residual, the sum, the
    /// statistics.
    fn attempt<T: Elem>(
        case: &FusedCase,
        defect: Defect,
        delta: u8,
        path: Path,
    ) -> Result<(), TestCaseError> {
        let is = |d: Defect| defect == d;
        let c = if is(Defect::ZeroChannels) { 0 } else { case.c };
        let case = &FusedCase {
            c,
            saved: case.saved || is(Defect::MeanLen) || is(Defect::InvLen),
            eps: if let Defect::Eps(e) = defect {
                e
            } else {
                case.eps
            },
            ..*case
        };
        let (total, rows) = (case.len(), case.rows());
        let shape = match defect {
            Defect::ChannelsFirst => Shape::channels_first(case.n, c, case.positions),
            Defect::ShapeOverflow => Shape::rows(usize::MAX / 2 + 1, c.max(2)),
            _ => case.shape(),
        };
        let len_for = |d: Defect, len: usize| if is(d) { wrong_len(len, delta) } else { len };
        let x_len = len_for(Defect::XLen, total);
        let (gamma, beta) = case.affine();
        let param = |p: Option<Vec<f32>>, d: Defect| {
            (p.is_some() || is(d)).then(|| vec![0.5; len_for(d, c)])
        };
        let input = Inputs {
            x: engine::round_all::<T>(&case.x.sample(x_len)),
            skip: engine::round_all::<T>(&case.skip.sample(len_for(Defect::SkipLen, total))),
            bias: param(case.bias(), Defect::BiasLen),
            gamma: param(gamma, Defect::GammaLen),
            beta: if case.rms {
                None
            } else {
                param(beta, Defect::BetaLen)
            },
        };
        let y_len = len_for(Defect::YLen, x_len);
        let sum_len = if case.sum == SumTo::Own {
            len_for(Defect::SumLen, total)
        } else {
            0
        };
        let stats = (
            len_for(Defect::MeanLen, rows),
            len_for(Defect::InvLen, rows),
        );
        let (result, got) = fused::call(case, shape, path, &input, y_len, sum_len, stats);
        let what = format!(
            "{} {} with {defect:?} @ {path}, {case:?}",
            case.op(),
            T::NAME
        );
        match result {
            Ok(()) => return Err(check::fail(format!("{what}: accepted"))),
            Err(e) if !expected(case, defect, &e) => {
                return Err(check::fail(format!("{what}: wrong error {e:?} ({e})")));
            }
            Err(_) => {}
        }
        let sentinel = T::round(SENTINEL);
        let untouched = match path.mode {
            Mode::OutOfPlace => got.y.iter().all(|v| v.bits() == sentinel.bits()),
            Mode::InPlace => engine::same_bits(&got.y, &input.x),
        };
        prop_assert!(untouched, "{}: output written", what);
        prop_assert!(
            engine::same_bits(&got.skip, &input.skip),
            "{}: residual written",
            what
        );
        prop_assert!(
            got.sum
                .iter()
                .flatten()
                .all(|v| case.sum == SumTo::Residual || v.bits() == sentinel.bits()),
            "{}: sum written",
            what
        );
        prop_assert!(
            got.mean
                .iter()
                .chain(&got.inv)
                .all(|v| v.to_bits() == SENTINEL.to_bits()),
            "{}: statistics written",
            what
        );
        Ok(())
    }

    /// Every defect that applies, on every path.
    fn every_defect<T: Elem>(case: &FusedCase, delta: u8) -> Result<(), TestCaseError> {
        for defect in DEFECTS {
            for path in check::paths() {
                if applies(case, defect, path) {
                    attempt::<T>(case, defect, delta, path)?;
                }
            }
        }
        Ok(())
    }

    /// A small fused case (the error comes before any work).
    fn small_fused() -> impl Strategy<Value = FusedCase> {
        (fused::fused_case(), 1usize..=9, 1usize..=4).prop_map(|(case, c, positions)| FusedCase {
            c,
            positions,
            ..case
        })
    }

    /// A small case of `op` (the error comes before any work): at most 3 × 9 × 9 values.
    fn small_case(op: Op) -> impl Strategy<Value = ops::Case> {
        (
            st::case(op),
            1usize..=3,
            1usize..=9,
            1usize..=9,
            any::<usize>(),
        )
            .prop_map(move |(case, n, c, spatial, pick)| {
                let divisors = st::divisors(c);
                ops::Case {
                    n,
                    c,
                    // BatchNorm training needs two values per channel.
                    spatial: if n == 1 { spatial.max(2) } else { spatial },
                    groups: divisors[pick % divisors.len()],
                    ..case
                }
            })
    }

    /// `op` in `T` with an input (or a separate output) of the wrong length: an error naming
    /// `x` (or `y`) and the operator; the output, the input in place and every statistic
    /// untouched.
    fn refuses_wrong_lengths<T: Elem>(
        op: Op,
        case: &ops::Case,
        delta: u8,
    ) -> Result<(), TestCaseError> {
        let params = case.params();
        let sentinel = T::round(SENTINEL);
        let groups = ops::group_count(op, case);
        for &layout in op.layouts() {
            let shape = op.shape(case, layout);
            for path in check::paths() {
                for y_wrong in [false, true] {
                    if y_wrong && path.mode == Mode::InPlace {
                        continue;
                    }
                    let x_len = if y_wrong {
                        case.len()
                    } else {
                        wrong_len(case.len(), delta)
                    };
                    let y_len = if y_wrong {
                        wrong_len(x_len, delta)
                    } else {
                        x_len
                    };
                    let x: Vec<T> = engine::round_all(&case.signal.sample(x_len));
                    let mut y = vec![sentinel; y_len];
                    let mut xy = x.clone();
                    let (mut mean, mut inv, mut inv_rms) = (
                        vec![SENTINEL; groups],
                        vec![SENTINEL; groups],
                        vec![SENTINEL; groups],
                    );
                    let (mut run_mean, mut run_var) = (params.mean.clone(), params.var.clone());
                    let extras = ops::Extras {
                        saved: (case.saved && op.has_saved())
                            .then(|| SavedStats::new(&mut mean, &mut inv)),
                        inv_rms: (case.saved && op.has_inv_rms()).then_some(&mut inv_rms[..]),
                        running: case
                            .momentum
                            .filter(|_| op == Op::BatchNormTraining)
                            .map(|m| normkern::RunningStats::new(&mut run_mean, &mut run_var, m)),
                    };
                    let io = match path.mode {
                        Mode::OutOfPlace => InOut::new(&x, &mut y),
                        Mode::InPlace => InOut::in_place(&mut xy),
                    };
                    let k = path.kernels;
                    let result = ops::call(op, case, &params, shape, &k, io, NoActivation, extras);
                    let buffer = if y_wrong { "y" } else { "x" };
                    let what = format!(
                        "{} {} with a wrong `{buffer}` @ {path} {layout:?}",
                        op.name(),
                        T::NAME
                    );
                    match result {
                        Err(e)
                            if e.op() == op.api_name()
                                && matches!(e.kind(), ErrorKind::Length { buffer: b, .. } if b == buffer) =>
                            {}
                        other => return Err(check::fail(format!("{what}: {other:?}"))),
                    }
                    let untouched = match path.mode {
                        Mode::OutOfPlace => y.iter().all(|v| v.bits() == sentinel.bits()),
                        Mode::InPlace => engine::same_bits(&xy, &x),
                    };
                    prop_assert!(untouched, "{}: output written", what);
                    prop_assert!(
                        mean.iter()
                            .chain(&inv)
                            .chain(&inv_rms)
                            .all(|v| v.to_bits() == SENTINEL.to_bits())
                            && check::same_bits(&run_mean, &params.mean)
                            && check::same_bits(&run_var, &params.var),
                        "{}: statistics written",
                        what
                    );
                }
            }
        }
        Ok(())
    }

    fn every_op() -> impl Strategy<Value = Op> {
        prop::sample::select(vec![
            Op::LayerNorm,
            Op::LayerNormChannels,
            Op::RmsNorm,
            Op::RmsNormChannels,
            Op::BatchNormInference,
            Op::BatchNormTraining,
            Op::InstanceNorm,
            Op::GroupNorm,
            Op::Mvn(MvnAxes::BatchAndSpatial),
            Op::Mvn(MvnAxes::Spatial),
            Op::Mvn(MvnAxes::ChannelsAndSpatial),
        ])
    }

    proptest! {
        #![proptest_config(st::config(CASES))]

        /// Wrong x, y, skip, sum, bias, gamma, beta and statistics lengths, zero channels, a
        /// channels-first or overflowing shape and a bad eps, in f32, f16 and bf16, whatever
        /// the residual mode.
        #[test]
        fn fused_refuses_bad_input(case in small_fused(), delta in 0u8..3) {
            every_defect::<f32>(&case, delta)?;
            every_defect::<f16>(&case, delta)?;
            every_defect::<bf16>(&case, delta)?;
        }

        /// Every operator refuses an f16 or bf16 input or output of the wrong length.
        #[test]
        fn element_buffers_of_the_wrong_length_are_refused(
            (op, case) in every_op().prop_flat_map(|op| (Just(op), small_case(op))),
            delta in 0u8..3,
        ) {
            refuses_wrong_lengths::<f16>(op, &case, delta)?;
            refuses_wrong_lengths::<bf16>(op, &case, delta)?;
        }
    }
}
