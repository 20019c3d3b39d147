//! Every call the firmware makes into normkern, in this one file: when normkern's API changes,
//! this file (and nothing else under `firmware/`, except the Cortex-M example) follows it.
//!
//! The rest of the firmware sees plain slices, the case table's own types and
//! [`Set`] (an instruction set's kernels).

#![no_std]

use cases::{Axes, Case, Dims, Layout as L, Momentum as M, Op};
use normkern::{
    BatchNorm, BatchNormTraining, GroupNorm, InOut, InstanceNorm, Isa, Kernels, LayerNorm,
    MeanVarianceNorm, Moments, Momentum, MvnAxes, NormError, RmsNorm, RunningStats, SavedStats,
    Shape,
};

/// One instruction set's kernels, as the firmware names it.
#[derive(Clone, Copy)]
pub struct Set {
    pub name: &'static str,
    k: Kernels,
}

impl Set {
    /// The same kernels under another name.
    pub fn named(self, name: &'static str) -> Set {
        Set { name, ..self }
    }
}

/// Every instruction set this build can run, slowest first.
pub fn sets(mut f: impl FnMut(Set)) {
    for isa in Isa::available() {
        if let Ok(k) = Kernels::new(isa) {
            f(Set {
                name: isa.name(),
                k,
            });
        }
    }
}

/// What `Kernels::detect()` picks on this build.
pub fn detect() -> Set {
    let k = Kernels::detect();
    Set {
        name: k.isa().name(),
        k,
    }
}

/// The plain `f32` set.
pub fn scalar() -> Set {
    Set {
        name: "scalar",
        k: Kernels::new(Isa::Scalar).unwrap_or_else(|_| Kernels::detect()),
    }
}

/// The `wide` set (`f32x8` emulated in scalar code where the target has no SIMD floats).
pub fn portable() -> Set {
    Set {
        name: "portable",
        k: Kernels::new(Isa::Portable).unwrap_or_else(|_| Kernels::detect()),
    }
}

/// An operator's error as `kind` and `detail` (a buffer or dimension name, or `-`): what the
/// case table's [`cases::Defect::expected`] lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Error {
    pub kind: &'static str,
    pub detail: &'static str,
}

fn error(e: NormError) -> Error {
    let (kind, detail) = match e {
        NormError::Length { buffer, .. } => ("length", buffer),
        NormError::NotWholeRows { buffer, .. } => ("rows", buffer),
        NormError::ShapeOverflow => ("overflow", "-"),
        NormError::ZeroDimension(what) => ("zero", what),
        NormError::Epsilon(_) => ("epsilon", "-"),
        NormError::Momentum(_) => ("momentum", "-"),
        NormError::Groups { .. } => ("groups", "-"),
        NormError::TooFewValues { .. } => ("too_few", "-"),
        _ => ("other", "-"),
    };
    Error { kind, detail }
}

/// The input and output of one call.
pub enum Io<'a> {
    OutOfPlace(&'a [f32], &'a mut [f32]),
    InPlace(&'a mut [f32]),
}

impl<'a> Io<'a> {
    fn io(self) -> InOut<'a> {
        match self {
            Io::OutOfPlace(x, y) => InOut::new(x, y),
            Io::InPlace(xy) => InOut::in_place(xy),
        }
    }
}

/// Everything besides the tensor; `None` where the call does not pass it.
#[derive(Default)]
pub struct Extras<'a> {
    pub gamma: Option<&'a [f32]>,
    pub beta: Option<&'a [f32]>,
    /// BatchNorm inference's given mean and variance.
    pub stats: Option<(&'a [f32], &'a [f32])>,
    /// Saved mean and inverse std.
    pub saved: Option<(&'a mut [f32], &'a mut [f32])>,
    /// Running mean and variance (BatchNorm training).
    pub running: Option<(&'a mut [f32], &'a mut [f32])>,
}

fn shape(d: Dims) -> Shape {
    match d.layout {
        L::ChannelsFirst => Shape::channels_first(d.n, d.c, d.spatial),
        L::ChannelsLast => Shape::channels_last(d.n, d.spatial, d.c),
    }
}

fn saved<'a>(s: Option<(&'a mut [f32], &'a mut [f32])>) -> Option<SavedStats<'a>> {
    s.map(|(mean, inv_std)| SavedStats { mean, inv_std })
}

fn momentum(m: M) -> Momentum {
    match m {
        M::PyTorch(v) => Momentum::PyTorch(v),
        M::Onnx(v) => Momentum::Onnx(v),
        M::CumulativeAverage { batches } => Momentum::CumulativeAverage {
            batches: u64::from(batches),
        },
    }
}

fn axes(a: Axes) -> MvnAxes {
    match a {
        Axes::BatchAndSpatial => MvnAxes::BatchAndSpatial,
        Axes::Spatial => MvnAxes::Spatial,
        Axes::ChannelsAndSpatial => MvnAxes::ChannelsAndSpatial,
    }
}

/// Runs `case` (its shape, parameters and defect) on `set`.
pub fn run(set: Set, case: &Case, io: Io<'_>, e: Extras<'_>) -> Result<(), Error> {
    let eps = case.eps_value();
    let d = case.shape();
    match case.op {
        Op::LayerNorm => layer_norm(set, case.cols(), eps, io, e),
        Op::LayerNormChannels => layer_norm_channels(set, case.cols(), d, eps, io, e),
        Op::RmsNorm => rms_norm(set, case.cols(), eps, io, e),
        Op::RmsNormChannels => rms_norm_channels(set, case.cols(), d, eps, io, e),
        Op::BatchNormInference => batch_norm_inference(set, d, eps, io, e),
        Op::BatchNormTraining { .. } => {
            let m = case.momentum().unwrap_or(M::PyTorch(0.1));
            batch_norm_training(set, d, eps, m, io, e)
        }
        Op::InstanceNorm => instance_norm(set, d, eps, io, e),
        Op::GroupNorm { .. } => group_norm(set, d, case.groups(), eps, io, e),
        Op::Mvn { axes: a } => mvn(set, d, a, io),
        Op::Moments => Ok(()),
    }
}

#[inline(never)]
pub fn layer_norm(set: Set, cols: usize, eps: f32, io: Io<'_>, e: Extras<'_>) -> Result<(), Error> {
    let mut p = LayerNorm::new(cols).eps(eps);
    (p.gamma, p.beta) = (e.gamma, e.beta);
    set.k.layer_norm(&p, io.io(), saved(e.saved)).map_err(error)
}

#[inline(never)]
pub fn layer_norm_channels(
    set: Set,
    cols: usize,
    d: Dims,
    eps: f32,
    io: Io<'_>,
    e: Extras<'_>,
) -> Result<(), Error> {
    let mut p = LayerNorm::new(cols).eps(eps);
    (p.gamma, p.beta) = (e.gamma, e.beta);
    set.k
        .layer_norm_channels(&p, shape(d), io.io(), saved(e.saved))
        .map_err(error)
}

#[inline(never)]
pub fn rms_norm(set: Set, cols: usize, eps: f32, io: Io<'_>, e: Extras<'_>) -> Result<(), Error> {
    let mut p = RmsNorm::new(cols).eps(eps);
    p.gamma = e.gamma;
    set.k.rms_norm(&p, io.io()).map_err(error)
}

#[inline(never)]
pub fn rms_norm_channels(
    set: Set,
    cols: usize,
    d: Dims,
    eps: f32,
    io: Io<'_>,
    e: Extras<'_>,
) -> Result<(), Error> {
    let mut p = RmsNorm::new(cols).eps(eps);
    p.gamma = e.gamma;
    set.k
        .rms_norm_channels(&p, shape(d), io.io())
        .map_err(error)
}

#[inline(never)]
pub fn batch_norm_inference(
    set: Set,
    d: Dims,
    eps: f32,
    io: Io<'_>,
    e: Extras<'_>,
) -> Result<(), Error> {
    let (mean, var) = e.stats.unwrap_or((&[], &[]));
    let mut bn = BatchNorm::new(mean, var).eps(eps);
    (bn.gamma, bn.beta) = (e.gamma, e.beta);
    set.k
        .batch_norm_inference(&bn, shape(d), io.io())
        .map_err(error)
}

#[inline(never)]
pub fn batch_norm_training(
    set: Set,
    d: Dims,
    eps: f32,
    m: M,
    io: Io<'_>,
    e: Extras<'_>,
) -> Result<(), Error> {
    let mut p = BatchNormTraining::new(shape(d)).eps(eps);
    (p.gamma, p.beta) = (e.gamma, e.beta);
    let running = e.running.map(|(mean, var)| RunningStats {
        mean,
        var,
        momentum: momentum(m),
    });
    set.k
        .batch_norm_training(&p, io.io(), running, saved(e.saved))
        .map_err(error)
}

#[inline(never)]
pub fn instance_norm(set: Set, d: Dims, eps: f32, io: Io<'_>, e: Extras<'_>) -> Result<(), Error> {
    let mut p = InstanceNorm::new(shape(d)).eps(eps);
    (p.gamma, p.beta) = (e.gamma, e.beta);
    set.k
        .instance_norm(&p, io.io(), saved(e.saved))
        .map_err(error)
}

#[inline(never)]
pub fn group_norm(
    set: Set,
    d: Dims,
    groups: usize,
    eps: f32,
    io: Io<'_>,
    e: Extras<'_>,
) -> Result<(), Error> {
    let mut p = GroupNorm::new(shape(d), groups).eps(eps);
    (p.gamma, p.beta) = (e.gamma, e.beta);
    set.k.group_norm(&p, io.io(), saved(e.saved)).map_err(error)
}

#[inline(never)]
pub fn mvn(set: Set, d: Dims, a: Axes, io: Io<'_>) -> Result<(), Error> {
    let p = MeanVarianceNorm::new(shape(d)).axes(axes(a));
    set.k.mean_variance_norm(&p, io.io()).map_err(error)
}

/// Count, mean, biased and unbiased variance (NaN where there is none).
pub type MomentValues = [f32; 4];

fn values(m: &Moments) -> MomentValues {
    [
        m.count() as f32,
        m.mean().unwrap_or(f32::NAN),
        m.variance().unwrap_or(f32::NAN),
        m.sample_variance().unwrap_or(f32::NAN),
    ]
}

/// `Moments` of `x` three ways: one pass on `set`; the first third through `of_slice`, the
/// rest through `push_slice` on a second accumulator and merged; pushed one value at a time.
#[inline(never)]
pub fn moments(set: Set, x: &[f32]) -> [MomentValues; 3] {
    let one = set.k.moments(x);
    let cut = x.len() / 3;
    let mut merged = Moments::of_slice(&x[..cut]);
    let mut rest = Moments::new();
    rest.push_slice(&x[cut..]);
    merged.merge(&rest);
    let mut pushed = Moments::new();
    for &v in x {
        pushed.push(v);
    }
    [values(&one), values(&merged), values(&pushed)]
}
