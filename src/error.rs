//! The one error type every fallible function returns.

use crate::isa::Isa;
use crate::shape::Layout;
use core::fmt;

/// Why an operator refused its input: the operator, and what was wrong ([`ErrorKind`]).
/// Returned before anything is written: on error every output buffer is left untouched.
///
/// ```
/// use normkern::{ErrorKind, InOut, Kernels, LayerNorm, Shape};
/// let (x, mut y, gamma) = ([0.0f32; 8], [0.0f32; 8], [1.0f32; 3]);
/// let ln = LayerNorm::new().gamma(&gamma);
/// let err = Kernels::detect()
///     .layer_norm(&ln, Shape::rows(2, 4), InOut::new(&x, &mut y), None)
///     .unwrap_err();
/// assert_eq!(err.op(), "layer_norm");
/// assert!(matches!(err.kind(), ErrorKind::Length { buffer: "gamma", expected: 4, actual: 3, .. }));
/// assert_eq!(err.to_string(), "layer_norm: `gamma` holds 3 values, expected 4 (shape.c)");
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NormError {
    op: &'static str,
    kind: ErrorKind,
}

/// What was wrong with an operator's input.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A buffer holds the wrong number of values.
    Length {
        /// Which buffer (`"x"`, `"y"`, `"gamma"`, `"running_mean"`, ...).
        buffer: &'static str,
        expected: usize,
        actual: usize,
        /// What the expected length comes from (`"shape.c"`, `"shape.n * groups"`, ...).
        from: &'static str,
    },
    /// The product of the shape's dimensions does not fit in `usize`.
    ShapeOverflow,
    /// A dimension that must be non-zero is zero (`"shape.c"`, `"groups"`).
    ZeroDimension(&'static str),
    /// Epsilon must be finite and non-negative.
    Epsilon(f32),
    /// Momentum must be finite and in `0..=1`; a cumulative average needs at least one batch.
    Momentum(f32),
    /// The channel count is not a multiple of the group count.
    Groups { channels: usize, groups: usize },
    /// Training statistics need more than one value per channel (as PyTorch requires).
    TooFewValues { per_channel: usize },
    /// The instruction set is not built for this target or cannot run on this CPU.
    IsaUnavailable(Isa),
    /// A byte buffer is not a whole number of `f32`, or not aligned to 4 bytes.
    Bytes { len: usize, misaligned: bool },
    /// The operation needs the other layout (the fused residual add: channels-last).
    Layout(Layout),
    /// A [`Part`](crate::split::Part) ends past the tensor's last line.
    Part { end: usize, lines: usize },
    /// Merged statistics of a group count other than all of its values (a part's partial
    /// was not merged, or merged twice).
    StatsCount {
        group: usize,
        expected: u64,
        actual: u64,
    },
}

impl NormError {
    pub(crate) const fn new(op: &'static str, kind: ErrorKind) -> NormError {
        NormError { op, kind }
    }

    /// The operator or function that refused its input: `"layer_norm"`, `"group_norm"`,
    /// `"BatchNorm::fold_into_conv"`, `"Kernels::new"`, ...
    ///
    /// ```
    /// use normkern::{GroupNorm, InOut, Kernels, Shape};
    /// let (x, mut y) = ([0.0f32; 6], [0.0f32; 6]);
    /// let err = Kernels::detect().group_norm(&GroupNorm::new(4), Shape::ncl(1, 6, 1), InOut::new(&x, &mut y), None);
    /// assert_eq!(err.unwrap_err().op(), "group_norm");
    /// ```
    pub fn op(&self) -> &'static str {
        self.op
    }

    /// What was wrong.
    ///
    /// ```
    /// use normkern::{ErrorKind, GroupNorm, InOut, Kernels, Shape};
    /// let (x, mut y) = ([0.0f32; 6], [0.0f32; 6]);
    /// let err = Kernels::detect().group_norm(&GroupNorm::new(4), Shape::ncl(1, 6, 1), InOut::new(&x, &mut y), None);
    /// assert_eq!(err.unwrap_err().kind(), ErrorKind::Groups { channels: 6, groups: 4 });
    /// ```
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
}

impl fmt::Display for NormError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.op, self.kind)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ErrorKind::Length {
                buffer,
                expected,
                actual,
                from,
            } => write!(
                f,
                "`{buffer}` holds {actual} values, expected {expected} ({from})"
            ),
            ErrorKind::ShapeOverflow => f.write_str("the shape's element count overflows usize"),
            ErrorKind::ZeroDimension(what) => write!(f, "`{what}` must be at least 1"),
            ErrorKind::Epsilon(eps) => write!(f, "epsilon {eps} is not finite and >= 0"),
            ErrorKind::Momentum(m) => write!(
                f,
                "momentum {m} is not finite and in 0..=1 (or no batch was counted)"
            ),
            ErrorKind::Groups { channels, groups } => write!(
                f,
                "{channels} channels do not split into {groups} equal groups"
            ),
            ErrorKind::TooFewValues { per_channel } => write!(
                f,
                "training needs more than 1 value per channel, got {per_channel}"
            ),
            ErrorKind::IsaUnavailable(isa) => write!(f, "instruction set {isa} is not available"),
            ErrorKind::Layout(layout) => write!(f, "{layout:?} data is not supported here"),
            ErrorKind::Part { end, lines } => {
                write!(
                    f,
                    "the part ends at line {end}, past the tensor's {lines} lines"
                )
            }
            ErrorKind::StatsCount {
                group,
                expected,
                actual,
            } => write!(
                f,
                "the statistics of group {group} count {actual} values, expected {expected}"
            ),
            ErrorKind::Bytes { len, misaligned } => {
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
