//! Proptest strategies: shapes that hit every kernel tail, signals across the f32 range, eps,
//! affine parameters, and the proptest configuration.

use super::ops::{Case, Op, Poison};
use super::{AffineSpec, Pattern, Signal};
use normkern::Momentum;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

/// Elements per generated case, at most (keeps the suite fast: every case runs on every path).
pub const MAX_ELEMENTS: usize = 50_000;

/// Cases per property: `PROPTEST_CASES` if set (for long soak runs), else `default`. The
/// generator seed is fixed, so a run is reproducible, unless `PROPTEST_RNG_SEED` is set
/// (explore with a new seed per soak run).
pub fn config(default: u32) -> Config {
    let base = Config::default(); // reads the PROPTEST_* environment variables
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    let rng_seed = match std::env::var_os("PROPTEST_RNG_SEED") {
        Some(_) => base.rng_seed,
        None => RngSeed::Fixed(0x6e6f_726d_6b65_726e), // "normkern"
    };
    Config {
        cases,
        rng_seed,
        // Enough to minimize a failure; bounded so a failing suite still finishes in minutes.
        max_shrink_iters: 256,
        // Minimized failures become tests in tests/suite/regressions.rs, by hand.
        failure_persistence: None,
        ..base
    }
}

/// Row lengths 1..=4100, weighted towards the lengths where vector loops change: around
/// multiples of 8, 16, 32 and 64 (±1), the unroll widths, and very short rows.
pub fn row_len() -> impl Strategy<Value = usize> + Clone {
    prop_oneof![
        3 => 1usize..=40,
        4 => (1usize..=64, prop::sample::select(vec![8usize, 16, 32, 64]), -1isize..=1)
            .prop_map(|(k, m, d)| ((k * m) as isize + d).clamp(1, 4100) as usize),
        1 => prop::sample::select(vec![127usize, 128, 129, 255, 256, 257, 1023, 1024, 1025, 4095, 4096, 4097, 4100]),
        2 => 1usize..=4100,
    ]
}

/// Channel counts: 1, odd, small, large, and around the column engine's windows (128
/// columns without `std`, 1024 with it) and vector widths.
pub fn channels() -> impl Strategy<Value = usize> + Clone {
    prop_oneof![
        2 => Just(1usize),
        3 => (0usize..32).prop_map(|k| 2 * k + 1),
        3 => 2usize..=40,
        2 => prop::sample::select(vec![64usize, 96, 127, 128, 129, 255, 256, 300]),
        1 => prop::sample::select(vec![1023usize, 1024, 1025, 1100, 2049]),
    ]
}

/// `(n, c, spatial)` with at most [`MAX_ELEMENTS`] elements: the spatial extent is cut down
/// when the product would be too large.
pub fn ncs() -> impl Strategy<Value = (usize, usize, usize)> + Clone {
    (1usize..=3, channels(), row_len()).prop_map(|(n, c, s)| {
        let s = s.min(MAX_ELEMENTS / (n * c)).max(1);
        (n, c, s)
    })
}

/// Magnitudes log-uniform over 1e-20..=1e18, plus the extremes and 1 exactly.
pub fn magnitude() -> impl Strategy<Value = f64> + Clone {
    prop_oneof![
        3 => (-20.0f64..=18.0).prop_map(|e| 10f64.powf(e)),
        1 => prop::sample::select(vec![1e-20, 1e-19, 1e-10, 1.0, 1e10, 1e18]),
    ]
}

/// Common offsets: none, up to ±1e5, or exactly ±1e5.
pub fn offset() -> impl Strategy<Value = f64> + Clone {
    prop_oneof![
        2 => Just(0.0),
        2 => -1e5f64..1e5,
        1 => prop::sample::select(vec![1e5, -1e5, 1.0, -3.0]),
    ]
}

pub fn pattern() -> impl Strategy<Value = Pattern> + Clone {
    prop_oneof![
        3 => Just(Pattern::Uniform),
        3 => Just(Pattern::Normal),
        2 => Just(Pattern::SmallInts),
        2 => Just(Pattern::Sparse),
        1 => Just(Pattern::Ramp),
        1 => Just(Pattern::Constant),
    ]
}

pub fn signal() -> impl Strategy<Value = Signal> + Clone {
    (pattern(), magnitude(), offset(), any::<u64>()).prop_map(
        |(pattern, magnitude, offset, seed)| Signal {
            pattern,
            magnitude,
            offset,
            seed,
        },
    )
}

/// The eps values the issue names, 0 included.
pub fn eps() -> impl Strategy<Value = f32> + Clone {
    prop::sample::select(vec![1e-5f32, 1e-3, 0.1, 0.0])
}

pub fn affine() -> impl Strategy<Value = AffineSpec> + Clone {
    (any::<bool>(), any::<bool>(), any::<u64>()).prop_map(|(gamma, beta, seed)| AffineSpec {
        gamma,
        beta,
        seed,
    })
}

/// The divisors of `c`, smallest first.
pub fn divisors(c: usize) -> Vec<usize> {
    (1..=c).filter(|&g| c.is_multiple_of(g)).collect()
}

pub fn momentum() -> impl Strategy<Value = Momentum> + Clone {
    let weight = prop_oneof![
        2 => prop::sample::select(vec![0.0f32, 0.1, 0.5, 0.9, 1.0]),
        1 => 0.0f32..=1.0,
    ];
    prop_oneof![
        weight.clone().prop_map(Momentum::PyTorch),
        weight.prop_map(Momentum::Onnx),
        (1u64..=1000).prop_map(|batches| Momentum::CumulativeAverage { batches }),
    ]
}

/// A case for `op`: the row forms get long rows (`c` is the row length, up to 4100), the
/// others `(n, c, spatial)` from [`ncs`].
pub fn case(op: Op) -> impl Strategy<Value = Case> {
    let dims = match op {
        Op::LayerNorm | Op::RmsNorm => (1usize..=8, row_len())
            .prop_map(|(rows, cols)| (1, cols, rows.min(MAX_ELEMENTS / cols).max(1)))
            .boxed(),
        Op::LayerNormChannels | Op::RmsNormChannels => (1usize..=3, channels(), row_len())
            .prop_map(|(n, c, s)| (n, c, s.min(MAX_ELEMENTS / (n * c)).max(1)))
            .boxed(),
        // Training needs two values per channel.
        Op::BatchNormTraining => ncs()
            .prop_map(|(n, c, s)| (n, c, if n * s < 2 { 2 } else { s }))
            .boxed(),
        _ => ncs().boxed(),
    };
    let momentum = prop::option::weighted(0.8, momentum());
    (
        dims,
        signal(),
        eps(),
        affine(),
        any::<usize>(),
        any::<bool>(),
        momentum,
        any::<u64>(),
    )
        .prop_map(
            |((n, c, spatial), signal, eps, affine, pick, saved, momentum, stats_seed)| {
                let divs = divisors(c);
                Case {
                    n,
                    c,
                    spatial,
                    signal,
                    eps,
                    affine,
                    groups: divs[pick % divs.len()],
                    saved,
                    momentum,
                    stats_seed,
                }
            },
        )
}

/// NaN or ±inf over one or two random elements.
pub fn poison() -> impl Strategy<Value = Poison> {
    (
        prop::sample::select(vec![f32::NAN, f32::INFINITY, f32::NEG_INFINITY]),
        1usize..=2,
        any::<u64>(),
    )
        .prop_map(|(value, count, seed)| Poison { value, count, seed })
}
