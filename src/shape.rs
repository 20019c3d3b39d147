//! Tensor shapes with an explicit layout.

/// Where the channel dimension sits in memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Layout {
    /// `[N, C, spatial...]`: NCHW, NCL, NCDHW. Each (n, c) plane is contiguous.
    ChannelsFirst,
    /// `[N, spatial..., C]`: NHWC, NTC, and `[rows, cols]`. Each position's channels are
    /// contiguous.
    ChannelsLast,
}

/// A batch of `n` samples with `c` channels over `spatial` positions (H·W, or T, or D·H·W),
/// laid out as its [`Layout`] says. Every operator takes one as its second argument.
///
/// ```
/// use normkern::{Layout, Shape};
/// let image = Shape::nchw(2, 3, 4, 5);
/// assert_eq!((image.n(), image.c(), image.spatial()), (2, 3, 20));
/// assert_eq!(image.layout(), Layout::ChannelsFirst);
/// assert_eq!(image.len(), Some(120));
/// // LayerNorm over the last dim of [tokens, hidden]: each row is one position's channels.
/// let tokens = Shape::rows(4, 768);
/// assert_eq!((tokens.n(), tokens.c(), tokens.spatial()), (4, 768, 1));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Shape {
    n: usize,
    c: usize,
    spatial: usize,
    layout: Layout,
}

impl Shape {
    /// `[N, C, spatial]` channels-first.
    ///
    /// ```
    /// // NCDHW 2x3x4x5x6: the spatial dims flattened.
    /// let s = normkern::Shape::channels_first(2, 3, 4 * 5 * 6);
    /// assert_eq!(s.len(), Some(720));
    /// ```
    pub const fn channels_first(n: usize, c: usize, spatial: usize) -> Shape {
        Shape {
            n,
            c,
            spatial,
            layout: Layout::ChannelsFirst,
        }
    }

    /// `[N, spatial, C]` channels-last.
    ///
    /// ```
    /// let s = normkern::Shape::channels_last(2, 4 * 5, 3);
    /// assert_eq!((s.n(), s.spatial(), s.c()), (2, 20, 3));
    /// ```
    pub const fn channels_last(n: usize, spatial: usize, c: usize) -> Shape {
        Shape {
            n,
            c,
            spatial,
            layout: Layout::ChannelsLast,
        }
    }

    /// `[rows, cols]`: `rows` rows of `cols` values, normalized row by row by LayerNorm and
    /// RMSNorm. For ONNX's `axis` (PyTorch's `normalized_shape`), `cols` is the product of
    /// the normalized trailing dims and `rows` the product of the others. (Channels-last with
    /// one position per sample: `n = rows`, `c = cols`, `spatial = 1`.)
    ///
    /// ```
    /// // LayerNorm over the last two dims of [8, 16, 32] (ONNX axis = -2): 8 rows of 512.
    /// let s = normkern::Shape::rows(8, 16 * 32);
    /// assert_eq!((s.n(), s.c()), (8, 512));
    /// ```
    pub const fn rows(rows: usize, cols: usize) -> Shape {
        Shape::channels_last(rows, 1, cols)
    }

    /// `[N, C, H, W]`. An `h * w` that overflows saturates, and is then refused by every
    /// operator ([`crate::ErrorKind::ShapeOverflow`]).
    ///
    /// ```
    /// assert_eq!(normkern::Shape::nchw(1, 64, 112, 112).spatial(), 112 * 112);
    /// assert_eq!(normkern::Shape::nchw(1, 1, usize::MAX, 2).len(), None);
    /// ```
    pub const fn nchw(n: usize, c: usize, h: usize, w: usize) -> Shape {
        Shape::channels_first(n, c, h.saturating_mul(w))
    }

    /// `[N, H, W, C]`.
    ///
    /// ```
    /// let s = normkern::Shape::nhwc(1, 64, 64, 320);
    /// assert_eq!((s.c(), s.layout()), (320, normkern::Layout::ChannelsLast));
    /// ```
    pub const fn nhwc(n: usize, h: usize, w: usize, c: usize) -> Shape {
        Shape::channels_last(n, h.saturating_mul(w), c)
    }

    /// `[N, C, L]`.
    ///
    /// ```
    /// assert_eq!(normkern::Shape::ncl(4, 80, 3000).spatial(), 3000);
    /// ```
    pub const fn ncl(n: usize, c: usize, l: usize) -> Shape {
        Shape::channels_first(n, c, l)
    }

    /// `[N, T, C]`.
    ///
    /// ```
    /// assert_eq!(normkern::Shape::ntc(32, 128, 768).len(), Some(32 * 128 * 768));
    /// ```
    pub const fn ntc(n: usize, t: usize, c: usize) -> Shape {
        Shape::channels_last(n, t, c)
    }

    /// Samples.
    ///
    /// ```
    /// assert_eq!(normkern::Shape::nchw(2, 3, 4, 5).n(), 2);
    /// ```
    pub const fn n(&self) -> usize {
        self.n
    }

    /// Channels (for [`Shape::rows`], values per row).
    ///
    /// ```
    /// assert_eq!(normkern::Shape::rows(4, 768).c(), 768);
    /// ```
    pub const fn c(&self) -> usize {
        self.c
    }

    /// Positions per channel: H·W for images, T (or L) for sequences, 1 for `[N, C]`.
    ///
    /// ```
    /// assert_eq!(normkern::Shape::nhwc(1, 4, 5, 8).spatial(), 20);
    /// ```
    pub const fn spatial(&self) -> usize {
        self.spatial
    }

    /// Where the channels sit in memory.
    ///
    /// ```
    /// use normkern::{Layout, Shape};
    /// assert_eq!(Shape::ncl(1, 2, 3).layout(), Layout::ChannelsFirst);
    /// ```
    pub const fn layout(&self) -> Layout {
        self.layout
    }

    /// Number of values, or `None` if it overflows `usize` (also for a saturated `h * w`). A
    /// shape with a zero dimension holds 0 values whatever the others are.
    ///
    /// ```
    /// use normkern::Shape;
    /// assert_eq!(Shape::nchw(2, 0, 7, 7).len(), Some(0));
    /// assert_eq!(Shape::ncl(usize::MAX, 2, 1).len(), None);
    /// ```
    pub const fn len(&self) -> Option<usize> {
        if self.spatial == usize::MAX {
            return None;
        }
        if self.n == 0 || self.c == 0 || self.spatial == 0 {
            return Some(0);
        }
        match self.n.checked_mul(self.c) {
            Some(nc) => nc.checked_mul(self.spatial),
            None => None,
        }
    }

    /// Whether the tensor holds no values (`false` when the length overflows).
    ///
    /// ```
    /// assert!(normkern::Shape::rows(0, 768).is_empty());
    /// ```
    pub const fn is_empty(&self) -> bool {
        matches!(self.len(), Some(0))
    }
}
