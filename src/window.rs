//! Which of its buffers' values an [`InOut`](crate::io::InOut) may touch.
//!
//! An operator's `InOut` may touch all of them. With `rayon`, BatchNorm training over a
//! channels-first tensor is cut between channels: each thread gets an `InOut` over the whole
//! tensor that may touch only its channels' planes, the values whose offset modulo one
//! sample's length lies in its channels' range. The threads' windows are disjoint, so their
//! writes never meet; every access is checked against the window (a failed check is a bug,
//! and panics). Without `rayon` a window is always the whole buffer and checks nothing.

/// The values `lo..hi` of every `period` values (`period == 0`: all of them).
#[cfg(feature = "rayon")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Window {
    period: usize,
    lo: usize,
    hi: usize,
}

#[cfg(feature = "rayon")]
impl Window {
    /// Every value.
    pub(crate) const ALL: Window = Window {
        period: 0,
        lo: 0,
        hi: 0,
    };

    /// The values `range` of every `period` values.
    pub(crate) fn periodic(period: usize, range: core::ops::Range<usize>) -> Window {
        assert!(range.start <= range.end && range.end <= period);
        Window {
            period,
            lo: range.start,
            hi: range.end,
        }
    }

    pub(crate) fn is_all(self) -> bool {
        self.period == 0
    }

    /// Whether the `len` values at `start` lie in the window.
    pub(crate) fn holds(self, start: usize, len: usize) -> bool {
        if self.is_all() || len == 0 {
            return true;
        }
        let at = start % self.period;
        at >= self.lo && at + len <= self.hi
    }

    /// Whether `count` runs of `len` values, `stride` apart from `start`, lie in the window.
    pub(crate) fn holds_runs(self, start: usize, count: usize, len: usize, stride: usize) -> bool {
        self.is_all() || (0..count).all(|r| self.holds(start + r * stride, len))
    }
}

/// Without `rayon`, every `InOut` may touch all of its values: nothing to check.
#[cfg(not(feature = "rayon"))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Window;

#[cfg(not(feature = "rayon"))]
impl Window {
    pub(crate) const ALL: Window = Window;

    #[inline(always)]
    pub(crate) fn holds(self, _start: usize, _len: usize) -> bool {
        true
    }

    #[inline(always)]
    pub(crate) fn holds_runs(self, _: usize, _: usize, _: usize, _: usize) -> bool {
        true
    }
}

#[cfg(all(test, feature = "rayon"))]
mod tests {
    use super::Window;

    #[test]
    fn periodic_windows_hold_only_their_values() {
        let w = Window::periodic(10, 3..7);
        assert!(w.holds(3, 4) && w.holds(23, 4) && w.holds(45, 2));
        assert!(!w.holds(2, 2) && !w.holds(6, 2) && !w.holds(17, 1) && !w.holds(8, 1));
        assert!(w.holds(9, 0), "an empty access touches nothing");
        assert!(w.holds_runs(4, 5, 3, 10));
        assert!(
            !w.holds_runs(4, 5, 3, 11),
            "the runs drift out of the window"
        );
        assert!(!w.holds_runs(4, 2, 4, 10), "each run overruns it");
        assert!(Window::ALL.holds(usize::MAX - 1, 1) && Window::ALL.holds_runs(5, 3, 7, 2));
    }
}
