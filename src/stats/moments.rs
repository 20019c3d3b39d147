//! Mergeable accumulators of count, mean and second moment: the public [`Moments`] (f32,
//! around a pivot) and the f64 one that merges the blocks and columns of a channels-last group.

/// Count, mean and variance of a stream of values, kept around a pivot.
///
/// Values are accumulated as offsets from a pivot (the first value seen), so a large common
/// offset (mean 1e5, std 1) costs no digits: `x - pivot` is exact for nearby values, and the
/// mean is held as `pivot + offset`. The variance is kept as `M2 / count`, which cannot overflow
/// for |x| up to about 1e19, where `M2` itself would.
///
/// Accumulators merge with Chan's formula, in any order and any split: this is how a channel's
/// reduction can be split across threads or devices (synchronized BatchNorm) and joined exactly.
///
/// ```
/// use normkern::Moments;
/// let data = [1.0e5f32, 1.0e5 + 1.0, 1.0e5 + 2.0, 1.0e5 + 3.0];
/// let mut left = Moments::of_slice(&data[..1]);
/// left.merge(&Moments::of_slice(&data[1..]));
/// assert_eq!(left.count(), 4);
/// assert_eq!(left.variance(), Some(1.25));
/// assert_eq!(left.sample_variance(), Some(5.0 / 3.0));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Moments {
    count: u64,
    pivot: f32,
    /// Mean of `x - pivot`.
    offset: f32,
    /// `M2 / count`: the biased variance.
    var: f32,
    /// What `push` rounded off `offset` and `var` and has yet to add back (compensated
    /// summation: a long stream's updates fall below half an ulp, and would otherwise be lost
    /// unevenly and bias the variance). Zero outside `push`; every reader adds it in.
    carry: [f32; 2],
}

/// `a + b` rounded, and its exact rounding error (Knuth's TwoSum); no error term once the sum
/// is not finite (it would be NaN).
pub(crate) fn two_sum(a: f32, b: f32) -> (f32, f32) {
    let sum = a + b;
    if !sum.is_finite() {
        return (sum, 0.0);
    }
    let b_part = sum - a;
    (sum, (a - (sum - b_part)) + (b - b_part))
}

/// The pivot a group takes from one of its values: the value itself, or 0 when it is not finite
/// (an infinite pivot would turn the group's infinite mean into `inf - inf = NaN`).
pub(crate) fn pivot_from(x: f32) -> f32 {
    if x.is_finite() { x } else { 0.0 }
}

impl Default for Moments {
    fn default() -> Self {
        Moments::new()
    }
}

impl Moments {
    /// No values yet.
    ///
    /// ```
    /// let m = normkern::Moments::new();
    /// assert_eq!((m.count(), m.mean()), (0, None));
    /// ```
    pub const fn new() -> Moments {
        Moments {
            count: 0,
            pivot: 0.0,
            offset: 0.0,
            var: 0.0,
            carry: [0.0; 2],
        }
    }

    pub(crate) const fn with_pivot(pivot: f32) -> Moments {
        Moments {
            count: 0,
            pivot,
            offset: 0.0,
            var: 0.0,
            carry: [0.0; 2],
        }
    }

    pub(crate) const fn from_parts(count: u64, pivot: f32, offset: f32, var: f32) -> Moments {
        Moments {
            count,
            pivot,
            offset,
            var,
            carry: [0.0; 2],
        }
    }

    /// Adds one value (a scalar Welford update, compensated so long streams do not drift).
    ///
    /// ```
    /// let mut m = normkern::Moments::new();
    /// for x in [2.0, 4.0, 6.0] {
    ///     m.push(x);
    /// }
    /// assert_eq!((m.mean(), m.variance()), (Some(4.0), Some(8.0 / 3.0)));
    /// ```
    pub fn push(&mut self, x: f32) {
        if self.count == 0 {
            self.pivot = pivot_from(x);
        }
        self.count += 1;
        let rn = 1.0 / self.count as f32;
        let z = x - self.pivot;
        let d = z - self.mean_offset();
        (self.offset, self.carry[0]) = two_sum(self.offset, d * rn + self.carry[0]);
        let e = z - self.mean_offset();
        let step = (d * e - self.var_raw()) * rn;
        (self.var, self.carry[1]) = two_sum(self.var, step + self.carry[1]);
    }

    /// The same moments with the carries of `push` added in.
    fn settled(&self) -> Moments {
        Moments::from_parts(self.count, self.pivot, self.mean_offset(), self.var_raw())
    }

    /// Adds everything `other` has seen (Chan's parallel formula).
    ///
    /// ```
    /// use normkern::Moments;
    /// let (mut a, b) = (Moments::of_slice(&[1.0, 2.0]), Moments::of_slice(&[3.0, 4.0]));
    /// a.merge(&b);
    /// assert_eq!((a.count(), a.mean()), (4, Some(2.5)));
    /// ```
    pub fn merge(&mut self, other: &Moments) {
        if other.count == 0 {
            return;
        }
        if self.count == 0 {
            *self = *other;
            return;
        }
        let other = other.settled();
        *self = self.settled();
        let count = self.count.saturating_add(other.count);
        let wa = self.count as f32 / count as f32;
        let wb = other.count as f32 / count as f32;
        // Other's mean as an offset from our pivot: exact when the pivots are close.
        let delta = ((other.pivot - self.pivot) + other.offset) - self.offset;
        self.offset += delta * wb;
        // wa·va + wb·vb + wa·wb·δ², with δ² split so it cannot overflow before the weights apply.
        self.var = wa * self.var + wb * other.var + (delta * wa) * (delta * wb);
        self.count = count;
    }

    /// How many values were accumulated.
    ///
    /// ```
    /// assert_eq!(normkern::Moments::of_slice(&[1.0; 5]).count(), 5);
    /// ```
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The mean, or `None` before any value.
    ///
    /// ```
    /// assert_eq!(normkern::Moments::of_slice(&[1.0, 3.0]).mean(), Some(2.0));
    /// ```
    pub fn mean(&self) -> Option<f32> {
        (self.count > 0).then_some(self.pivot + self.mean_offset())
    }

    /// The biased (population) variance `M2 / n`, or `None` before any value.
    ///
    /// ```
    /// assert_eq!(normkern::Moments::of_slice(&[1.0, 3.0]).variance(), Some(1.0));
    /// ```
    pub fn variance(&self) -> Option<f32> {
        (self.count > 0).then_some(self.var_raw())
    }

    /// The unbiased (sample) variance `M2 / (n - 1)`, or `None` with fewer than two values.
    ///
    /// ```
    /// assert_eq!(normkern::Moments::of_slice(&[1.0, 3.0]).sample_variance(), Some(2.0));
    /// assert_eq!(normkern::Moments::of_slice(&[1.0]).sample_variance(), None);
    /// ```
    pub fn sample_variance(&self) -> Option<f32> {
        // var / ((n - 1) / n): the same as var * n / (n - 1) without overflowing var * n.
        (self.count > 1).then(|| self.var_raw() / ((self.count - 1) as f32 / self.count as f32))
    }

    /// The value offsets are taken from; with [`Moments::mean_offset`] it gives the mean without
    /// rounding it to one `f32`, for normalizing as `(x - pivot) - mean_offset`.
    ///
    /// ```
    /// let m = normkern::Moments::of_slice(&[1.0e5, 1.0e5 + 2.0]);
    /// assert_eq!(m.pivot() + m.mean_offset(), 1.0e5 + 1.0);
    /// ```
    pub fn pivot(&self) -> f32 {
        self.pivot
    }

    /// The mean minus the pivot.
    ///
    /// ```
    /// let m = normkern::Moments::of_slice(&[10.0, 12.0]);
    /// assert_eq!(m.mean_offset(), m.mean().unwrap() - m.pivot());
    /// ```
    pub fn mean_offset(&self) -> f32 {
        self.offset + self.carry[0]
    }

    /// `M2 / n` with no check of the count (0 when empty).
    pub(crate) fn var_raw(&self) -> f32 {
        self.var + self.carry[1]
    }
}

/// Count, mean and M2 in f64, for merging many partial results (the blocks and columns of a
/// channels-last group): f64 keeps the merges exact and holds variances beyond f32's range.
#[derive(Clone, Copy, Debug)]
pub(crate) struct WideMoments {
    count: f64,
    mean: f64,
    m2: f64,
}

impl WideMoments {
    pub(crate) const EMPTY: WideMoments = WideMoments {
        count: 0.0,
        mean: 0.0,
        m2: 0.0,
    };

    /// Chan's merge of `count` values with this `mean` and `m2`.
    pub(crate) fn merge(&mut self, count: f64, mean: f64, m2: f64) {
        if count == 0.0 {
            return;
        }
        if self.count == 0.0 {
            *self = WideMoments { count, mean, m2 };
            return;
        }
        let total = self.count + count;
        if !(self.mean.is_finite() && mean.is_finite()) {
            // inf + finite stays inf, inf - inf is NaN: as the mean of the values would be.
            *self = WideMoments {
                count: total,
                mean: self.mean + mean,
                m2: f64::NAN,
            };
            return;
        }
        let delta = mean - self.mean;
        self.mean += delta * (count / total);
        self.m2 += m2 + delta * delta * (self.count * count / total);
        self.count = total;
    }

    pub(crate) fn stats(&self) -> super::GroupStats {
        let var = if self.count > 0.0 {
            self.m2 / self.count
        } else {
            0.0
        };
        super::GroupStats::from_wide(self.count as u64, self.mean, var)
    }
}
