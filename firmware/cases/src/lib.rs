//! The firmware's test cases: a fixed table of operator calls with deterministic inputs.
//!
//! The device (no_std) and the host checker (std) both link this crate: the device generates
//! each case's inputs, runs it and prints the outputs; the checker generates the same inputs
//! from the same table and computes the float64 answer. Nothing here knows normkern: adding an
//! operator is a variant of [`Op`], a few rows of [`CASES`], an arm in the firmware's one call
//! file and one in the checker.
//!
//! Inputs use only f32 additions and multiplications of integers scaled by powers of two (no
//! transcendental functions), so every target computes the same bits.

#![no_std]

/// Largest tensor any case uses (values), bad-input lengths included.
pub const MAX_LEN: usize = 4096;
/// Largest parameter vector (gamma, beta, per-channel statistics).
pub const MAX_PARAM: usize = 1024;
/// Written into outputs before a call; an operator never produces it from these inputs.
pub const SENTINEL: f32 = -1.234_567e29;

/// Memory order of a tensor of `n` items, `c` channels and `spatial` positions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// NCHW / NCL: each channel's positions contiguous.
    ChannelsFirst,
    /// NHWC / NTC: each position's channels contiguous.
    ChannelsLast,
}

impl Layout {
    pub const fn name(self) -> &'static str {
        match self {
            Layout::ChannelsFirst => "nchw",
            Layout::ChannelsLast => "nhwc",
        }
    }
}

/// A tensor's logical dimensions and layout. The row operators (LayerNorm, RMSNorm over
/// rows) read it as `n * spatial` rows of `c` values, which is the channels-last order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dims {
    pub n: usize,
    pub c: usize,
    pub spatial: usize,
    pub layout: Layout,
}

impl Dims {
    pub const fn first(n: usize, c: usize, spatial: usize) -> Dims {
        Dims {
            n,
            c,
            spatial,
            layout: Layout::ChannelsFirst,
        }
    }

    pub const fn last(n: usize, spatial: usize, c: usize) -> Dims {
        Dims {
            n,
            c,
            spatial,
            layout: Layout::ChannelsLast,
        }
    }

    /// `rows` rows of `cols` values (the row operators' view).
    pub const fn rows(rows: usize, cols: usize) -> Dims {
        Dims::last(rows, 1, cols)
    }

    pub const fn len(&self) -> usize {
        self.n * self.c * self.spatial
    }

    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Flat index of logical element (n, c, s).
    pub const fn index(&self, n: usize, c: usize, s: usize) -> usize {
        match self.layout {
            Layout::ChannelsFirst => (n * self.c + c) * self.spatial + s,
            Layout::ChannelsLast => (n * self.spatial + s) * self.c + c,
        }
    }

    /// Channel of flat index `i`.
    pub const fn channel_of(&self, i: usize) -> usize {
        match self.layout {
            Layout::ChannelsFirst => (i / self.spatial) % self.c,
            Layout::ChannelsLast => i % self.c,
        }
    }
}

/// BatchNorm's running-statistics update rule.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Momentum {
    /// `running = (1 - m) running + m batch`, unbiased batch variance.
    PyTorch(f32),
    /// `running = m running + (1 - m) batch`, biased batch variance.
    Onnx(f32),
    /// PyTorch's `momentum=None`: `m = 1 / batches`.
    CumulativeAverage { batches: u32 },
}

/// ONNX MeanVarianceNormalization's axes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Axes {
    /// `[0, 2, 3]`: per channel over batch and positions.
    BatchAndSpatial,
    /// `[2, 3]`: per (n, c).
    Spatial,
    /// `[1, 2, 3]`: per n.
    ChannelsAndSpatial,
}

/// The operator a case calls.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Op {
    /// Over rows of `dims.c` values (`dims` from [`Dims::rows`]).
    LayerNorm,
    /// Over the channels at each position of a tensor, either layout (the same normkern call
    /// as [`Op::LayerNorm`], on a channels-first or channels-last shape).
    LayerNormChannels,
    RmsNorm,
    RmsNormChannels,
    /// With given per-channel mean and variance ([`Inputs::stats_mean`], [`Inputs::stats_var`]).
    BatchNormInference,
    /// Batch statistics; `running` updates running statistics by `momentum`.
    BatchNormTraining {
        momentum: Momentum,
        running: bool,
    },
    InstanceNorm,
    GroupNorm {
        groups: usize,
    },
    Mvn {
        axes: Axes,
    },
    /// `Moments` of the whole tensor (one pass, split-and-merged, pushed one by one).
    Moments,
}

impl Op {
    pub const fn name(&self) -> &'static str {
        match self {
            Op::LayerNorm => "layer_norm",
            Op::LayerNormChannels => "layer_norm_channels",
            Op::RmsNorm => "rms_norm",
            Op::RmsNormChannels => "rms_norm_channels",
            Op::BatchNormInference => "batch_norm_inference",
            Op::BatchNormTraining { .. } => "batch_norm_training",
            Op::InstanceNorm => "instance_norm",
            Op::GroupNorm { .. } => "group_norm",
            Op::Mvn { .. } => "mvn",
            Op::Moments => "moments",
        }
    }

    /// The normkern function the case calls, as the errors it returns name it
    /// (`NormError::op`).
    pub const fn function(&self) -> &'static str {
        match self {
            Op::LayerNorm | Op::LayerNormChannels => "layer_norm",
            Op::RmsNorm | Op::RmsNormChannels => "rms_norm",
            Op::Mvn { .. } => "mean_variance_norm",
            _ => self.name(),
        }
    }

    /// Whether the operator takes gamma (and, unless [`Op::has_beta`] is false, beta).
    pub const fn has_affine(&self) -> bool {
        !matches!(self, Op::Mvn { .. } | Op::Moments)
    }

    pub const fn has_beta(&self) -> bool {
        self.has_affine() && !matches!(self, Op::RmsNorm | Op::RmsNormChannels)
    }

    /// Whether the operator can report per-group statistics: the inverse std (RMSNorm: the
    /// inverse root mean square) and, unless [`Op::has_saved_mean`] is false, the mean.
    pub const fn has_saved(&self) -> bool {
        matches!(
            self,
            Op::LayerNorm
                | Op::LayerNormChannels
                | Op::RmsNorm
                | Op::RmsNormChannels
                | Op::BatchNormTraining { .. }
                | Op::InstanceNorm
                | Op::GroupNorm { .. }
        )
    }

    /// Whether the reported statistics include the mean (all but RMSNorm's `inv_rms`).
    pub const fn has_saved_mean(&self) -> bool {
        self.has_saved() && !matches!(self, Op::RmsNorm | Op::RmsNormChannels)
    }

    /// Whether the operator takes an epsilon.
    pub const fn has_eps(&self) -> bool {
        self.has_affine()
    }

    /// Whether it writes a normalized tensor (all but `Moments`).
    pub const fn normalizes(&self) -> bool {
        !matches!(self, Op::Moments)
    }
}

/// The element type of the tensor. Only f32 today; f16/bf16 go here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Elem {
    F32,
}

/// How a case's input values are made.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Data {
    /// Approximately normal (sum of four uniforms), mean and standard deviation.
    Normal { mean: f32, std: f32 },
    /// Every value equal: every group is constant, so the output is exactly beta.
    Constant(f32),
    /// Constant within each channel, `base + step * channel`: BatchNorm, InstanceNorm and MVN
    /// per-channel groups are constant.
    PerChannel { base: f32, step: f32 },
}

/// One thing wrong with an otherwise valid call: the operator must return an error and leave
/// every output untouched.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Defect {
    /// Input one value longer than the shape (row forms: not a whole number of rows).
    XLen,
    /// Output one value shorter than the input.
    YLen,
    GammaLen,
    BetaLen,
    /// BatchNorm inference's given mean / variance one value short.
    StatsMeanLen,
    StatsVarLen,
    SavedMeanLen,
    SavedInvStdLen,
    RunningMeanLen,
    RunningVarLen,
    /// LayerNorm / RMSNorm on a shape with no channels (`c = 0`, an empty tensor).
    ZeroChannels,
    ZeroGroups,
    /// `groups = c + 1`.
    GroupsNotDividing,
    Eps(f32),
    Momentum(Momentum),
    /// BatchNorm training with one value per channel.
    TooFewValues,
}

impl Defect {
    pub const fn name(&self) -> &'static str {
        match self {
            Defect::XLen => "x_len",
            Defect::YLen => "y_len",
            Defect::GammaLen => "gamma_len",
            Defect::BetaLen => "beta_len",
            Defect::StatsMeanLen => "stats_mean_len",
            Defect::StatsVarLen => "stats_var_len",
            Defect::SavedMeanLen => "saved_mean_len",
            Defect::SavedInvStdLen => "saved_inv_std_len",
            Defect::RunningMeanLen => "running_mean_len",
            Defect::RunningVarLen => "running_var_len",
            Defect::ZeroChannels => "zero_channels",
            Defect::ZeroGroups => "zero_groups",
            Defect::GroupsNotDividing => "groups_not_dividing",
            Defect::Eps(_) => "bad_eps",
            Defect::Momentum(_) => "bad_momentum",
            Defect::TooFewValues => "too_few_values",
        }
    }

    /// The errors (as the firmware's call file names them, `kind:detail`) that answer this
    /// defect. A trailing `*` matches any detail. (RMSNorm names its inverse rms `inv_rms`:
    /// see [`Case::expected`].)
    pub const fn expected(&self) -> &'static [&'static str] {
        match self {
            Defect::XLen => &["length:x", "length:y"],
            Defect::YLen => &["length:y"],
            Defect::GammaLen => &["length:gamma"],
            Defect::BetaLen => &["length:beta"],
            // BatchNorm checks var against mean first, then mean against the shape.
            Defect::StatsMeanLen => &["length:mean", "length:var"],
            Defect::StatsVarLen => &["length:var"],
            Defect::SavedMeanLen => &["length:mean"],
            Defect::SavedInvStdLen => &["length:inv_std"],
            Defect::RunningMeanLen => &["length:running_mean"],
            Defect::RunningVarLen => &["length:running_var"],
            Defect::ZeroChannels => &["zero:shape.c"],
            Defect::ZeroGroups => &["zero:groups"],
            Defect::GroupsNotDividing => &["groups:*"],
            Defect::Eps(_) => &["epsilon:*"],
            Defect::Momentum(_) => &["momentum:*"],
            Defect::TooFewValues => &["too_few:*"],
        }
    }
}

/// One operator call.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Case {
    pub name: &'static str,
    pub op: Op,
    pub dims: Dims,
    pub eps: f32,
    pub gamma: bool,
    pub beta: bool,
    /// Ask for saved mean / inverse std (operators that report them).
    pub saved: bool,
    pub data: Data,
    pub elem: Elem,
    pub defect: Option<Defect>,
}

const EPS: f32 = 1e-5;
const UNIT: Data = Data::Normal {
    mean: 0.0,
    std: 1.0,
};
/// Mean 1e4, std 1: where subtracting an f32-rounded mean loses digits.
const OFFSET: Data = Data::Normal {
    mean: 1.0e4,
    std: 1.0,
};
const SHIFTED: Data = Data::Normal {
    mean: 3.0,
    std: 0.5,
};

impl Case {
    /// A valid call with gamma, beta and saved statistics where the operator has them.
    pub const fn new(name: &'static str, op: Op, dims: Dims, data: Data) -> Case {
        Case {
            name,
            op,
            dims,
            eps: EPS,
            gamma: op.has_affine(),
            beta: op.has_beta(),
            saved: op.has_saved(),
            data,
            elem: Elem::F32,
            defect: None,
        }
    }

    pub const fn plain(self) -> Case {
        Case {
            gamma: false,
            beta: false,
            saved: false,
            ..self
        }
    }

    /// Without saved statistics.
    pub const fn unsaved(self) -> Case {
        Case {
            saved: false,
            ..self
        }
    }

    pub const fn eps(self, eps: f32) -> Case {
        Case { eps, ..self }
    }

    pub const fn with(self, defect: Defect) -> Case {
        Case {
            defect: Some(defect),
            ..self
        }
    }

    fn is(&self, d: Defect) -> bool {
        self.defect == Some(d)
    }

    /// Whether the call must fail.
    pub fn expects_error(&self) -> bool {
        self.defect.is_some()
    }

    /// The errors that answer this case's defect (none without one): [`Defect::expected`],
    /// with RMSNorm's name for its inverse rms.
    pub fn expected(&self) -> &'static [&'static str] {
        match (self.op, self.defect) {
            (Op::RmsNorm | Op::RmsNormChannels, Some(Defect::SavedInvStdLen)) => {
                &["length:inv_rms"]
            }
            (_, Some(d)) => d.expected(),
            (_, None) => &[],
        }
    }

    /// The shape passed to the operator (with `TooFewValues`: one value per channel; with
    /// `ZeroChannels`: no channels).
    pub fn shape(&self) -> Dims {
        if self.is(Defect::TooFewValues) {
            Dims {
                n: 1,
                spatial: 1,
                ..self.dims
            }
        } else if self.is(Defect::ZeroChannels) {
            Dims { c: 0, ..self.dims }
        } else {
            self.dims
        }
    }

    /// Values in the input.
    pub fn x_len(&self) -> usize {
        let len = self.shape().len();
        if self.is(Defect::XLen) { len + 1 } else { len }
    }

    /// Values in the output.
    pub fn y_len(&self) -> usize {
        let len = self.x_len();
        if self.is(Defect::YLen) { len - 1 } else { len }
    }

    pub fn groups(&self) -> usize {
        match self.op {
            Op::GroupNorm { groups } => {
                if self.is(Defect::ZeroGroups) {
                    0
                } else if self.is(Defect::GroupsNotDividing) {
                    self.dims.c + 1
                } else {
                    groups
                }
            }
            _ => 0,
        }
    }

    pub fn eps_value(&self) -> f32 {
        match self.defect {
            Some(Defect::Eps(e)) => e,
            _ => self.eps,
        }
    }

    /// The running-statistics rule, if the call updates running statistics.
    pub fn momentum(&self) -> Option<Momentum> {
        match (self.op, self.defect) {
            (Op::BatchNormTraining { .. }, Some(Defect::Momentum(m))) => Some(m),
            (Op::BatchNormTraining { momentum, running }, _)
                if running || self.is(Defect::RunningMeanLen) || self.is(Defect::RunningVarLen) =>
            {
                Some(momentum)
            }
            _ => None,
        }
    }

    fn param_len(&self, present: bool, d: Defect) -> Option<usize> {
        let len = self.dims.c;
        if self.is(d) {
            Some(len + 1)
        } else if present {
            Some(len)
        } else {
            None
        }
    }

    /// Length of gamma, if passed.
    pub fn gamma_len(&self) -> Option<usize> {
        self.param_len(self.gamma && self.op.has_affine(), Defect::GammaLen)
    }

    pub fn beta_len(&self) -> Option<usize> {
        self.param_len(self.beta && self.op.has_beta(), Defect::BetaLen)
    }

    /// BatchNorm inference's mean and variance lengths.
    pub fn stats_len(&self) -> Option<(usize, usize)> {
        if !matches!(self.op, Op::BatchNormInference) {
            return None;
        }
        let c = self.dims.c;
        let short = |d: Defect| if self.is(d) { c - 1 } else { c };
        Some((short(Defect::StatsMeanLen), short(Defect::StatsVarLen)))
    }

    /// Running mean and variance lengths, if the call updates them.
    pub fn running_len(&self) -> Option<(usize, usize)> {
        self.momentum()?;
        let c = self.dims.c;
        let long = |d: Defect| if self.is(d) { c + 1 } else { c };
        Some((long(Defect::RunningMeanLen), long(Defect::RunningVarLen)))
    }

    /// Number of groups whose statistics the operator reports, in its order.
    pub fn stat_groups(&self) -> usize {
        let d = self.shape();
        match self.op {
            Op::LayerNorm | Op::LayerNormChannels | Op::RmsNorm | Op::RmsNormChannels => {
                d.n * d.spatial
            }
            Op::BatchNormTraining { .. } | Op::BatchNormInference => d.c,
            Op::InstanceNorm => d.n * d.c,
            Op::GroupNorm { groups } => d.n * groups,
            Op::Mvn { axes } => match axes {
                Axes::BatchAndSpatial => d.c,
                Axes::Spatial => d.n * d.c,
                Axes::ChannelsAndSpatial => d.n,
            },
            Op::Moments => 1,
        }
    }

    /// Saved mean and inverse-std (RMSNorm: inverse rms) lengths, if asked for. The mean's
    /// is 0 where the operator reports none ([`Op::has_saved_mean`]).
    pub fn saved_len(&self) -> Option<(usize, usize)> {
        let asked = self.saved || self.is(Defect::SavedMeanLen) || self.is(Defect::SavedInvStdLen);
        if !(asked && self.op.has_saved()) {
            return None;
        }
        let g = self.stat_groups();
        let long = |d: Defect| if self.is(d) { g + 1 } else { g };
        let mean = if self.op.has_saved_mean() {
            long(Defect::SavedMeanLen)
        } else {
            0
        };
        Some((mean, long(Defect::SavedInvStdLen)))
    }

    /// Whether the output must equal beta exactly (every group constant).
    pub fn constant_groups(&self) -> bool {
        let per_channel_groups = matches!(
            self.op,
            Op::BatchNormInference
                | Op::BatchNormTraining { .. }
                | Op::InstanceNorm
                | Op::Mvn {
                    axes: Axes::BatchAndSpatial | Axes::Spatial
                }
        );
        match self.data {
            Data::Constant(v) => match self.op {
                Op::BatchNormInference | Op::Moments => false,
                Op::RmsNorm | Op::RmsNormChannels => v == 0.0,
                _ => true,
            },
            Data::PerChannel { .. } => {
                per_channel_groups && !matches!(self.op, Op::BatchNormInference)
            }
            Data::Normal { .. } => false,
        }
    }
}

/// A small, fast, deterministic generator (xorshift32 over a splitmix-scrambled seed).
#[derive(Clone, Copy, Debug)]
pub struct Rng(u32);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        let s = (z as u32) ^ ((z >> 32) as u32);
        Rng(if s == 0 { 0x1234_5678 } else { s })
    }

    pub fn next_u32(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x
    }

    /// Uniform in [0, 1), a multiple of 2^-24 (exact in f32).
    pub fn unit(&mut self) -> f32 {
        (self.next_u32() >> 8) as f32 * (1.0 / 16_777_216.0)
    }

    /// Approximately standard normal: four uniforms, centred, scaled to variance 1.
    pub fn normal(&mut self) -> f32 {
        let s = self.unit() + self.unit() + self.unit() + self.unit();
        (s - 2.0) * 1.732_050_8
    }
}

/// Which buffer a generator stream fills (each has its own stream, so that the lengths a
/// defect changes do not shift the other buffers' values).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stream {
    X = 1,
    Gamma,
    Beta,
    StatsMean,
    StatsVar,
    RunningMean,
    RunningVar,
}

/// Deterministic inputs of case number `index`.
#[derive(Clone, Copy, Debug)]
pub struct Inputs {
    pub index: usize,
    pub case: Case,
}

impl Inputs {
    pub fn new(index: usize, case: Case) -> Inputs {
        Inputs { index, case }
    }

    fn rng(&self, s: Stream) -> Rng {
        Rng::new(((self.index as u64) << 8) | s as u64)
    }

    /// Input values; `out.len()` is `case.x_len()`.
    pub fn x(&self, out: &mut [f32]) {
        let mut rng = self.rng(Stream::X);
        let d = self.case.shape();
        for (i, v) in out.iter_mut().enumerate() {
            *v = match self.case.data {
                Data::Normal { mean, std } => mean + std * rng.normal(),
                Data::Constant(c) => c,
                Data::PerChannel { base, step } => {
                    let c = if d.is_empty() { 0 } else { d.channel_of(i) };
                    base + step * c as f32
                }
            };
        }
    }

    pub fn gamma(&self, out: &mut [f32]) {
        let mut rng = self.rng(Stream::Gamma);
        for v in out {
            *v = 0.5 + rng.unit();
        }
    }

    pub fn beta(&self, out: &mut [f32]) {
        let mut rng = self.rng(Stream::Beta);
        for v in out {
            *v = rng.unit() - 0.5;
        }
    }

    fn data_mean_std(&self) -> (f32, f32) {
        match self.case.data {
            Data::Normal { mean, std } => (mean, std),
            Data::Constant(c) => (c, 1.0),
            Data::PerChannel { base, .. } => (base, 1.0),
        }
    }

    /// BatchNorm inference's given per-channel mean: near the data's mean.
    pub fn stats_mean(&self, out: &mut [f32]) {
        let mut rng = self.rng(Stream::StatsMean);
        let (mean, std) = self.data_mean_std();
        for v in out {
            *v = mean + std * (rng.unit() - 0.5) * 0.25;
        }
    }

    /// BatchNorm inference's given per-channel variance: near the data's variance.
    pub fn stats_var(&self, out: &mut [f32]) {
        let mut rng = self.rng(Stream::StatsVar);
        let (_, std) = self.data_mean_std();
        for v in out {
            *v = std * std * (0.5 + rng.unit());
        }
    }

    pub fn running_mean(&self, out: &mut [f32]) {
        let mut rng = self.rng(Stream::RunningMean);
        for v in out {
            *v = rng.unit() - 0.5;
        }
    }

    pub fn running_var(&self, out: &mut [f32]) {
        let mut rng = self.rng(Stream::RunningVar);
        for v in out {
            *v = 0.5 + rng.unit();
        }
    }
}

/// FNV-1a over the bits: the device prints it so the checker knows both sides generated the
/// same input.
pub fn checksum(x: &[f32]) -> u32 {
    let mut h = 0x811c_9dc5u32;
    for v in x {
        for b in v.to_bits().to_le_bytes() {
            h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
        }
    }
    h
}

const fn f(n: usize, c: usize, spatial: usize) -> Dims {
    Dims::first(n, c, spatial)
}
const fn l(n: usize, spatial: usize, c: usize) -> Dims {
    Dims::last(n, spatial, c)
}
const fn r(rows: usize, cols: usize) -> Dims {
    Dims::rows(rows, cols)
}

use Op::*;

const BN_PT: Op = BatchNormTraining {
    momentum: Momentum::PyTorch(0.1),
    running: true,
};
const BN_ONNX: Op = BatchNormTraining {
    momentum: Momentum::Onnx(0.9),
    running: true,
};
const BN_CUMULATIVE: Op = BatchNormTraining {
    momentum: Momentum::CumulativeAverage { batches: 3 },
    running: true,
};
const BN_NO_RUNNING: Op = BatchNormTraining {
    momentum: Momentum::PyTorch(0.1),
    running: false,
};
const GN8: Op = GroupNorm { groups: 8 };
const MVN_BATCH_SPATIAL: Op = Mvn {
    axes: Axes::BatchAndSpatial,
};
const MVN_SPATIAL: Op = Mvn {
    axes: Axes::Spatial,
};
const MVN_CHANNELS_SPATIAL: Op = Mvn {
    axes: Axes::ChannelsAndSpatial,
};

/// [`Data::PerChannel`] in one line of the tables below.
const fn per_channel(base: f32, step: f32) -> Data {
    Data::PerChannel { base, step }
}

/// Every valid call the firmware runs. Channel operators appear on both layouts (the `nchw` /
/// `nhwc` in the printed name comes from `dims`). Sizes are awkward on purpose: rows of 1, 3,
/// 17 and 65 values, odd channel counts, 130 channels (more than one 128-channel window of
/// the SIMD sets' no_std channels-last engine), rows longer than the 256-value short-row
/// path.
pub const CASES: &[Case] = &[
    // LayerNorm over rows.
    Case::new("rows", LayerNorm, r(5, 1), UNIT),
    Case::new("rows", LayerNorm, r(7, 3), UNIT),
    Case::new("rows", LayerNorm, r(9, 17), SHIFTED),
    Case::new("rows", LayerNorm, r(16, 64), UNIT),
    Case::new("rows", LayerNorm, r(5, 65), UNIT),
    Case::new("rows", LayerNorm, r(3, 300), UNIT),
    Case::new("rows_1x1000", LayerNorm, r(1, 1000), UNIT),
    Case::new("plain", LayerNorm, r(4, 17), UNIT).plain(),
    Case::new("gamma_only", LayerNorm, r(4, 33), UNIT)
        .plain()
        .gamma_on(),
    Case::new("offset", LayerNorm, r(8, 64), OFFSET),
    Case::new("offset", LayerNorm, r(2, 300), OFFSET),
    Case::new("constant", LayerNorm, r(6, 17), Data::Constant(2.5)),
    Case::new("constant_eps0", LayerNorm, r(3, 64), Data::Constant(-7.0)).eps(0.0),
    Case::new("big_eps", LayerNorm, r(4, 17), UNIT).eps(0.1),
    // LayerNorm over channels.
    Case::new("channels", LayerNormChannels, f(2, 5, 7), UNIT),
    Case::new("channels", LayerNormChannels, l(2, 7, 5), UNIT),
    Case::new("channels", LayerNormChannels, f(1, 17, 9), SHIFTED),
    Case::new("channels", LayerNormChannels, l(1, 9, 17), SHIFTED),
    Case::new("channels", LayerNormChannels, f(1, 130, 3), UNIT),
    Case::new("channels", LayerNormChannels, l(1, 3, 130), UNIT),
    Case::new("offset", LayerNormChannels, f(2, 3, 11), OFFSET),
    Case::new("offset", LayerNormChannels, l(2, 11, 3), OFFSET),
    Case::new(
        "constant",
        LayerNormChannels,
        f(1, 6, 5),
        Data::Constant(4.0),
    ),
    Case::new(
        "constant",
        LayerNormChannels,
        l(1, 5, 6),
        Data::Constant(4.0),
    ),
    // RMSNorm over rows and channels.
    Case::new("rows", RmsNorm, r(5, 1), UNIT),
    Case::new("rows", RmsNorm, r(7, 3), SHIFTED),
    Case::new("rows", RmsNorm, r(9, 17), UNIT),
    Case::new("rows", RmsNorm, r(16, 64), UNIT),
    Case::new("rows", RmsNorm, r(5, 65), UNIT),
    Case::new("rows", RmsNorm, r(3, 300), UNIT),
    Case::new("plain", RmsNorm, r(4, 17), UNIT).plain(),
    Case::new("offset", RmsNorm, r(4, 65), OFFSET),
    Case::new("zero_eps0", RmsNorm, r(3, 17), Data::Constant(0.0)).eps(0.0),
    Case::new("channels", RmsNormChannels, f(2, 5, 7), UNIT),
    Case::new("channels", RmsNormChannels, l(2, 7, 5), UNIT),
    Case::new("channels", RmsNormChannels, f(1, 130, 3), SHIFTED),
    Case::new("channels", RmsNormChannels, l(1, 3, 130), SHIFTED),
    // BatchNorm inference.
    Case::new("small", BatchNormInference, f(2, 3, 17), UNIT),
    Case::new("small", BatchNormInference, l(2, 17, 3), UNIT),
    Case::new("1x16x12x12", BatchNormInference, f(1, 16, 144), UNIT),
    Case::new("1x16x12x12", BatchNormInference, l(1, 144, 16), UNIT),
    Case::new("c130", BatchNormInference, f(1, 130, 3), UNIT),
    Case::new("c130", BatchNormInference, l(1, 3, 130), UNIT),
    Case::new("plain", BatchNormInference, f(2, 5, 9), UNIT).plain(),
    Case::new("plain", BatchNormInference, l(2, 9, 5), UNIT).plain(),
    Case::new("offset", BatchNormInference, f(2, 3, 17), OFFSET),
    Case::new("offset", BatchNormInference, l(2, 17, 3), OFFSET),
    // BatchNorm training: three momentum rules, with and without running statistics.
    Case::new("pytorch", BN_PT, f(2, 3, 17), UNIT),
    Case::new("pytorch", BN_PT, l(2, 17, 3), UNIT),
    Case::new("onnx", BN_ONNX, f(3, 5, 7), SHIFTED),
    Case::new("onnx", BN_ONNX, l(3, 7, 5), SHIFTED),
    Case::new("cumulative", BN_CUMULATIVE, f(2, 4, 9), UNIT),
    Case::new("cumulative", BN_CUMULATIVE, l(2, 9, 4), UNIT),
    Case::new("no_running", BN_NO_RUNNING, f(1, 3, 65), UNIT),
    Case::new("no_running", BN_NO_RUNNING, l(1, 65, 3), UNIT),
    Case::new("plain", BN_NO_RUNNING, f(2, 5, 3), UNIT).plain(),
    Case::new("plain", BN_NO_RUNNING, l(2, 3, 5), UNIT).plain(),
    Case::new("c130", BN_PT, f(2, 130, 3), UNIT),
    Case::new("c130", BN_PT, l(2, 3, 130), UNIT),
    Case::new("offset", BN_PT, f(2, 3, 17), OFFSET),
    Case::new("offset", BN_PT, l(2, 17, 3), OFFSET),
    Case::new("constant", BN_PT, f(2, 3, 5), per_channel(1.5, 0.25)),
    Case::new("constant", BN_PT, l(2, 5, 3), per_channel(1.5, 0.25)),
    // InstanceNorm.
    Case::new("small", InstanceNorm, f(2, 3, 17), UNIT),
    Case::new("small", InstanceNorm, l(2, 17, 3), UNIT),
    Case::new("1x8x16x16", InstanceNorm, f(1, 8, 256), UNIT),
    Case::new("1x8x16x16", InstanceNorm, l(1, 256, 8), UNIT),
    Case::new("c130", InstanceNorm, f(1, 130, 3), SHIFTED),
    Case::new("c130", InstanceNorm, l(1, 3, 130), SHIFTED),
    Case::new("plain", InstanceNorm, f(2, 5, 1), UNIT).plain(),
    Case::new("plain", InstanceNorm, l(2, 1, 5), UNIT).plain(),
    Case::new("offset", InstanceNorm, f(1, 3, 65), OFFSET),
    Case::new("offset", InstanceNorm, l(1, 65, 3), OFFSET),
    Case::new("constant", InstanceNorm, f(2, 3, 7), per_channel(-2.0, 1.0)),
    Case::new("constant", InstanceNorm, l(2, 7, 3), per_channel(-2.0, 1.0)),
    // GroupNorm.
    Case::new("1x32x8x8_g8", GN8, f(1, 32, 64), UNIT),
    Case::new("1x32x8x8_g8", GN8, l(1, 64, 32), UNIT),
    Case::new("g3", GroupNorm { groups: 3 }, f(2, 6, 10), UNIT),
    Case::new("g3", GroupNorm { groups: 3 }, l(2, 10, 6), UNIT),
    Case::new("odd_g5", GroupNorm { groups: 5 }, f(2, 15, 7), SHIFTED),
    Case::new("odd_g5", GroupNorm { groups: 5 }, l(2, 7, 15), SHIFTED),
    Case::new("c130_g10", GroupNorm { groups: 10 }, f(1, 130, 2), UNIT),
    Case::new("c130_g10", GroupNorm { groups: 10 }, l(1, 2, 130), UNIT),
    Case::new("g1", GroupNorm { groups: 1 }, f(2, 3, 5), UNIT),
    Case::new("g1", GroupNorm { groups: 1 }, l(2, 5, 3), UNIT),
    Case::new("gc", GroupNorm { groups: 5 }, f(1, 5, 9), UNIT),
    Case::new("gc", GroupNorm { groups: 5 }, l(1, 9, 5), UNIT),
    Case::new("plain", GroupNorm { groups: 2 }, f(1, 4, 17), UNIT).plain(),
    Case::new("plain", GroupNorm { groups: 2 }, l(1, 17, 4), UNIT).plain(),
    Case::new("offset", GroupNorm { groups: 3 }, f(1, 9, 17), OFFSET),
    Case::new("offset", GroupNorm { groups: 3 }, l(1, 17, 9), OFFSET),
    Case::new(
        "constant",
        GroupNorm { groups: 2 },
        f(2, 4, 5),
        Data::Constant(-3.0),
    ),
    Case::new(
        "constant",
        GroupNorm { groups: 2 },
        l(2, 5, 4),
        Data::Constant(-3.0),
    ),
    // MVN, each axes choice.
    Case::new("batch_spatial", MVN_BATCH_SPATIAL, f(2, 3, 17), UNIT),
    Case::new("batch_spatial", MVN_BATCH_SPATIAL, l(2, 17, 3), UNIT),
    Case::new("spatial", MVN_SPATIAL, f(2, 5, 9), SHIFTED),
    Case::new("spatial", MVN_SPATIAL, l(2, 9, 5), SHIFTED),
    Case::new("channels_spatial", MVN_CHANNELS_SPATIAL, f(3, 5, 7), UNIT),
    Case::new("channels_spatial", MVN_CHANNELS_SPATIAL, l(3, 7, 5), UNIT),
    Case::new("c130", MVN_SPATIAL, f(1, 130, 3), UNIT),
    Case::new("c130", MVN_SPATIAL, l(1, 3, 130), UNIT),
    Case::new("offset", MVN_BATCH_SPATIAL, f(2, 3, 17), OFFSET),
    Case::new("offset", MVN_BATCH_SPATIAL, l(2, 17, 3), OFFSET),
    Case::new("constant", MVN_SPATIAL, f(2, 3, 5), per_channel(1.0, 2.0)),
    Case::new("constant", MVN_SPATIAL, l(2, 5, 3), per_channel(1.0, 2.0)),
    // Moments.
    Case::new("len1", Moments, r(1, 1), UNIT),
    Case::new("len3", Moments, r(1, 3), UNIT),
    Case::new("len17", Moments, r(1, 17), SHIFTED),
    Case::new("len65", Moments, r(1, 65), UNIT),
    Case::new("len1000", Moments, r(1, 1000), UNIT),
    Case::new("offset", Moments, r(1, 300), OFFSET),
    Case::new("constant", Moments, r(1, 17), Data::Constant(5.0)),
];

/// Bad input: every call here must return the error its defect names and leave every output
/// buffer untouched. Small shapes; both layouts where the operator takes a shape.
pub const BAD: &[Case] = &[
    // LayerNorm over rows.
    bad(LayerNorm, r(3, 5), Defect::XLen),
    bad(LayerNorm, r(3, 5), Defect::YLen),
    bad(LayerNorm, r(3, 5), Defect::GammaLen),
    bad(LayerNorm, r(3, 5), Defect::BetaLen),
    bad(LayerNorm, r(3, 5), Defect::SavedMeanLen),
    bad(LayerNorm, r(3, 5), Defect::SavedInvStdLen),
    bad(LayerNorm, r(3, 5), Defect::ZeroChannels),
    bad(LayerNorm, r(3, 5), Defect::Eps(-1e-5)),
    bad(LayerNorm, r(3, 5), Defect::Eps(f32::NAN)),
    bad(LayerNorm, r(3, 5), Defect::Eps(f32::INFINITY)),
    // LayerNorm over channels.
    bad(LayerNormChannels, f(2, 3, 4), Defect::XLen),
    bad(LayerNormChannels, l(2, 4, 3), Defect::YLen),
    bad(LayerNormChannels, f(2, 3, 4), Defect::GammaLen),
    bad(LayerNormChannels, l(2, 4, 3), Defect::BetaLen),
    bad(LayerNormChannels, l(2, 4, 3), Defect::SavedMeanLen),
    bad(LayerNormChannels, f(2, 3, 4), Defect::SavedInvStdLen),
    bad(LayerNormChannels, f(2, 3, 4), Defect::ZeroChannels),
    bad(LayerNormChannels, l(2, 4, 3), Defect::ZeroChannels),
    bad(LayerNormChannels, l(2, 4, 3), Defect::Eps(-1.0)),
    // RMSNorm.
    bad(RmsNorm, r(3, 5), Defect::XLen),
    bad(RmsNorm, r(3, 5), Defect::YLen),
    bad(RmsNorm, r(3, 5), Defect::GammaLen),
    bad(RmsNorm, r(3, 5), Defect::SavedInvStdLen),
    bad(RmsNorm, r(3, 5), Defect::ZeroChannels),
    bad(RmsNorm, r(3, 5), Defect::Eps(f32::NEG_INFINITY)),
    bad(RmsNormChannels, f(2, 3, 4), Defect::XLen),
    bad(RmsNormChannels, l(2, 4, 3), Defect::ZeroChannels),
    bad(RmsNormChannels, f(2, 3, 4), Defect::SavedInvStdLen),
    bad(RmsNormChannels, l(2, 4, 3), Defect::Eps(f32::NAN)),
    // BatchNorm inference.
    bad(BatchNormInference, f(2, 3, 4), Defect::XLen),
    bad(BatchNormInference, l(2, 4, 3), Defect::XLen),
    bad(BatchNormInference, f(2, 3, 4), Defect::YLen),
    bad(BatchNormInference, l(2, 4, 3), Defect::GammaLen),
    bad(BatchNormInference, f(2, 3, 4), Defect::BetaLen),
    bad(BatchNormInference, f(2, 3, 4), Defect::StatsMeanLen),
    bad(BatchNormInference, l(2, 4, 3), Defect::StatsVarLen),
    bad(BatchNormInference, f(2, 3, 4), Defect::Eps(-1e-5)),
    bad(BatchNormInference, l(2, 4, 3), Defect::Eps(f32::NAN)),
    // BatchNorm training.
    bad(BN_PT, f(2, 3, 4), Defect::XLen),
    bad(BN_PT, l(2, 4, 3), Defect::YLen),
    bad(BN_PT, f(2, 3, 4), Defect::GammaLen),
    bad(BN_PT, l(2, 4, 3), Defect::BetaLen),
    bad(BN_PT, f(2, 3, 4), Defect::SavedMeanLen),
    bad(BN_PT, l(2, 4, 3), Defect::SavedInvStdLen),
    bad(BN_PT, f(2, 3, 4), Defect::RunningMeanLen),
    bad(BN_PT, l(2, 4, 3), Defect::RunningVarLen),
    bad(BN_PT, f(2, 3, 4), Defect::Momentum(Momentum::PyTorch(1.5))),
    bad(
        BN_PT,
        l(2, 4, 3),
        Defect::Momentum(Momentum::Onnx(f32::NAN)),
    ),
    bad(
        BN_PT,
        f(2, 3, 4),
        Defect::Momentum(Momentum::CumulativeAverage { batches: 0 }),
    ),
    bad(BN_PT, f(2, 3, 4), Defect::TooFewValues),
    bad(BN_PT, l(2, 4, 3), Defect::TooFewValues),
    bad(BN_PT, l(2, 4, 3), Defect::Eps(f32::INFINITY)),
    // InstanceNorm.
    bad(InstanceNorm, f(2, 3, 4), Defect::XLen),
    bad(InstanceNorm, l(2, 4, 3), Defect::YLen),
    bad(InstanceNorm, f(2, 3, 4), Defect::GammaLen),
    bad(InstanceNorm, l(2, 4, 3), Defect::BetaLen),
    bad(InstanceNorm, f(2, 3, 4), Defect::SavedMeanLen),
    bad(InstanceNorm, l(2, 4, 3), Defect::SavedInvStdLen),
    bad(InstanceNorm, l(2, 4, 3), Defect::Eps(-0.5)),
    // GroupNorm.
    bad(GroupNorm { groups: 3 }, f(2, 6, 4), Defect::XLen),
    bad(GroupNorm { groups: 3 }, l(2, 4, 6), Defect::YLen),
    bad(GroupNorm { groups: 3 }, f(2, 6, 4), Defect::GammaLen),
    bad(GroupNorm { groups: 3 }, l(2, 4, 6), Defect::BetaLen),
    bad(GroupNorm { groups: 3 }, f(2, 6, 4), Defect::SavedMeanLen),
    bad(GroupNorm { groups: 3 }, l(2, 4, 6), Defect::SavedInvStdLen),
    bad(GroupNorm { groups: 3 }, f(2, 6, 4), Defect::ZeroGroups),
    bad(GroupNorm { groups: 3 }, l(2, 4, 6), Defect::ZeroGroups),
    bad(
        GroupNorm { groups: 3 },
        f(2, 6, 4),
        Defect::GroupsNotDividing,
    ),
    bad(
        GroupNorm { groups: 3 },
        l(2, 4, 6),
        Defect::GroupsNotDividing,
    ),
    bad(GroupNorm { groups: 3 }, f(2, 6, 4), Defect::Eps(f32::NAN)),
    // MVN.
    bad(MVN_BATCH_SPATIAL, f(2, 3, 4), Defect::XLen),
    bad(MVN_SPATIAL, l(2, 4, 3), Defect::XLen),
    bad(MVN_CHANNELS_SPATIAL, f(2, 3, 4), Defect::YLen),
    bad(MVN_SPATIAL, l(2, 4, 3), Defect::YLen),
];

const fn bad(op: Op, dims: Dims, defect: Defect) -> Case {
    Case::new("bad", op, dims, UNIT).with(defect)
}

impl Case {
    const fn gamma_on(self) -> Case {
        Case {
            gamma: true,
            ..self
        }
    }
}

/// Number of cases: [`CASES`] then [`BAD`].
pub fn count() -> usize {
    CASES.len() + BAD.len()
}

/// Case `i` of [`count`].
pub fn get(i: usize) -> Option<Case> {
    if i < CASES.len() {
        Some(CASES[i])
    } else {
        BAD.get(i - CASES.len()).copied()
    }
}

/// The shapes the issue measures instructions per value and stack on, each next to a plain
/// two-pass f32 loop in the firmware. Their inputs are generated like case `index` =
/// `BENCH_BASE + position`.
pub const BENCHES: &[Case] = &[
    Case::new("16x64", LayerNorm, r(16, 64), UNIT).unsaved(),
    Case::new("16x64", RmsNorm, r(16, 64), UNIT).unsaved(),
    Case::new("1x16x12x12", BatchNormInference, l(1, 144, 16), UNIT).unsaved(),
    Case::new("1x32x8x8_g8", GN8, f(1, 32, 64), UNIT).unsaved(),
    Case::new("1x8x16x16", InstanceNorm, f(1, 8, 256), UNIT).unsaved(),
];

/// Input stream index of the first benchmark (past every case).
pub const BENCH_BASE: usize = 10_000;

/// `op/name/layout[/defect]`, the name the device prints and the checker reports.
pub struct FullName<'a>(pub &'a Case);

impl core::fmt::Display for FullName<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let c = self.0;
        write!(f, "{}/{}", c.op.name(), c.name)?;
        let rows = matches!(c.op, Op::LayerNorm | Op::RmsNorm | Op::Moments);
        if rows {
            write!(f, "/{}x{}", c.dims.n * c.dims.spatial, c.dims.c)?;
        } else {
            let d = c.dims;
            match d.layout {
                Layout::ChannelsFirst => write!(f, "/nchw_{}x{}x{}", d.n, d.c, d.spatial)?,
                Layout::ChannelsLast => write!(f, "/nhwc_{}x{}x{}", d.n, d.spatial, d.c)?,
            }
        }
        match c.defect {
            Some(Defect::Eps(e)) => write!(f, "/bad_eps({e:?})")?,
            Some(Defect::Momentum(m)) => match m {
                Momentum::PyTorch(v) => write!(f, "/bad_momentum(pytorch:{v:?})")?,
                Momentum::Onnx(v) => write!(f, "/bad_momentum(onnx:{v:?})")?,
                Momentum::CumulativeAverage { batches } => {
                    write!(f, "/bad_momentum(cumulative:{batches})")?
                }
            },
            Some(d) => write!(f, "/{}", d.name())?,
            None => {}
        }
        Ok(())
    }
}
