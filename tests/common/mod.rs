//! Shared by the modules of `tests/suite/` (the property suites, the regression tests and the
//! conformance runner): proptest strategies for shapes and signals ([`strategies`]),
//! the tolerance checks and run helpers ([`check`]), the harness that runs every operator and
//! compares it with the float64 reference ([`ops`]), element types and activations as the tests
//! handle them ([`engine`]), and the conversion of normkern's types to the reference's
//! ([`adapt`]). The reference itself is the `normkern-reference` crate
//! (`reference/`), shared with the fuzz oracle and the benchmarks.
//!
//! Bulk data is not generated element by element by proptest (a 50k-element `Vec<f32>` value
//! tree is slow to build and useless to shrink): proptest picks the *structure* of a case
//! (shape, pattern, magnitude, offset, eps, affine, seed), which shrinks well, and [`Rng`]
//! expands the seed into values.

// Each test binary uses a different subset of the helpers.
#![allow(dead_code)]

pub mod adapt;
pub mod check;
pub mod engine;
pub mod ops;
pub mod strategies;

/// Largest magnitude any generated input reaches: the crate promises no overflow up to here.
pub const MAX_ABS: f64 = 1e18;

/// SplitMix64: small, deterministic, good enough to expand a proptest seed into data.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5851_f42d_4c95_7f2d)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `[lo, hi)`.
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Approximately standard normal (Irwin-Hall of 4, rescaled): bounded tails, |z| < 3.5.
    pub fn normal(&mut self) -> f64 {
        let s: f64 = (0..4).map(|_| self.unit()).sum();
        (s - 2.0) * 3f64.sqrt()
    }
}

/// The distribution of the O(1) part of a signal, before magnitude and offset are applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pattern {
    /// Uniform in [-1, 1).
    Uniform,
    /// Bounded normal-like.
    Normal,
    /// Small integers in -3..=3: many ties, exact sums.
    SmallInts,
    /// Mostly zero with rare spikes up to ±10: heavy-tailed, large |y| at the spikes.
    Sparse,
    /// A sawtooth `i mod 17`, all positive: a structured, skewed signal.
    Ramp,
    /// Every value the same.
    Constant,
}

impl Pattern {
    pub const ALL: [Pattern; 6] = [
        Pattern::Uniform,
        Pattern::Normal,
        Pattern::SmallInts,
        Pattern::Sparse,
        Pattern::Ramp,
        Pattern::Constant,
    ];
}

/// `offset + magnitude * pattern`, rounded to f32 and clamped to ±[`MAX_ABS`].
#[derive(Clone, Copy, Debug)]
pub struct Signal {
    pub pattern: Pattern,
    pub magnitude: f64,
    pub offset: f64,
    pub seed: u64,
}

impl Signal {
    pub fn sample(&self, len: usize) -> Vec<f32> {
        let mut rng = Rng::new(self.seed);
        let constant = rng.range(-1.0, 1.0);
        (0..len)
            .map(|i| {
                let u = match self.pattern {
                    Pattern::Uniform => rng.range(-1.0, 1.0),
                    Pattern::Normal => rng.normal(),
                    Pattern::SmallInts => rng.below(7) as f64 - 3.0,
                    Pattern::Sparse => {
                        if rng.below(64) == 0 {
                            rng.range(-10.0, 10.0)
                        } else {
                            0.0
                        }
                    }
                    Pattern::Ramp => (i % 17) as f64,
                    Pattern::Constant => constant,
                };
                to_f32(self.offset + self.magnitude * u)
            })
            .collect()
    }
}

/// Rounds to f32, clamped to the promised input range.
pub fn to_f32(v: f64) -> f32 {
    v.clamp(-MAX_ABS, MAX_ABS) as f32
}

/// Optional per-channel (or per-element) gamma and beta.
#[derive(Clone, Copy, Debug)]
pub struct AffineSpec {
    pub gamma: bool,
    pub beta: bool,
    pub seed: u64,
}

impl AffineSpec {
    pub const NONE: AffineSpec = AffineSpec {
        gamma: false,
        beta: false,
        seed: 0,
    };

    /// `(gamma, beta)` of `len` values each, when present. Gamma in [-2, 2) (sign flips
    /// included), beta in [-3, 3).
    pub fn make(&self, len: usize) -> (Option<Vec<f32>>, Option<Vec<f32>>) {
        let mut rng = Rng::new(self.seed ^ 0xa5a5);
        let gamma: Vec<f32> = (0..len).map(|_| rng.range(-2.0, 2.0) as f32).collect();
        let beta: Vec<f32> = (0..len).map(|_| rng.range(-3.0, 3.0) as f32).collect();
        (self.gamma.then_some(gamma), self.beta.then_some(beta))
    }
}
