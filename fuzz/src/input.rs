//! Structured fuzz inputs (via `arbitrary`) and their materialization into shapes, lengths,
//! buffers and scalar parameters.
//!
//! Every generator is biased towards *valid* inputs (exact lengths, sensible epsilon) so the
//! numeric oracles get exercised, while still reaching every invalid case: mismatched lengths,
//! zero-sized and overflowing shapes, bad epsilon / momentum / group counts.

use arbitrary::Arbitrary;
use normkern::{Isa, Shape};
use normkern_reference::Dims;

/// At most this many `f32` are allocated per buffer. Large enough to cross every block size
/// in the crate (columns window 128, row block 1024, moments block 16 * 4 * 256 = 16384 values
/// for AVX-512) yet small enough for thousands of executions per second.
pub const CAP: usize = 1 << 15;

/// One tensor dimension.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Dim {
    Tiny(u8),
    Small(u16),
    Zero,
    One,
    /// Lanes and window edges: 7, 8, 9, 15, 16, 17, 127, 128, 129, ...
    Edge(u8),
    /// Too large to allocate: only zero-sized products or length errors are possible.
    Huge(u64),
    Max,
}

const EDGES: [usize; 20] = [
    2, 3, 4, 7, 8, 9, 15, 16, 17, 31, 33, 63, 127, 128, 129, 257, 1023, 1024, 1025, 2049,
];

impl Dim {
    pub fn value(self) -> usize {
        match self {
            Dim::Tiny(v) => usize::from(v % 10),
            Dim::Small(v) => usize::from(v % 1100),
            Dim::Zero => 0,
            Dim::One => 1,
            Dim::Edge(v) => EDGES[usize::from(v) % EDGES.len()],
            Dim::Huge(v) => (v as usize) | (1 << 24),
            Dim::Max => usize::MAX,
        }
    }
}

/// A `[N, C, spatial]` shape in either layout; `hw` builds it through `Shape::nchw` /
/// `Shape::nhwc`, whose `h * w` saturates.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub struct ShapeSpec {
    pub n: Dim,
    pub c: Dim,
    pub spatial: Dim,
    pub channels_last: bool,
    pub hw: Option<Dim>,
}

impl ShapeSpec {
    pub fn shape(&self) -> Shape {
        let (n, c, s) = (self.n.value(), self.c.value(), self.spatial.value());
        match (self.hw, self.channels_last) {
            (None, false) => Shape::channels_first(n, c, s),
            (None, true) => Shape::channels_last(n, s, c),
            (Some(w), false) => Shape::nchw(n, c, s, w.value()),
            (Some(w), true) => Shape::nhwc(n, s, w.value(), c),
        }
    }
}

/// The number of values of `shape`, decided independently of the crate: `None` when the
/// product of the dimensions does not fit in `usize`, or when `spatial` is `usize::MAX` (the
/// documented saturation of `Shape::nchw`'s `h * w`, refused as `ShapeOverflow`).
pub fn shape_len(shape: &Shape) -> Option<usize> {
    if shape.spatial() == usize::MAX {
        return None;
    }
    let dims = [shape.n(), shape.c(), shape.spatial()];
    if dims.contains(&0) {
        return Some(0);
    }
    dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
}

/// `a * b` without overflow, as an exact count (`None` = does not fit in `usize`).
pub fn mul(a: usize, b: usize) -> Option<usize> {
    a.checked_mul(b)
}

/// A buffer length relative to the one expected: usually exact, sometimes off by a little.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Len(pub u8);

impl Len {
    pub const EXACT: Len = Len(0);

    /// The length to allocate when `want` values are expected (`None`: not representable).
    /// Always at most [`CAP`]; when `want` is over [`CAP`] the result differs from it.
    pub fn resolve(self, want: Option<usize>) -> usize {
        let delta: isize = match self.0 {
            0..=223 => 0,
            v => {
                let d = isize::from(v - 224) - 16; // -16..=15
                if d >= 0 { d + 1 } else { d }
            }
        };
        match want {
            Some(w) if w <= CAP => w.saturating_add_signed(delta).min(CAP),
            _ => usize::from(self.0 % 8),
        }
    }
}

/// Values of a data buffer: a pattern of `vals` repeated (with a ramp per repetition) around a
/// base offset and scaled by a power of two, or raw bit patterns and special values.
#[derive(Arbitrary, Debug, Clone)]
pub struct Data {
    pub base: Base,
    pub scale_exp: i8,
    pub ramp: i8,
    pub vals: Vec<Val>,
    /// NaN / +Inf / -Inf placed at single positions (to poison one group, not the pattern).
    pub holes: Vec<(u16, u8)>,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Base {
    Zero,
    Table(u8),
    Bits(u32),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Val {
    Small(i8),
    Wide(i16),
    Special(u8),
    Bits(u32),
}

/// Large offsets and extreme magnitudes.
const BASES: [f32; 14] = [
    0.0, 1.0, -1.0, 1e3, 1e5, -1e5, 3e7, 1.5e12, -1e18, 1e18, 1e-20, 1e30, -1e35, 1.7e38,
];

/// NaN, infinities, subnormals, the extremes of f32, signed zero.
const SPECIALS: [f32; 16] = [
    f32::NAN,
    f32::INFINITY,
    f32::NEG_INFINITY,
    f32::MAX,
    f32::MIN,
    f32::MIN_POSITIVE,
    1e-45,
    -3e-42,
    -0.0,
    0.0,
    1e-20,
    -1e18,
    3e38,
    f32::EPSILON,
    1e18,
    -1.0,
];

impl Data {
    fn base(&self) -> f32 {
        match self.base {
            Base::Zero => 0.0,
            Base::Table(i) => BASES[usize::from(i) % BASES.len()],
            Base::Bits(b) => f32::from_bits(b),
        }
    }

    fn scale(&self) -> f32 {
        // 2^-140 (subnormal) .. 2^120: tiny and huge magnitudes.
        let e = (i32::from(self.scale_exp) * 2).clamp(-140, 120);
        2f64.powi(e) as f32
    }

    /// Value `i` of the buffer.
    pub fn value(&self, i: usize) -> f32 {
        let (base, scale) = (self.base(), self.scale());
        if self.vals.is_empty() {
            let k = (i.wrapping_mul(37) % 23) as f32 - 11.0;
            return base + k * scale;
        }
        let rep = (i / self.vals.len()) as f32;
        match self.vals[i % self.vals.len()] {
            Val::Small(s) => base + (f32::from(s) + f32::from(self.ramp) * rep) * scale,
            Val::Wide(w) => base + f32::from(w) * scale / 256.0,
            Val::Special(k) => SPECIALS[usize::from(k) % SPECIALS.len()],
            Val::Bits(b) => f32::from_bits(b),
        }
    }

    pub fn fill(&self, len: usize) -> Vec<f32> {
        let mut x: Vec<f32> = (0..len).map(|i| self.value(i)).collect();
        if len > 0 {
            for &(at, kind) in &self.holes {
                x[usize::from(at) % len] = SPECIALS[usize::from(kind) % 3];
            }
        }
        x
    }
}

/// An optional per-channel / per-element parameter (gamma, beta, running statistics, bias).
#[derive(Arbitrary, Debug, Clone)]
pub struct Param {
    pub len: Len,
    pub data: Data,
}

impl Param {
    pub fn build(&self, want: Option<usize>) -> Vec<f32> {
        self.data.fill(self.len.resolve(want))
    }
}

/// Builds an optional parameter vector.
pub fn opt_param(p: &Option<Param>, want: Option<usize>) -> Option<Vec<f32>> {
    p.as_ref().map(|p| p.build(want))
}

/// A layer's optional gamma and beta, built and length-checked in one place for every target.
#[derive(Debug, Clone)]
pub struct Affine {
    gamma: Option<Vec<f32>>,
    beta: Option<Vec<f32>>,
}

impl Affine {
    /// Gamma and beta, each when given, built for a layer of `channels`.
    pub fn build(gamma: &Option<Param>, beta: &Option<Param>, channels: usize) -> Affine {
        Affine {
            gamma: opt_param(gamma, Some(channels)),
            beta: opt_param(beta, Some(channels)),
        }
    }

    pub fn gamma(&self) -> Option<&[f32]> {
        self.gamma.as_deref()
    }

    pub fn beta(&self) -> Option<&[f32]> {
        self.beta.as_deref()
    }

    /// Independent rule: gamma and beta, when given, hold one value per channel.
    pub fn lengths_ok(&self, channels: usize) -> bool {
        self.gamma().is_none_or(|v| v.len() == channels)
            && self.beta().is_none_or(|v| v.len() == channels)
    }
}

/// Optional saved-statistics buffers (`mean`, `inv_std`), each with its own length.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub struct SavedSpec {
    pub mean: Len,
    pub inv_std: Len,
}

impl SavedSpec {
    pub fn build(&self, want: Option<usize>) -> (Vec<f32>, Vec<f32>) {
        (
            vec![0.0; self.mean.resolve(want)],
            vec![0.0; self.inv_std.resolve(want)],
        )
    }
}

/// Epsilon: usually a sensible power of ten, sometimes zero or any bit pattern (negative,
/// NaN, infinite are invalid).
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Eps {
    Default,
    Zero,
    /// 10^(3 - k % 16): 1e3 .. 1e-12.
    Pow(u8),
    Bits(u32),
}

impl Eps {
    pub fn value(self) -> f32 {
        match self {
            Eps::Default => normkern::DEFAULT_EPS,
            Eps::Zero => 0.0,
            Eps::Pow(k) => 10f64.powi(3 - i32::from(k % 16)) as f32,
            Eps::Bits(b) => f32::from_bits(b),
        }
    }
}

/// Independent validity rule for epsilon: finite and non-negative.
pub fn eps_valid(eps: f32) -> bool {
    eps.is_finite() && eps >= 0.0
}

/// The instruction set to force.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub struct IsaPick(pub u8);

impl IsaPick {
    pub fn isa(self) -> Isa {
        Isa::ALL[usize::from(self.0) % Isa::ALL.len()]
    }
}

/// Whether `x` and `y` are one buffer (in place) or two.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub struct Buffers {
    pub in_place: bool,
    pub x_len: Len,
    pub y_len: Len,
}

impl Buffers {
    /// The input `x` (values from `data`) and the length of the separate output, for an
    /// operator that expects `want` values.
    pub fn build(&self, data: &Data, want: Option<usize>) -> (Vec<f32>, usize) {
        (
            data.fill(self.x_len.resolve(want)),
            self.y_len.resolve(want),
        )
    }
}

/// What a row normalization (LayerNorm, RMSNorm) runs over, and the width its layer was built
/// for (the length of its gamma and beta).
#[derive(Arbitrary, Debug)]
pub enum RowMode {
    /// `Shape::rows(rows, cols)`: `rows` rows of `cols` values, a layer of width `cols`.
    Rows { rows: Dim, cols: Dim },
    /// Each position's channels of a tensor in either layout, with a layer built for `cols`
    /// channels: usually the shape's `c`, sometimes not (then gamma and beta, when given, have
    /// the wrong length).
    Channels { shape: ShapeSpec, cols: Len },
}

/// A [`RowMode`] made concrete.
#[derive(Debug, Clone, Copy)]
pub struct Rows {
    /// The call's shape.
    pub shape: Shape,
    /// The layer's width: the length gamma and beta are built with.
    pub cols: usize,
    /// The expected input length (`None`: does not fit in `usize`).
    pub len: Option<usize>,
    /// The expected number of positions (rows; one statistic each).
    pub positions: Option<usize>,
}

impl RowMode {
    pub fn rows(&self) -> Rows {
        let (shape, cols) = match self {
            RowMode::Rows { rows, cols } => {
                let cols = cols.value();
                (Shape::rows(rows.value(), cols), cols)
            }
            RowMode::Channels { shape, cols } => {
                let shape = shape.shape();
                // Past CAP the resolved length would differ from c: keep cols == c there.
                let c = shape.c();
                (shape, if c > CAP { c } else { cols.resolve(Some(c)) })
            }
        };
        let len = shape_len(&shape);
        Rows {
            shape,
            cols,
            len,
            positions: len.and_then(|_| shape.n().checked_mul(shape.spatial())),
        }
    }
}

impl Rows {
    /// The tensor, for the reference.
    pub fn dims(&self) -> Dims {
        crate::adapt::dims(&self.shape)
    }

    /// Independent rule of LayerNorm and RMSNorm besides the tensor's lengths: at least one
    /// channel (value per row), and gamma and beta, when given, one value per channel.
    pub fn params_ok(&self, gamma: Option<&[f32]>, beta: Option<&[f32]>) -> bool {
        let c = self.shape.c();
        c != 0 && gamma.is_none_or(|v| v.len() == c) && beta.is_none_or(|v| v.len() == c)
    }
}
