//! The one error type every fallible function returns.

use crate::isa::Isa;
use core::fmt;

/// Why an operator refused its input. Returned before anything is written: on error every
/// output buffer is left untouched.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum NormError {
    /// A buffer holds the wrong number of values.
    Length {
        /// Which buffer (`"x"`, `"y"`, `"gamma"`, `"running_mean"`, ...).
        buffer: &'static str,
        expected: usize,
        actual: usize,
    },
    /// A buffer's length is not a whole number of rows of `cols` values.
    NotWholeRows {
        buffer: &'static str,
        len: usize,
        cols: usize,
    },
    /// The product of the shape's dimensions does not fit in `usize`.
    ShapeOverflow,
    /// A dimension that must be non-zero is zero (`cols`, `groups`, ...).
    ZeroDimension(&'static str),
    /// Epsilon must be finite and non-negative.
    Epsilon(f32),
    /// Momentum must be finite and in `0..=1`; a cumulative average needs at least one batch.
    Momentum(f32),
    /// The channel count is not a multiple of the group count.
    Groups { channels: usize, groups: usize },
    /// Training statistics need more than one value per channel (as PyTorch requires).
    TooFewValues { per_channel: usize },
    /// The instruction set cannot run on this CPU.
    IsaUnavailable(Isa),
    /// A byte buffer is not a whole number of `f32`, or not aligned to 4 bytes.
    Bytes { len: usize, misaligned: bool },
}

impl fmt::Display for NormError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            NormError::Length {
                buffer,
                expected,
                actual,
            } => {
                write!(f, "`{buffer}` holds {actual} values, expected {expected}")
            }
            NormError::NotWholeRows { buffer, len, cols } => {
                write!(
                    f,
                    "`{buffer}` holds {len} values, not a whole number of rows of {cols}"
                )
            }
            NormError::ShapeOverflow => f.write_str("the shape's element count overflows usize"),
            NormError::ZeroDimension(what) => write!(f, "`{what}` must be at least 1"),
            NormError::Epsilon(eps) => write!(f, "epsilon {eps} is not finite and >= 0"),
            NormError::Momentum(m) => {
                write!(
                    f,
                    "momentum {m} is not finite and in 0..=1 (or no batch was counted)"
                )
            }
            NormError::Groups { channels, groups } => {
                write!(
                    f,
                    "{channels} channels do not split into {groups} equal groups"
                )
            }
            NormError::TooFewValues { per_channel } => write!(
                f,
                "training needs more than 1 value per channel, got {per_channel}"
            ),
            NormError::IsaUnavailable(isa) => write!(f, "instruction set {isa} is not available"),
            NormError::Bytes { len, misaligned } => {
                if misaligned {
                    write!(f, "{len} bytes are not aligned to 4 bytes for f32")
                } else {
                    write!(f, "{len} bytes are not a whole number of f32 values")
                }
            }
        }
    }
}

impl core::error::Error for NormError {}
