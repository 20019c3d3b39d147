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

    /// Number of values, or [`NormError::ShapeOverflow`].
    pub fn len(&self) -> Result<usize, NormError> {
        self.n
            .checked_mul(self.c)
            .and_then(|nc| nc.checked_mul(self.spatial))
            .filter(|_| self.spatial != usize::MAX)
            .ok_or(NormError::ShapeOverflow)
    }

    /// Whether the tensor holds no values (also `false` when the length overflows).
    pub fn is_empty(&self) -> bool {
        self.len() == Ok(0)
    }
}
