//! One harness for every normalizing operator: a [`Case`] (shape, data, eps, affine, ...),
//! how to run an [`Op`] on it along one [`Path`], what the reference says, and the comparison.
//! The per-operator properties in `tests/suite/properties.rs` are thin wrappers around
//! [`matches_reference`].

use super::adapt::{self, MaybeBeta, MaybeGamma};
use super::check::{self, Path, SENTINEL, Y_TOL};
use super::engine::{self, Elem};
use super::{AffineSpec, Rng, Signal, to_f32};
use normkern::{
    Activation, BatchNorm, BatchNormTraining, Element, GroupNorm, InOut, InstanceNorm, Kernels,
    LayerNorm, Layout, MeanVarianceNorm, Momentum, MvnAxes, NoActivation, NormError, RmsNorm,
    RunningStats, SavedStats, Shape,
};
use normkern_reference::{self as reference, Dims, Expected, Formula, Grouping, Running};
use proptest::test_runner::TestCaseError;

/// Every normalizing operator. The row forms (`LayerNorm`, `RmsNorm`) run on
/// `Shape::rows(n · spatial, c)`; the channel forms (`LayerNormChannels`, `RmsNormChannels`)
/// call the same operators on the `[n, c, spatial]` tensor in either layout (what
/// `layer_norm_channels` and `rms_norm_channels` were before the one call form).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    LayerNorm,
    LayerNormChannels,
    RmsNorm,
    RmsNormChannels,
    BatchNormInference,
    BatchNormTraining,
    InstanceNorm,
    GroupNorm,
    Mvn(MvnAxes),
}

impl Op {
    /// Layouts the operator is run on: both, except the row forms (`[rows, cols]` only).
    pub fn layouts(self) -> &'static [Layout] {
        match self {
            Op::LayerNorm | Op::RmsNorm => &[Layout::ChannelsLast],
            _ => &[Layout::ChannelsFirst, Layout::ChannelsLast],
        }
    }

    pub fn name(self) -> String {
        match self {
            Op::Mvn(axes) => format!("mvn({axes:?})"),
            op => format!("{op:?}"),
        }
    }

    /// The name the crate's errors give the operator ([`normkern::NormError::op`]).
    pub fn api_name(self) -> &'static str {
        match self {
            Op::LayerNorm | Op::LayerNormChannels => "layer_norm",
            Op::RmsNorm | Op::RmsNormChannels => "rms_norm",
            Op::BatchNormInference => "batch_norm_inference",
            Op::BatchNormTraining => "batch_norm_training",
            Op::InstanceNorm => "instance_norm",
            Op::GroupNorm => "group_norm",
            Op::Mvn(_) => "mean_variance_norm",
        }
    }

    /// Whether the operator can report saved statistics.
    pub fn has_saved(self) -> bool {
        matches!(
            self,
            Op::LayerNorm
                | Op::LayerNormChannels
                | Op::BatchNormTraining
                | Op::InstanceNorm
                | Op::GroupNorm
        )
    }

    /// Whether the operator can report its inverse root mean squares (RMSNorm).
    pub fn has_inv_rms(self) -> bool {
        matches!(self, Op::RmsNorm | Op::RmsNormChannels)
    }

    /// The shape `op` is called with for `case` in `layout`.
    pub fn shape(self, case: &Case, layout: Layout) -> Shape {
        match self {
            Op::LayerNorm | Op::RmsNorm => Shape::rows(case.n * case.spatial, case.c),
            _ => case.shape(layout),
        }
    }
}

/// A generated test case. `c` is the row length for the row forms.
#[derive(Clone, Copy, Debug)]
pub struct Case {
    pub n: usize,
    pub c: usize,
    pub spatial: usize,
    pub signal: Signal,
    pub eps: f32,
    pub affine: AffineSpec,
    /// GroupNorm's group count (divides `c`).
    pub groups: usize,
    /// Ask for saved statistics, or RMSNorm's inverse root mean squares (operators that
    /// report them).
    pub saved: bool,
    /// BatchNorm training: update running statistics with this convention.
    pub momentum: Option<Momentum>,
    /// Seeds BatchNorm's given (inference) or old (training) running statistics.
    pub stats_seed: u64,
}

impl Case {
    pub fn shape(&self, layout: Layout) -> Shape {
        match layout {
            Layout::ChannelsFirst => Shape::channels_first(self.n, self.c, self.spatial),
            _ => Shape::channels_last(self.n, self.spatial, self.c),
        }
    }

    /// [`Case::shape`] as the reference's dimensions.
    pub fn dims(&self, layout: Layout) -> Dims {
        adapt::dims(&self.shape(layout))
    }

    pub fn len(&self) -> usize {
        self.n * self.c * self.spatial
    }

    /// The logical tensor, in channels-first order.
    pub fn sample(&self) -> Vec<f32> {
        self.signal.sample(self.len())
    }

    pub fn params(&self) -> Params {
        let (gamma, beta) = self.affine.make(self.c);
        // Statistics in the data's range: mean near the offset, std near the magnitude, so that
        // BatchNorm inference outputs are O(1) like the others. Var is sometimes 0 when eps > 0.
        let mut rng = Rng::new(self.stats_seed);
        let s = &self.signal;
        let mut mean = vec![];
        let mut var = vec![];
        for _ in 0..self.c {
            mean.push(to_f32(s.offset + s.magnitude * rng.range(-0.5, 0.5)));
            let v = if self.eps > 0.0 && rng.below(8) == 0 {
                0.0
            } else {
                let sd = s.magnitude * rng.range(0.2, 1.5);
                (sd * sd) as f32
            };
            var.push(v);
        }
        Params {
            gamma,
            beta,
            mean,
            var,
        }
    }
}

/// Parameters of a case: gamma, beta (per channel), and BatchNorm's statistics (given, for
/// inference; old running values, for training).
#[derive(Clone, Debug)]
pub struct Params {
    pub gamma: Option<Vec<f32>>,
    pub beta: Option<Vec<f32>>,
    pub mean: Vec<f32>,
    pub var: Vec<f32>,
}

/// What an operator wrote: the output in the element type it was run in, the statistics in f32.
#[derive(Clone, Debug)]
pub struct Outputs<T = f32> {
    pub y: Vec<T>,
    /// Saved mean and inverse std.
    pub saved: Option<(Vec<f32>, Vec<f32>)>,
    /// Updated running mean and variance.
    pub running: Option<(Vec<f32>, Vec<f32>)>,
    /// RMSNorm's inverse root mean squares.
    pub inv_rms: Option<Vec<f32>>,
}

impl<T> Outputs<T> {
    /// Each statistic the call could write, by name, with what it wrote (if anything).
    pub fn statistics(&self) -> [(&'static str, Option<&Vec<f32>>); 5] {
        let (saved, running) = (self.saved.as_ref(), self.running.as_ref());
        [
            ("saved mean", saved.map(|s| &s.0)),
            ("saved inv_std", saved.map(|s| &s.1)),
            ("running mean", running.map(|s| &s.0)),
            ("running var", running.map(|s| &s.1)),
            ("inv_rms", self.inv_rms.as_ref()),
        ]
    }
}

/// Where an operator call writes its optional outputs (each only where the operator has it).
#[derive(Debug, Default)]
pub struct Extras<'a> {
    pub saved: Option<SavedStats<'a>>,
    pub inv_rms: Option<&'a mut [f32]>,
    pub running: Option<RunningStats<'a>>,
}

/// Which values `op` normalizes together (BatchNorm inference: the channel whose statistics
/// each value takes).
pub fn grouping(op: Op, case: &Case) -> Grouping {
    match op {
        Op::LayerNorm | Op::LayerNormChannels | Op::RmsNorm | Op::RmsNormChannels => {
            Grouping::PerPosition
        }
        Op::BatchNormInference | Op::BatchNormTraining => Grouping::PerChannel,
        Op::InstanceNorm => Grouping::PerSample { groups: case.c },
        Op::GroupNorm => Grouping::PerSample {
            groups: case.groups,
        },
        Op::Mvn(axes) => adapt::axes(axes).grouping(&case.dims(Layout::ChannelsFirst)),
    }
}

/// Number of groups the operator reports statistics for.
pub fn group_count(op: Op, case: &Case) -> usize {
    grouping(op, case).count(&case.dims(Layout::ChannelsFirst))
}

/// Runs `op` on `x` (in `layout`) along `path`.
pub fn execute(
    op: Op,
    case: &Case,
    params: &Params,
    layout: Layout,
    path: Path,
    x: &[f32],
) -> Result<Outputs, TestCaseError> {
    execute_with(op, case, params, layout, path, x, NoActivation)
}

/// [`execute`] in any element type, with an activation after the normalization (none for
/// BatchNorm training and MVN, which take none).
pub fn execute_with<T: Elem, A: Activation>(
    op: Op,
    case: &Case,
    params: &Params,
    layout: Layout,
    path: Path,
    x: &[T],
    act: A,
) -> Result<Outputs<T>, TestCaseError> {
    let shape = op.shape(case, layout);
    let groups = group_count(op, case);
    let want_saved = case.saved && op.has_saved();
    let want_inv_rms = case.saved && op.has_inv_rms();
    let mut saved_mean = vec![SENTINEL; groups];
    let mut saved_inv = vec![SENTINEL; groups];
    let mut inv_rms = vec![SENTINEL; groups];
    let mut run_mean = params.mean.clone();
    let mut run_var = params.var.clone();
    let want_running = op == Op::BatchNormTraining && case.momentum.is_some();

    let y = {
        let extras = Extras {
            saved: want_saved.then(|| SavedStats::new(&mut saved_mean, &mut saved_inv)),
            inv_rms: want_inv_rms.then_some(&mut inv_rms[..]),
            running: want_running
                .then(|| RunningStats::new(&mut run_mean, &mut run_var, case.momentum.unwrap())),
        };
        check::run(path, x, |io| {
            call(op, case, params, shape, &path.kernels, io, act, extras)
        })?
    };
    Ok(Outputs {
        y,
        saved: want_saved.then_some((saved_mean, saved_inv)),
        running: want_running.then_some((run_mean, run_var)),
        inv_rms: want_inv_rms.then_some(inv_rms),
    })
}

/// Calls `op` with the case's layer (its eps, parameters and group count) followed by `act`,
/// on `shape` and `io`, writing `extras`: the one place every operator is called from.
#[allow(clippy::too_many_arguments)]
pub fn call<T: Element, A: Activation>(
    op: Op,
    case: &Case,
    params: &Params,
    shape: Shape,
    k: &Kernels,
    io: InOut<'_, T>,
    act: A,
    extras: Extras<'_>,
) -> Result<(), NormError> {
    let (gamma, beta) = (params.gamma.as_deref(), params.beta.as_deref());
    let eps = case.eps;
    let Extras {
        saved,
        inv_rms,
        running,
    } = extras;
    let no_activation = |name: &str| {
        assert!(engine::is_none(act), "{name} takes no activation");
    };
    match op {
        Op::LayerNorm | Op::LayerNormChannels => {
            let p = LayerNorm::new()
                .eps(eps)
                .maybe_gamma(gamma)
                .maybe_beta(beta)
                .then(act);
            k.layer_norm(&p, shape, io, saved)
        }
        Op::RmsNorm | Op::RmsNormChannels => {
            let p = RmsNorm::new().eps(eps).maybe_gamma(gamma).then(act);
            k.rms_norm(&p, shape, io, inv_rms)
        }
        Op::BatchNormInference => {
            let bn = BatchNorm::new(&params.mean, &params.var)
                .eps(eps)
                .maybe_gamma(gamma)
                .maybe_beta(beta)
                .then(act);
            k.batch_norm_inference(&bn, shape, io)
        }
        Op::BatchNormTraining => {
            no_activation("BatchNorm training");
            let p = BatchNormTraining::new()
                .eps(eps)
                .maybe_gamma(gamma)
                .maybe_beta(beta);
            k.batch_norm_training(&p, shape, io, running, saved)
        }
        Op::InstanceNorm => {
            let p = InstanceNorm::new()
                .eps(eps)
                .maybe_gamma(gamma)
                .maybe_beta(beta)
                .then(act);
            k.instance_norm(&p, shape, io, saved)
        }
        Op::GroupNorm => {
            let p = GroupNorm::new(case.groups)
                .eps(eps)
                .maybe_gamma(gamma)
                .maybe_beta(beta)
                .then(act);
            k.group_norm(&p, shape, io, saved)
        }
        Op::Mvn(axes) => {
            no_activation("MVN");
            k.mean_variance_norm(&MeanVarianceNorm::new().axes(axes), shape, io)
        }
    }
}

/// The reference result of `op` on `x` (in `layout`), and the running statistics it implies.
pub fn expect(
    op: Op,
    case: &Case,
    params: &Params,
    layout: Layout,
    x: &[f32],
) -> (Expected, Option<Running>) {
    let dims = case.dims(layout);
    let (gamma, beta) = (params.gamma.as_deref(), params.beta.as_deref());
    let eps = case.eps;
    let expected = match op {
        Op::LayerNorm | Op::LayerNormChannels => {
            reference::channels(x, &dims, Formula::Standard { eps }, gamma, beta)
        }
        Op::RmsNorm | Op::RmsNormChannels => {
            reference::channels(x, &dims, Formula::Rms { eps }, gamma, None)
        }
        Op::BatchNormInference => {
            let (y, mag) = reference::batch_norm_inference(
                x,
                &dims,
                &params.mean,
                &params.var,
                gamma,
                beta,
                eps,
            );
            Expected {
                y,
                mag,
                stats: vec![],
                inv_std: vec![],
            }
        }
        Op::BatchNormTraining => reference::batch_norm_training(x, &dims, eps, gamma, beta),
        Op::InstanceNorm => reference::group_norm(x, &dims, case.c, eps, gamma, beta),
        Op::GroupNorm => reference::group_norm(x, &dims, case.groups, eps, gamma, beta),
        Op::Mvn(axes) => reference::mvn(x, &dims, adapt::axes(axes)),
    };
    let running = case
        .momentum
        .filter(|_| op == Op::BatchNormTraining)
        .map(|m| {
            let m = adapt::momentum(m);
            reference::running_update(&expected.stats, &params.mean, &params.var, m)
        });
    (expected, running)
}

/// Checks everything `op` wrote against the reference. `lenient[i]`: output `i` lies in a
/// group holding a non-finite input, where NaN is an acceptable answer whatever the reference
/// says (RMSNorm's reference, for one, gives 0 next to an infinity); `bad_groups` lists those
/// groups, where the same goes for the inverse root mean square.
pub fn compare(
    op: Op,
    context: &str,
    got: &Outputs,
    want: &Expected,
    running: Option<&Running>,
    lenient: &[bool],
    bad_groups: &[usize],
) -> Result<(), TestCaseError> {
    let name = op.name();
    let want_y: Vec<f64> = (0..want.y.len())
        .map(|i| {
            if lenient[i] && got.y[i].is_nan() {
                f64::NAN
            } else {
                want.y[i]
            }
        })
        .collect();
    check::check_all(
        &format!("{name} y @ {context}"),
        &got.y,
        &want_y,
        &want.mag,
        Y_TOL,
    )?;
    if let Some((mean, inv_std)) = &got.saved {
        check::check_stats(&name, context, mean, inv_std, want)?;
    }
    if let Some(inv_rms) = &got.inv_rms {
        // 1 / sqrt(mean(x²) + eps) per position: the reference's `inv_std` of `Formula::Rms`.
        let want_inv: Vec<f64> = (0..want.inv_std.len())
            .map(|g| {
                if bad_groups.contains(&g) && inv_rms[g].is_nan() {
                    f64::NAN
                } else {
                    want.inv_std[g]
                }
            })
            .collect();
        let inv_mag: Vec<f64> = want_inv.iter().map(|v| v.abs()).collect();
        check::check_all(
            &format!("{name} inv_rms @ {context}"),
            inv_rms,
            &want_inv,
            &inv_mag,
            Y_TOL,
        )?;
    }
    if let (Some((mean, var)), Some(r)) = (&got.running, running) {
        check::check_loose(
            &format!("{name} running mean @ {context}"),
            mean,
            &r.mean,
            &r.mean_mag,
        )?;
        check::check_loose(
            &format!("{name} running var @ {context}"),
            var,
            &r.var,
            &r.var_mag,
        )?;
    }
    Ok(())
}

/// The core property: on every layout, instruction set and buffer mode, `op` on the logical
/// tensor `x_cf` (channels-first order) matches the f64 reference.
pub fn matches_reference(op: Op, case: &Case, x_cf: &[f32]) -> Result<(), TestCaseError> {
    poisoned_matches_reference(op, case, x_cf, &[])
}

/// [`matches_reference`] for an input with non-finite values at the logical (channels-first)
/// positions `poisoned`: their own outputs must be non-finite, other outputs of their groups
/// may be NaN, every other group must match the reference.
pub fn poisoned_matches_reference(
    op: Op,
    case: &Case,
    x_cf: &[f32],
    poisoned: &[usize],
) -> Result<(), TestCaseError> {
    let params = case.params();
    let cf = case.dims(Layout::ChannelsFirst);
    let mut bad_groups = vec![];
    cf.for_each(|n, c, s, i| {
        if poisoned.contains(&i) {
            bad_groups.push(group_of(op, case, n, c, s));
        }
    });
    for &layout in op.layouts() {
        let dims = case.dims(layout);
        let x = Dims::relayout(x_cf, &cf, &dims);
        let (want, running) = expect(op, case, &params, layout, &x);
        let mut lenient = vec![false; x.len()];
        let mut own = vec![];
        dims.for_each(|n, c, s, i| {
            lenient[i] = bad_groups.contains(&group_of(op, case, n, c, s));
            if poisoned.contains(&cf.index(n, c, s)) {
                own.push(i);
            }
        });
        let mut failures = vec![];
        for path in check::paths() {
            let context = format!("{path} {layout:?}");
            let got = execute(op, case, &params, layout, path, &x)?;
            let result = compare(
                op,
                &context,
                &got,
                &want,
                running.as_ref(),
                &lenient,
                &bad_groups,
            )
            .and_then(|()| match own.iter().find(|&&i| got.y[i].is_finite()) {
                Some(&i) => Err(check::fail(format!(
                    "{} @ {context}: x[{i}] = {} gave finite y {}",
                    op.name(),
                    x[i],
                    got.y[i]
                ))),
                None => Ok(()),
            });
            if let Err(e) = result {
                failures.push((path, e));
            }
        }
        check::all_paths(failures)?;
    }
    Ok(())
}

/// The group (in the operator's reporting order) that logical element (n, c, s) belongs to;
/// for BatchNorm inference, the channel.
pub fn group_of(op: Op, case: &Case, n: usize, c: usize, s: usize) -> usize {
    grouping(op, case).group(&case.dims(Layout::ChannelsFirst), n, c, s)
}

/// NaN or ±infinity written over `count` random elements.
#[derive(Clone, Copy, Debug)]
pub struct Poison {
    pub value: f32,
    pub count: usize,
    pub seed: u64,
}

impl Poison {
    /// Writes the poison; returns the positions written.
    pub fn apply(&self, x: &mut [f32]) -> Vec<usize> {
        let mut rng = Rng::new(self.seed);
        (0..self.count)
            .map(|_| {
                let i = rng.below(x.len());
                x[i] = self.value;
                i
            })
            .collect()
    }
}

/// A value for a constant group: zero, the extremes, tiny and (unless `in_range`) subnormal
/// values, or a value of the case's signal.
fn constant_value(rng: &mut Rng, signal: &Signal, in_range: bool) -> f32 {
    match rng.below(8) {
        0 => 0.0,
        1 => 1e18,
        2 => -1e18,
        3 => 1e-20,
        4 if !in_range => -1.5e-42, // subnormal
        _ => to_f32(signal.offset + signal.magnitude * rng.range(-1.0, 1.0)),
    }
}

/// Every group constant (its own value per group): the output must be exactly beta (0 without
/// beta; MVN 0), whatever eps (0 included) and value (subnormals included). RMSNorm has no such
/// identity except for an all-zero row (exactly 0), so there some groups are zero and the rest
/// (values within the documented 1e-20..1e18 range) are only checked against the reference.
/// Also checked against the reference, saved statistics included.
pub fn constant_groups(op: Op, case: &Case, seed: u64) -> Result<(), TestCaseError> {
    let params = case.params();
    let mut rng = Rng::new(seed);
    let groups = group_count(op, case);
    let rms = matches!(op, Op::RmsNorm | Op::RmsNormChannels);
    let values: Vec<f32> = (0..groups)
        .map(|g| match op {
            Op::BatchNormInference => params.mean[g],
            _ if rms && rng.below(2) == 0 => 0.0,
            _ => constant_value(&mut rng, &case.signal, rms),
        })
        .collect();
    let cf = case.dims(Layout::ChannelsFirst);
    let mut x_cf = vec![0.0; case.len()];
    cf.for_each(|n, c, s, i| x_cf[i] = values[group_of(op, case, n, c, s)]);
    matches_reference(op, case, &x_cf)?;
    for &layout in op.layouts() {
        let dims = case.dims(layout);
        let x = Dims::relayout(&x_cf, &cf, &dims);
        for path in check::paths() {
            let got = execute(op, case, &params, layout, path, &x)?;
            let mut bad = None;
            dims.for_each(|n, c, s, i| {
                let g = group_of(op, case, n, c, s);
                let want = match op {
                    Op::Mvn(_) => Some(0.0),
                    _ if rms => (values[g] == 0.0).then_some(0.0),
                    _ => Some(params.beta.as_ref().map_or(0.0, |b| b[c])),
                };
                // `==`: exact, with +0 and -0 equal (0 · negative gamma is -0).
                if want.is_some_and(|w| got.y[i] != w) && bad.is_none() {
                    bad = Some((i, got.y[i], want.unwrap_or(0.0), values[g]));
                }
            });
            if let Some((i, y, want, v)) = bad {
                return Err(check::fail(format!(
                    "{} constant group of {v:e} @ {path} {layout:?}: y[{i}] = {y:e}, expected exactly {want:e}",
                    op.name()
                )));
            }
        }
    }
    Ok(())
}

/// Inputs mixing ±1e18, large, tiny and zero values (|x| ≤ 1e18): every output finite (no
/// intermediate overflow) and matching the reference.
pub fn extremes(op: Op, case: &Case, seed: u64) -> Result<(), TestCaseError> {
    let mut rng = Rng::new(seed);
    let x_cf: Vec<f32> = (0..case.len())
        .map(|_| match rng.below(6) {
            0 => 1e18,
            1 => -1e18,
            2 => to_f32(1e18 * rng.range(-1.0, 1.0)),
            3 => 0.0,
            4 => to_f32(1e-20 * rng.range(-1.0, 1.0)),
            _ => to_f32(1e17 * rng.normal()),
        })
        .collect();
    // BatchNorm inference's running statistics in the same range.
    let mut case = *case;
    case.signal.magnitude = 1e18;
    case.signal.offset = 0.0;
    matches_reference(op, &case, &x_cf)?;
    let params = case.params();
    for &layout in op.layouts() {
        let x = Dims::relayout(&x_cf, &case.dims(Layout::ChannelsFirst), &case.dims(layout));
        for path in check::paths() {
            let got = execute(op, &case, &params, layout, path, &x)?;
            if let Some(i) = got.y.iter().position(|v| !v.is_finite()) {
                return Err(check::fail(format!(
                    "{} @ {path} {layout:?}: y[{i}] = {} from |x| <= 1e18",
                    op.name(),
                    got.y[i]
                )));
            }
        }
    }
    Ok(())
}
