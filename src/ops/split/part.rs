//! [`Part`]: which lines of a tensor one call of the split-phase API covers, and its checks.

use crate::error::{ErrorKind, NormError};
use crate::ops::check::Check;
use crate::shape::{Layout, Shape};
use core::ops::Range;

/// The lines `first..first + count` of a tensor: what one thread of an engine's pool reads
/// and writes. A *line* is one (n, c) plane of a channels-first tensor (`spatial` values) or
/// one position of a channels-last tensor (`c` values), so a part is one contiguous run of
/// the tensor's values ([`Part::range`]) and the parts of a split are disjoint.
///
/// Any split works: a range of batch entries (channels-first, `C` lines each), of channels
/// within a sample, or of positions (channels-last), even across samples.
///
/// ```
/// use normkern::{split::Part, Shape};
/// let shape = Shape::nchw(2, 3, 4, 4); // 6 planes of 16 values
/// assert_eq!(Part::lines(&shape), 6);
/// let second_sample = Part::new(3, 3);
/// assert_eq!(second_sample.range(&shape), 48..96);
/// assert_eq!(Part::nth(&shape, 1, 2), second_sample); // the second of two near-equal parts
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Part {
    first: usize,
    count: usize,
}

impl Part {
    /// The lines `first..first + count`.
    pub const fn new(first: usize, count: usize) -> Part {
        Part { first, count }
    }

    /// Every line of `shape`.
    ///
    /// ```
    /// use normkern::{split::Part, Shape};
    /// assert_eq!(Part::whole(&Shape::ntc(2, 5, 8)), Part::new(0, 10));
    /// ```
    pub fn whole(shape: &Shape) -> Part {
        Part::new(0, Part::lines(shape))
    }

    /// Part `index` of `parts` near-equal parts of `shape`'s lines (the first ones one line
    /// longer where they do not divide evenly; empty past the end or for `parts == 0`).
    ///
    /// ```
    /// use normkern::{split::Part, Shape};
    /// let shape = Shape::ntc(1, 7, 8);
    /// let parts: Vec<_> = (0..3).map(|i| Part::nth(&shape, i, 3)).collect();
    /// assert_eq!(parts, [Part::new(0, 3), Part::new(3, 2), Part::new(5, 2)]);
    /// ```
    pub fn nth(shape: &Shape, index: usize, parts: usize) -> Part {
        Part::nth_of(Part::lines(shape), index, parts)
    }

    /// Part `index` of `parts` near-equal parts of `lines` lines.
    pub(crate) fn nth_of(lines: usize, index: usize, parts: usize) -> Part {
        if parts == 0 || index >= parts {
            return Part::new(lines, 0);
        }
        let (each, extra) = (lines / parts, lines % parts);
        Part::new(
            index * each + index.min(extra),
            each + usize::from(index < extra),
        )
    }

    /// How many lines `shape` holds: `n * c` planes channels-first, `n * spatial` positions
    /// channels-last (saturating; a tensor whose length overflows is refused by every call).
    ///
    /// ```
    /// use normkern::{split::Part, Shape};
    /// assert_eq!(Part::lines(&Shape::nhwc(2, 3, 4, 5)), 24);
    /// ```
    pub fn lines(shape: &Shape) -> usize {
        match shape.layout() {
            Layout::ChannelsFirst => shape.n().saturating_mul(shape.c()),
            Layout::ChannelsLast => shape.n().saturating_mul(shape.spatial()),
        }
    }

    /// Values per line of `shape`.
    pub(crate) fn line_len(shape: &Shape) -> usize {
        match shape.layout() {
            Layout::ChannelsFirst => shape.spatial(),
            Layout::ChannelsLast => shape.c(),
        }
    }

    /// The first line.
    pub const fn first(&self) -> usize {
        self.first
    }

    /// How many lines.
    pub const fn count(&self) -> usize {
        self.count
    }

    /// The first line after the part.
    pub(crate) const fn end(&self) -> usize {
        self.first + self.count
    }

    /// Where the part's values lie in the flattened tensor (saturating; the calls check it):
    /// `x[part.range(&shape)]` is what a thread passes.
    pub fn range(&self, shape: &Shape) -> Range<usize> {
        let len = Part::line_len(shape);
        let start = self.first.saturating_mul(len);
        start..start.saturating_add(self.count.saturating_mul(len))
    }

    /// Checks the part against `shape` and the lengths of its input (and output) against the
    /// part; returns the part's value count.
    pub(crate) fn check(
        self,
        check: Check,
        shape: &Shape,
        x: usize,
        y: Option<usize>,
    ) -> Result<usize, NormError> {
        check.count(shape)?;
        let lines = Part::lines(shape);
        match self.first.checked_add(self.count) {
            Some(end) if end <= lines => {}
            end => {
                let end = end.unwrap_or(usize::MAX);
                return check.fail(ErrorKind::Part { end, lines });
            }
        }
        // No overflow: at most the tensor's length.
        let values = self.count * Part::line_len(shape);
        const FROM: &str = "part.count() * values per line";
        check.len("x", x, values, FROM)?;
        if let Some(y) = y {
            check.len("y", y, values, FROM)?;
        }
        Ok(values)
    }
}
