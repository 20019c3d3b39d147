//! A logical `[N, C, spatial]` tensor in one of its two memory layouts.

/// `n` samples of `c` channels at `spatial` positions, stored channels-first (`NCHW`: each
/// channel's positions contiguous) or channels-last (`NHWC` / `NTC`: each position's channels
/// contiguous). Rows of `cols` values are channels-last `[rows, 1, cols]` ([`Dims::rows`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dims {
    pub n: usize,
    pub c: usize,
    pub spatial: usize,
    pub channels_last: bool,
}

impl Dims {
    pub fn channels_first(n: usize, c: usize, spatial: usize) -> Dims {
        Dims {
            n,
            c,
            spatial,
            channels_last: false,
        }
    }

    pub fn channels_last(n: usize, spatial: usize, c: usize) -> Dims {
        Dims {
            n,
            c,
            spatial,
            channels_last: true,
        }
    }

    /// `rows` rows of `cols` values: each row is one position's channels.
    pub fn rows(rows: usize, cols: usize) -> Dims {
        Dims::channels_last(rows, 1, cols)
    }

    /// The same tensor in the other layout (`channels_last` set as given).
    pub fn with_layout(&self, channels_last: bool) -> Dims {
        Dims {
            channels_last,
            ..*self
        }
    }

    /// Number of elements: 0 when any dimension is 0 (whatever the others), else the product,
    /// which must fit in `usize`.
    pub fn len(&self) -> usize {
        if self.is_empty() {
            return 0;
        }
        self.n
            .checked_mul(self.c)
            .and_then(|v| v.checked_mul(self.spatial))
            .expect("the tensor's element count fits in usize")
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0 || self.c == 0 || self.spatial == 0
    }

    /// Flat index of logical element (n, c, s).
    pub fn index(&self, n: usize, c: usize, s: usize) -> usize {
        if self.channels_last {
            (n * self.spatial + s) * self.c + c
        } else {
            (n * self.c + c) * self.spatial + s
        }
    }

    /// The logical coordinates `(n, c, s)` of flat index `i`.
    pub fn coords(&self, i: usize) -> (usize, usize, usize) {
        if self.channels_last {
            (
                i / (self.spatial * self.c),
                i % self.c,
                (i / self.c) % self.spatial,
            )
        } else {
            (
                i / (self.c * self.spatial),
                (i / self.spatial) % self.c,
                i % self.spatial,
            )
        }
    }

    /// Calls `f(n, c, s, flat index)` for every element, in logical (n, c, s) order.
    pub fn for_each(&self, mut f: impl FnMut(usize, usize, usize, usize)) {
        if self.is_empty() {
            return;
        }
        for n in 0..self.n {
            for c in 0..self.c {
                for s in 0..self.spatial {
                    f(n, c, s, self.index(n, c, s));
                }
            }
        }
    }

    /// `x` (in `from`'s layout) rearranged into `to`'s layout (same n, c, spatial).
    pub fn relayout<T: Copy>(x: &[T], from: &Dims, to: &Dims) -> Vec<T> {
        assert_eq!(
            (from.n, from.c, from.spatial),
            (to.n, to.c, to.spatial),
            "relayout keeps the dimensions"
        );
        assert_eq!(x.len(), from.len(), "x holds the tensor");
        let mut out = x.to_vec();
        from.for_each(|n, c, s, i| out[to.index(n, c, s)] = x[i]);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::Dims;

    #[test]
    fn coords_invert_index() {
        for dims in [Dims::channels_first(2, 3, 5), Dims::channels_last(2, 5, 3)] {
            let mut seen = vec![false; dims.len()];
            dims.for_each(|n, c, s, i| {
                assert_eq!(dims.coords(i), (n, c, s));
                seen[i] = true;
            });
            assert!(seen.iter().all(|&v| v));
        }
    }

    #[test]
    fn relayout_round_trips() {
        let cf = Dims::channels_first(2, 3, 4);
        let cl = cf.with_layout(true);
        let x: Vec<f32> = (0..24).map(|i| i as f32).collect();
        let y = Dims::relayout(&x, &cf, &cl);
        assert_eq!(y[cl.index(1, 2, 3)], x[cf.index(1, 2, 3)]);
        assert_eq!(Dims::relayout(&y, &cl, &cf), x);
    }

    #[test]
    fn empty_dims_visit_nothing() {
        let dims = Dims::channels_first(usize::MAX, usize::MAX, 0);
        assert_eq!(dims.len(), 0);
        dims.for_each(|_, _, _, _| panic!("no element"));
    }
}
