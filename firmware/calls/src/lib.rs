//! Every call the firmware makes into normkern, in this one file: when normkern's API changes,
//! this file (and nothing else under `firmware/`, except the Cortex-M example) follows it.
//!
//! The rest of the firmware sees plain slices, the case table's own types and
//! [`Set`] (an instruction set's kernels).

#![no_std]

use cases::{Axes, Case, Dims, Layout as L, Momentum as M, Op};
use normkern::{
    BatchNorm, BatchNormTraining, ErrorKind, GroupNorm, InOut, InstanceNorm, Isa, Kernels,
    LayerNorm, MeanVarianceNorm, Moments, Momentum, MvnAxes, NormError, RmsNorm, RunningStats,
    SavedStats, Shape,
};

/// One instruction set's kernels, as the firmware names it.
#[derive(Clone, Copy)]
pub struct Set {
    pub name: &'static str,
    k: Kernels,
}

/// Every instruction set this build can run, slowest first. On the boards (no SIMD floats)
/// that is the scalar set alone: normkern builds no other there.
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

/// The plain `f32` set (`Kernels::scalar()`, a `const fn`).
pub const fn scalar() -> Set {
    Set {
        name: "scalar",
        k: Kernels::scalar(),
    }
}

/// An operator's error as `kind` and `detail` (a buffer or dimension name, or `-`): what the
/// case table's [`cases::Defect::expected`] lists; and `op`, the operator the error names
/// ([`NormError::op`]), which must be the one called ([`cases::Op::function`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Error {
    pub op: &'static str,
    pub kind: &'static str,
    pub detail: &'static str,
}

fn error(e: NormError) -> Error {
    let (kind, detail) = match e.kind() {
        ErrorKind::Length { buffer, .. } => ("length", buffer),
        ErrorKind::ShapeOverflow => ("overflow", "-"),
        ErrorKind::ZeroDimension(what) => ("zero", what),
        ErrorKind::Epsilon(_) => ("epsilon", "-"),
        ErrorKind::Momentum(_) => ("momentum", "-"),
        ErrorKind::Groups { .. } => ("groups", "-"),
        ErrorKind::TooFewValues { .. } => ("too_few", "-"),
        _ => ("other", "-"),
    };
    Error {
        op: e.op(),
        kind,
        detail,
    }
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
    /// Saved mean and inverse std (RMSNorm: only the second, its inverse rms).
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
    s.map(|(mean, inv_std)| SavedStats::new(mean, inv_std))
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
        Op::LayerNorm | Op::LayerNormChannels => layer_norm(set, d, eps, io, e),
        Op::RmsNorm | Op::RmsNormChannels => rms_norm(set, d, eps, io, e),
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

/// LayerNorm over the channels at each position: rows (`Dims::rows` is channels-last with
/// one position per row) or either layout of a tensor.
#[inline(never)]
pub fn layer_norm(set: Set, d: Dims, eps: f32, io: Io<'_>, e: Extras<'_>) -> Result<(), Error> {
    let mut p = LayerNorm::new().eps(eps);
    if let Some(g) = e.gamma {
        p = p.gamma(g);
    }
    if let Some(b) = e.beta {
        p = p.beta(b);
    }
    set.k
        .layer_norm(&p, shape(d), io.io(), saved(e.saved))
        .map_err(error)
}

/// RMSNorm, as [`layer_norm`]; `e.saved`'s second buffer receives the inverse rms.
#[inline(never)]
pub fn rms_norm(set: Set, d: Dims, eps: f32, io: Io<'_>, e: Extras<'_>) -> Result<(), Error> {
    let mut p = RmsNorm::new().eps(eps);
    if let Some(g) = e.gamma {
        p = p.gamma(g);
    }
    let inv_rms = e.saved.map(|(_, inv)| inv);
    set.k
        .rms_norm(&p, shape(d), io.io(), inv_rms)
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
    if let Some(g) = e.gamma {
        bn = bn.gamma(g);
    }
    if let Some(b) = e.beta {
        bn = bn.beta(b);
    }
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
    let mut p = BatchNormTraining::new().eps(eps);
    if let Some(g) = e.gamma {
        p = p.gamma(g);
    }
    if let Some(b) = e.beta {
        p = p.beta(b);
    }
    let running = e
        .running
        .map(|(mean, var)| RunningStats::new(mean, var, momentum(m)));
    set.k
        .batch_norm_training(&p, shape(d), io.io(), running, saved(e.saved))
        .map_err(error)
}

#[inline(never)]
pub fn instance_norm(set: Set, d: Dims, eps: f32, io: Io<'_>, e: Extras<'_>) -> Result<(), Error> {
    let mut p = InstanceNorm::new().eps(eps);
    if let Some(g) = e.gamma {
        p = p.gamma(g);
    }
    if let Some(b) = e.beta {
        p = p.beta(b);
    }
    set.k
        .instance_norm(&p, shape(d), io.io(), saved(e.saved))
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
    let mut p = GroupNorm::new(groups).eps(eps);
    if let Some(g) = e.gamma {
        p = p.gamma(g);
    }
    if let Some(b) = e.beta {
        p = p.beta(b);
    }
    set.k
        .group_norm(&p, shape(d), io.io(), saved(e.saved))
        .map_err(error)
}

#[inline(never)]
pub fn mvn(set: Set, d: Dims, a: Axes, io: Io<'_>) -> Result<(), Error> {
    let p = MeanVarianceNorm::new().axes(axes(a));
    set.k
        .mean_variance_norm(&p, shape(d), io.io())
        .map_err(error)
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
