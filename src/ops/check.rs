//! Input validation shared by the operators. Everything is checked before anything is written,
//! and every error names the operator and what its expectation came from.

use crate::element::Element;
use crate::error::{ErrorKind, NormError};
use crate::io::InOut;
use crate::shape::Shape;

/// ONNX's and PyTorch's default epsilon.
pub const DEFAULT_EPS: f32 = 1e-5;

/// The checks of one operator, whose name every error carries.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Check {
    pub op: &'static str,
}

impl Check {
    pub(crate) const fn new(op: &'static str) -> Check {
        Check { op }
    }

    pub(crate) fn fail<T>(self, kind: ErrorKind) -> Result<T, NormError> {
        Err(NormError::new(self.op, kind))
    }

    pub(crate) fn eps(self, eps: f32) -> Result<(), NormError> {
        if eps.is_finite() && eps >= 0.0 {
            Ok(())
        } else {
            self.fail(ErrorKind::Epsilon(eps))
        }
    }

    /// `buffer` holds `expected` values, as `from` says it should.
    pub(crate) fn len(
        self,
        buffer: &'static str,
        actual: usize,
        expected: usize,
        from: &'static str,
    ) -> Result<(), NormError> {
        if actual == expected {
            Ok(())
        } else {
            self.fail(ErrorKind::Length {
                buffer,
                expected,
                actual,
                from,
            })
        }
    }

    /// An optional buffer, when present, holds `expected` values.
    pub(crate) fn optional(
        self,
        buffer: &'static str,
        values: Option<&[f32]>,
        expected: usize,
        from: &'static str,
    ) -> Result<(), NormError> {
        values.map_or(Ok(()), |v| self.len(buffer, v.len(), expected, from))
    }

    /// The shape's element count (or an overflow error).
    pub(crate) fn count(self, shape: &Shape) -> Result<usize, NormError> {
        shape
            .len()
            .map_or_else(|| self.fail(ErrorKind::ShapeOverflow), Ok)
    }

    /// `x` and `y` hold exactly the shape's values; returns their count.
    pub(crate) fn tensor<T: Element>(
        self,
        shape: &Shape,
        io: &InOut<'_, T>,
    ) -> Result<usize, NormError> {
        let total = self.count(shape)?;
        const FROM: &str = "shape.n * shape.c * shape.spatial";
        self.len("x", io.input_len(), total, FROM)?;
        self.len("y", io.output_len(), total, FROM)?;
        Ok(total)
    }

    /// `n * m`, or an overflow error.
    pub(crate) fn product(self, n: usize, m: usize) -> Result<usize, NormError> {
        n.checked_mul(m)
            .map_or_else(|| self.fail(ErrorKind::ShapeOverflow), Ok)
    }
}
