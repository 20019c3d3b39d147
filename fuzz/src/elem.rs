//! Element types in the fuzz targets: the type a case runs in (decoded from one byte, the
//! first of every operator target's input), the `InOut` of each type as one argument ([`Io`],
//! taken apart by [`each_elem!`](crate::each_elem)), and what the oracle needs to know of a
//! type: rounding into it, the spacing of its values, its sentinel.
//!
//! A case's data is rounded to its type before anything else (the harness does it), so the
//! values the operator reads, the reference's input and the poisoning rules all agree; the
//! output comes back widened to f32 (exactly). The element trait itself is the test suite's
//! (`tests/common/engine.rs`).

use crate::common::engine::{self, Elem};
use arbitrary::Arbitrary;
use normkern::{InOut, bf16, f16};

/// Picks the element type: `0` (every seed written before element types existed decodes
/// with a zero byte in front) f32, then f16, bf16.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub struct ElemPick(pub u8);

impl ElemPick {
    pub fn ty(self) -> ElemType {
        match self.0 % 3 {
            0 => ElemType::F32,
            1 => ElemType::F16,
            _ => ElemType::Bf16,
        }
    }
}

/// The element type of a case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElemType {
    F32,
    F16,
    Bf16,
}

/// A NaN payload the kernels never produce from non-NaN operands, in the 16-bit types (quiet
/// NaNs; f32's is [`crate::check::SENTINEL`]).
const F16_SENTINEL: u16 = 0x7E5A;
const BF16_SENTINEL: u16 = 0x7FE5;

impl ElemType {
    pub fn name(self) -> &'static str {
        match self {
            ElemType::F32 => f32::NAME,
            ElemType::F16 => f16::NAME,
            ElemType::Bf16 => bf16::NAME,
        }
    }

    /// `v` rounded to the type (nearest even), widened back.
    pub fn round(self, v: f32) -> f32 {
        match self {
            ElemType::F32 => v,
            ElemType::F16 => f16::from_f32(v).to_f32(),
            ElemType::Bf16 => bf16::from_f32(v).to_f32(),
        }
    }

    pub fn round_all(self, x: &[f32]) -> Vec<f32> {
        x.iter().map(|&v| self.round(v)).collect()
    }

    /// How far rounding a result of magnitude up to `magnitude` into the type may move it:
    /// half its spacing there (0 for f32, whose rounding the f32 tolerances already count).
    pub fn rounding(self, magnitude: f64) -> f64 {
        match self {
            ElemType::F32 => 0.0,
            ElemType::F16 => 0.5 * engine::ulp::<f16>(magnitude),
            ElemType::Bf16 => 0.5 * engine::ulp::<bf16>(magnitude),
        }
    }

    /// The largest finite value of the type (a larger result rounds to infinity).
    pub fn max(self) -> f64 {
        f64::from(match self {
            ElemType::F32 => f32::MAX,
            ElemType::F16 => f16::MAX.to_f32(),
            ElemType::Bf16 => bf16::MAX.to_f32(),
        })
    }

    /// The type's sentinel, widened to f32: buffers of the type are pre-filled with it, so a
    /// missed write shows up.
    pub fn sentinel(self) -> f32 {
        match self {
            ElemType::F32 => crate::check::sentinel(),
            ElemType::F16 => f16::from_bits(F16_SENTINEL).to_f32(),
            ElemType::Bf16 => bf16::from_bits(BF16_SENTINEL).to_f32(),
        }
    }

    /// Bit patterns of the widened sentinel.
    pub fn sentinel_bits(self) -> u32 {
        self.sentinel().to_bits()
    }

    /// Whether an input value `v`, carried through the kernels into an output of this type,
    /// may come out as the sentinel. Only a NaN can: arithmetic passes a NaN operand's payload
    /// on, quieted (a signalling NaN gains its quiet bit), and rounding into the type keeps
    /// the payload's top bits, so a NaN that never was the sentinel may become it. Either
    /// sign counts (a negation may flip it).
    pub fn may_become_sentinel(self, v: f32) -> bool {
        const QUIET: u32 = 0x0040_0000;
        const SIGN: u32 = 0x8000_0000;
        v.is_nan() && {
            let carried = f32::from_bits((v.to_bits() | QUIET) & !SIGN);
            self.round(carried).to_bits() == self.sentinel_bits()
        }
    }
}

/// An operator's input and output in one of the element types.
#[derive(Debug)]
pub enum Io<'a> {
    F32(InOut<'a, f32>),
    F16(InOut<'a, f16>),
    Bf16(InOut<'a, bf16>),
}

impl<'a> From<InOut<'a, f32>> for Io<'a> {
    fn from(io: InOut<'a, f32>) -> Self {
        Io::F32(io)
    }
}

impl<'a> From<InOut<'a, f16>> for Io<'a> {
    fn from(io: InOut<'a, f16>) -> Self {
        Io::F16(io)
    }
}

impl<'a> From<InOut<'a, bf16>> for Io<'a> {
    fn from(io: InOut<'a, bf16>) -> Self {
        Io::Bf16(io)
    }
}

/// Runs `$body` with `$io` bound to the `InOut` inside an [`Io`], whatever its element type:
/// the body is compiled once per type.
#[macro_export]
macro_rules! each_elem {
    ($io:expr, $name:ident => $body:expr) => {
        match $io {
            $crate::elem::Io::F32($name) => $body,
            $crate::elem::Io::F16($name) => $body,
            $crate::elem::Io::Bf16($name) => $body,
        }
    };
}

/// `x` (values of `T`, widened) in `T`, its output of `y_len` values in `T` pre-filled with
/// `sentinel` (or `x` itself, in place), run through `run`; the output widened to f32.
pub fn with_buffers<T: Elem, R>(
    x: &[f32],
    y_len: usize,
    in_place: bool,
    sentinel: f32,
    run: impl FnOnce(Io<'_>) -> R,
) -> (R, Vec<f32>)
where
    for<'a> Io<'a>: From<InOut<'a, T>>,
{
    let x: Vec<T> = engine::round_all(x);
    if in_place {
        let mut xy = x;
        let result = run(InOut::in_place(&mut xy).into());
        (result, engine::widen_all(&xy))
    } else {
        let mut y = vec![T::round(sentinel); y_len];
        let result = run(InOut::new(&x, &mut y).into());
        (result, engine::widen_all(&y))
    }
}

impl ElemType {
    /// [`with_buffers`] in this type.
    pub fn run<R>(
        self,
        x: &[f32],
        y_len: usize,
        in_place: bool,
        run: impl FnOnce(Io<'_>) -> R,
    ) -> (R, Vec<f32>) {
        let s = self.sentinel();
        match self {
            ElemType::F32 => with_buffers::<f32, R>(x, y_len, in_place, s, run),
            ElemType::F16 => with_buffers::<f16, R>(x, y_len, in_place, s, run),
            ElemType::Bf16 => with_buffers::<bf16, R>(x, y_len, in_place, s, run),
        }
    }
}
