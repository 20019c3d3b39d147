//! Compensated sums and the two-pass statistics of one group.

/// Neumaier-compensated sum: the reference must not lose digits summing 50k values.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sum {
    sum: f64,
    carry: f64,
}

impl Sum {
    pub fn add(&mut self, v: f64) {
        let t = self.sum + v;
        if self.sum.abs() >= v.abs() {
            self.carry += (self.sum - t) + v;
        } else {
            self.carry += (v - t) + self.sum;
        }
        self.sum = t;
    }

    /// The compensated sum; an infinite or NaN running sum is the answer as it stands (the
    /// carry of `inf - inf` would turn `+inf` into NaN).
    pub fn value(&self) -> f64 {
        if self.sum.is_finite() {
            self.sum + self.carry
        } else {
            self.sum
        }
    }
}

/// Two-pass statistics of one group.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stats {
    pub count: usize,
    pub mean: f64,
    /// Biased: sum of squared deviations / count.
    pub var: f64,
    /// Mean of squares (RMSNorm).
    pub mean_square: f64,
}

impl Stats {
    /// The statistics of `values` (NaN for an empty group): the mean from compensated sums of
    /// the offsets from the first value, the variance from a second pass over the deviations
    /// from that mean.
    pub fn of(values: &[f32]) -> Stats {
        let count = values.len();
        if count == 0 {
            return Stats {
                count,
                mean: f64::NAN,
                var: f64::NAN,
                mean_square: f64::NAN,
            };
        }
        let k = f64::from(values[0]);
        let (mut shifted, mut squares) = (Sum::default(), Sum::default());
        for &v in values {
            let v = f64::from(v);
            shifted.add(v - k);
            squares.add(v * v);
        }
        let mean = k + shifted.value() / count as f64;
        let mut dev = Sum::default();
        for &v in values {
            let d = f64::from(v) - mean;
            dev.add(d * d);
        }
        Stats {
            count,
            mean,
            var: dev.value() / count as f64,
            mean_square: squares.value() / count as f64,
        }
    }

    pub fn std(&self) -> f64 {
        self.var.sqrt()
    }

    /// Unbiased variance (NaN below two values).
    pub fn sample_var(&self) -> f64 {
        if self.count < 2 {
            f64::NAN
        } else {
            self.var * self.count as f64 / (self.count - 1) as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Stats, Sum};

    #[test]
    fn compensation_keeps_small_terms() {
        let mut s = Sum::default();
        for v in [1e16, 1.0, -1e16, 1.0] {
            s.add(v);
        }
        assert_eq!(s.value(), 2.0);
        s.add(f64::INFINITY);
        assert_eq!(s.value(), f64::INFINITY);
    }

    #[test]
    fn stats_of_a_large_offset() {
        let st = Stats::of(&[1e7, 1e7 + 1.0, 1e7 + 2.0, 1e7 + 3.0]);
        assert_eq!((st.count, st.mean, st.var), (4, 1e7 + 1.5, 1.25));
        assert_eq!(st.sample_var(), 5.0 / 3.0);
        assert!(Stats::of(&[]).mean.is_nan());
        assert!(Stats::of(&[2.0]).sample_var().is_nan());
    }
}
