//! Input validation shared by the operators. Everything is checked before anything is written.

use crate::error::NormError;
use crate::shape::Shape;

/// ONNX's and PyTorch's default epsilon.
pub const DEFAULT_EPS: f32 = 1e-5;

pub(crate) fn eps(eps: f32) -> Result<(), NormError> {
    if eps.is_finite() && eps >= 0.0 {
        Ok(())
    } else {
        Err(NormError::Epsilon(eps))
    }
}

pub(crate) fn len(buffer: &'static str, actual: usize, expected: usize) -> Result<(), NormError> {
    if actual == expected {
        Ok(())
    } else {
        Err(NormError::Length {
            buffer,
            expected,
            actual,
        })
    }
}

pub(crate) fn optional(
    buffer: &'static str,
    values: Option<&[f32]>,
    expected: usize,
) -> Result<(), NormError> {
    values.map_or(Ok(()), |v| len(buffer, v.len(), expected))
}

/// `x` (and `y`, when separate) hold exactly the shape's values.
pub(crate) fn tensor(shape: &Shape, x: usize, y: Option<usize>) -> Result<usize, NormError> {
    let total = shape.len()?;
    len("x", x, total)?;
    y.map_or(Ok(()), |y| len("y", y, total))?;
    Ok(total)
}

/// `x` (and `y`) are whole rows of `cols`; returns the row count.
pub(crate) fn rows(cols: usize, x: usize, y: Option<usize>) -> Result<usize, NormError> {
    if cols == 0 {
        return Err(NormError::ZeroDimension("cols"));
    }
    if !x.is_multiple_of(cols) {
        return Err(NormError::NotWholeRows {
            buffer: "x",
            len: x,
            cols,
        });
    }
    y.map_or(Ok(()), |y| len("y", y, x))?;
    Ok(x / cols)
}
