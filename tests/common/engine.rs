//! What the engine features need in tests: the element types as one trait ([`Elem`]: rounding
//! from f32 and from f64, widening, distances in ulps), and the activations as one enum ([`Act`])
//! with the crate's type for each ([`with_activation!`]), the reference's float64 function and
//! the crate's stated accuracy.

use normkern::{Activation, AnyActivation, Element, bf16, f16};
use normkern_reference::Activation as Exact;
use std::fmt::Debug;

/// An element type of the crate's buffers, as the tests handle it.
pub trait Elem: Element + PartialEq + Debug {
    /// The ONNX name of the type (`float32`, `float16`, `bfloat16`).
    const NAME: &'static str;

    /// Stored mantissa bits: 23, 10, 7.
    const MANTISSA_BITS: u32;

    /// The largest finite value.
    const MAX: f32;

    /// `v` rounded once to the type, to nearest even (exact for a value of the type).
    fn round(v: f32) -> Self;

    /// The value as f32 (exact).
    fn widen(self) -> f32;

    /// The bit pattern (for bitwise comparisons).
    fn bits(self) -> u32;

    /// The value's place among the type's values in order: adjacent values are one apart, +0
    /// and -0 are both 0, the infinities one past the largest finite values. `None` for NaN.
    fn ordinal(self) -> Option<i64>;

    /// The value at `ordinal` (the inverse of [`Elem::ordinal`]; +0 for 0).
    fn from_ordinal(ordinal: i64) -> Self;
}

/// The ordinal of a bit pattern whose sign bit is `sign` and whose exponent field, all ones,
/// is `inf` (the infinity's magnitude): `None` for NaN (a magnitude above the infinity's).
fn ordinal(bits: u32, sign: u32, inf: u32) -> Option<i64> {
    let magnitude = bits & (sign - 1);
    if magnitude > inf {
        return None;
    }
    let m = i64::from(magnitude);
    Some(if bits & sign != 0 { -m } else { m })
}

/// The bit pattern at an ordinal (see [`ordinal`]).
fn from_ordinal(ordinal: i64, sign: u32) -> u32 {
    let magnitude = ordinal.unsigned_abs() as u32;
    if ordinal < 0 {
        magnitude | sign
    } else {
        magnitude
    }
}

impl Elem for f32 {
    const NAME: &'static str = "float32";
    const MANTISSA_BITS: u32 = 23;
    const MAX: f32 = f32::MAX;
    fn round(v: f32) -> Self {
        v
    }
    fn widen(self) -> f32 {
        self
    }
    fn bits(self) -> u32 {
        self.to_bits()
    }
    fn ordinal(self) -> Option<i64> {
        ordinal(self.to_bits(), 0x8000_0000, 0x7f80_0000)
    }
    fn from_ordinal(o: i64) -> Self {
        f32::from_bits(from_ordinal(o, 0x8000_0000))
    }
}

impl Elem for f16 {
    const NAME: &'static str = "float16";
    const MANTISSA_BITS: u32 = 10;
    const MAX: f32 = 65504.0;
    fn round(v: f32) -> Self {
        f16::from_f32(v)
    }
    fn widen(self) -> f32 {
        self.to_f32()
    }
    fn bits(self) -> u32 {
        u32::from(self.to_bits())
    }
    fn ordinal(self) -> Option<i64> {
        ordinal(self.bits(), 0x8000, 0x7c00)
    }
    fn from_ordinal(o: i64) -> Self {
        f16::from_bits(from_ordinal(o, 0x8000) as u16)
    }
}

impl Elem for bf16 {
    const NAME: &'static str = "bfloat16";
    const MANTISSA_BITS: u32 = 7;
    const MAX: f32 = f32::from_bits(0x7f7f_0000);
    fn round(v: f32) -> Self {
        bf16::from_f32(v)
    }
    fn widen(self) -> f32 {
        self.to_f32()
    }
    fn bits(self) -> u32 {
        u32::from(self.to_bits())
    }
    fn ordinal(self) -> Option<i64> {
        ordinal(self.bits(), 0x8000, 0x7f80)
    }
    fn from_ordinal(o: i64) -> Self {
        bf16::from_bits(from_ordinal(o, 0x8000) as u16)
    }
}

/// `values` rounded to `T`.
pub fn round_all<T: Elem>(values: &[f32]) -> Vec<T> {
    values.iter().map(|&v| T::round(v)).collect()
}

/// `values` widened to f32.
pub fn widen_all<T: Elem>(values: &[T]) -> Vec<f32> {
    values.iter().map(|v| v.widen()).collect()
}

/// Whether two buffers are bitwise equal.
pub fn same_bits<T: Elem>(a: &[T], b: &[T]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.bits() == y.bits())
}

/// `v` rounded once to `T`, to nearest even: f64 to f32 to `T` may round twice, so the
/// neighbours of that result are compared with `v` itself. (Where the first rounding
/// overflows, its infinity is returned: the tests' expected values are far from that.)
pub fn round_f64<T: Elem>(v: f64) -> T {
    let first = T::round(v as f32);
    let Some(at) = first.ordinal() else {
        return first;
    };
    if !first.widen().is_finite() {
        return first;
    }
    let mut best = first;
    for candidate in [T::from_ordinal(at - 1), T::from_ordinal(at + 1)] {
        let c = f64::from(candidate.widen());
        let b = f64::from(best.widen());
        if !c.is_finite() {
            continue;
        }
        let (dc, db) = ((c - v).abs(), (b - v).abs());
        if dc < db || (dc == db && candidate.bits() & 1 == 0) {
            best = candidate;
        }
    }
    best
}

/// Distance in representable values of `T` (0 for two NaN, `u64::MAX` for NaN against a
/// number; +0 and -0 are equal).
pub fn ulps<T: Elem>(a: T, b: T) -> u64 {
    match (a.ordinal(), b.ordinal()) {
        (Some(x), Some(y)) => x.abs_diff(y),
        (None, None) => 0,
        _ => u64::MAX,
    }
}

/// The spacing of `T`'s values at `|v|` (the distance from `|v|` rounded to `T` to the next
/// value up), as f64.
pub fn ulp<T: Elem>(v: f64) -> f64 {
    let at: T = round_f64(v.abs());
    let o = at.ordinal().unwrap_or(0).max(0);
    let next = f64::from(T::from_ordinal(o + 1).widen());
    let here = f64::from(T::from_ordinal(o).widen());
    if next.is_finite() {
        next - here
    } else {
        here - f64::from(T::from_ordinal(o - 1).widen())
    }
}

/// An activation applied after a normalization: none, or one of the crate's four.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Act {
    None,
    Relu,
    Silu,
    Gelu,
    GeluTanh,
}

impl Act {
    /// The four activations.
    pub const ALL: [Act; 4] = [Act::Relu, Act::Silu, Act::Gelu, Act::GeluTanh];

    /// The crate's run-time activation.
    pub fn any(self) -> AnyActivation {
        match self {
            Act::None => AnyActivation::None,
            Act::Relu => AnyActivation::Relu,
            Act::Silu => AnyActivation::Silu,
            Act::Gelu => AnyActivation::Gelu,
            Act::GeluTanh => AnyActivation::GeluTanh,
        }
    }

    /// The exact value, from the float64 reference (`normkern_reference::Activation`).
    pub fn exact(self, v: f64) -> f64 {
        match self {
            Act::None => v,
            Act::Relu => Exact::Relu.apply(v),
            Act::Silu => Exact::Silu.apply(v),
            Act::Gelu => Exact::Gelu.apply(v),
            Act::GeluTanh => Exact::GeluTanh.apply(v),
        }
    }

    /// The crate's stated maximum error, in f32 ulps from the correctly rounded result, of the
    /// activation applied to an f32 value: "Max error" in the doc comments of `silu`, `gelu`
    /// and `gelu_tanh` in `src/simd/math.rs` (measured on every instruction set by
    /// `tests/suite/activations.rs`); ReLU is exact.
    pub fn max_ulps(self) -> u64 {
        match self {
            Act::None | Act::Relu => 0,
            Act::Silu | Act::GeluTanh => 2,
            Act::Gelu => 3,
        }
    }

    /// A bound on the activation's slope (`|f(a) - f(b)| <= L |a - b|`): 1 for ReLU, the
    /// maxima of SiLU's (1.0998), GELU's (1.1289) and GELU-tanh's (1.1295) derivatives,
    /// rounded up.
    pub fn lipschitz(self) -> f64 {
        match self {
            Act::None | Act::Relu => 1.0,
            Act::Silu | Act::Gelu | Act::GeluTanh => 1.13,
        }
    }
}

/// Runs `$body` with `$a` bound to the crate's activation for `$act` (an [`Act`]): the
/// run-time [`normkern::AnyActivation`], so the body is compiled once for all five (each unit
/// type would instantiate every operator on every instruction set again). That the unit types
/// give the same bits is `tests/suite/activations.rs`'s to check.
#[allow(unused_macros)] // not every test binary uses it
macro_rules! with_activation {
    ($act:expr, $a:ident => $body:expr) => {{
        let $a = $act.any();
        $body
    }};
}
#[allow(unused_imports)]
pub(crate) use with_activation;

/// Whether `a` is no activation (for the operators that take none).
pub fn is_none<A: Activation>(a: A) -> bool {
    a.kind() == AnyActivation::None
}
