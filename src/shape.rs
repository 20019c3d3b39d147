//! Tensor shapes with an explicit layout.

use crate::error::NormError;

/// Where the channel dimension sits in memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Layout {
    /// `[N, C, spatial...]`: NCHW, NCL, NCDHW. Each (n, c) plane is contiguous.
    ChannelsFirst,
    /// `[N, spatial..., C]`: NHWC, NTC. Each position's channels are contiguous.
    ChannelsLast,
}

/// A batch of `n` samples with `c` channels over `spatial` positions (H·W, or T, or D·H·W),
/// laid out as `layout` says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Shape {
    pub n: usize,
    pub c: usize,
    /// Positions per channel: H·W for images, T (or L) for sequences, 1 for `[N, C]`.
    pub spatial: usize,
    pub layout: Layout,
}

impl Shape {
    /// `[N, C, spatial]` channels-first.
    pub const fn channels_first(n: usize, c: usize, spatial: usize) -> Shape {
        Shape {
            n,
            c,
            spatial,
            layout: Layout::ChannelsFirst,
        }
    }

    /// `[N, spatial, C]` channels-last.
    pub const fn channels_last(n: usize, spatial: usize, c: usize) -> Shape {
        Shape {
            n,
            c,
            spatial,
            layout: Layout::ChannelsLast,
        }
    }

    /// `[N, C, H, W]`. An `h * w` that overflows saturates, and is then refused as
    /// [`NormError::ShapeOverflow`] by every operator.
    pub const fn nchw(n: usize, c: usize, h: usize, w: usize) -> Shape {
        Shape::channels_first(n, c, h.saturating_mul(w))
    }

    /// `[N, H, W, C]`.
    pub const fn nhwc(n: usize, h: usize, w: usize, c: usize) -> Shape {
        Shape::channels_last(n, h.saturating_mul(w), c)
    }

    /// `[N, C, L]`.
    pub const fn ncl(n: usize, c: usize, l: usize) -> Shape {
        Shape::channels_first(n, c, l)
    }

    /// `[N, T, C]`.
    pub const fn ntc(n: usize, t: usize, c: usize) -> Shape {
        Shape::channels_last(n, t, c)
    }

    /// Number of values, or [`NormError::ShapeOverflow`] (also for a saturated `h * w`). A
    /// shape with a zero dimension holds 0 values whatever the others are.
    pub fn len(&self) -> Result<usize, NormError> {
        let dims = [self.n, self.c, self.spatial];
        if self.spatial == usize::MAX {
            return Err(NormError::ShapeOverflow);
        }
        if dims.contains(&0) {
            return Ok(0);
        }
        dims.iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .ok_or(NormError::ShapeOverflow)
    }

    /// Whether the tensor holds no values (also `false` when the length overflows).
    pub fn is_empty(&self) -> bool {
        self.len() == Ok(0)
    }
}
