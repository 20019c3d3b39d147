//! The error bounds the f32 kernels must meet against the float64 reference, and the numeric
//! domain where they hold. The values and statistics come from the `normkern-reference` crate
//! (`reference/`, the definitions the test suite checks against too); what is the oracle's own
//! is how far from them a result may be.
//!
//! # Tolerances
//!
//! An output is `y = t + beta` with the normalized term `t = (x - mean) * s * gamma` (`s` the
//! inverse spread). The kernels take a group's statistics from one pass of f32 sums of
//! `d = x - pivot` and `d²` around a pivot near the mean: the mean of a sample rounded to f32
//! (a row's first 256 values; 256 values spread over a larger group; a channels-last column's
//! mean over up to 256 rows spread down it). Each accumulator lane sums at most 64 terms before
//! it is folded into an f64 total (every 256 vectors along a row or group, every 64 rows down
//! the columns; a row of at most 256 values is summed wholly in f32). The sums are accepted when
//! the pivot lies within a quarter of a standard deviation of the mean (and no square
//! overflowed or went subnormal); otherwise a corrected two-pass runs over the group (for
//! channels-last data, over each cached block of at most 64 rows, blocks merged in f64),
//! centered on the first pass's mean rounded to f32, with a power-of-two scale where squares
//! would overflow or go subnormal. Every output is then one subtraction and one fused
//! multiply-add, `(x - pivot) * scale + shift`. In f32 (unit roundoff u = 6e-8) that makes
//! three kinds of error:
//!
//! * the spread: a partial sum of at most 64 squares is within 64u relative, and removing the
//!   offset (at most 1/17 of the squares when the one pass is accepted, about nothing after the
//!   second pass) grows that by at most 17/16: the variance is within ~70u = 4e-6 in the worst
//!   case, a few u typically. `s` inherits half of it, and rounding `t`, forming the shift and
//!   adding `beta` add a few u. [`REL`] = 1e-4 of `|t| + |beta|` bounds this with room to spare.
//! * the centring: the mean's error (the partial sums of `d` round at u of their size, which
//!   the quarter-sigma pivot keeps within ~8u of the standard deviation) and the rounding of the
//!   shift `beta - (mean - pivot) * scale` reach every output of a group as an absolute error of
//!   some u times `|gamma|`, whatever its `t`; rounding `x - pivot` adds u·|x - pivot|·|s gamma|.
//!   [`DEV`] = 1e-5 per `sqrt(count)·|gamma|` bounds this for a pivot anywhere among the group's
//!   values (every value lies within `sqrt(count)·sigma` of the mean), so the bound does not
//!   depend on how the kernels pick theirs; with theirs near the mean it is generous.
//! * subnormal underflow of tiny values: [`ABS`] = 1e-30 absolute.
//!
//! These bounds hold only on the *numeric domain* ([`in_domain`]): finite values of magnitude
//! 0 or 1e-20..1e18, gamma/beta/running statistics of magnitude up to 1e6, eps in 1e-6..1e10.
//! Outside it (eps = 0 on constant groups, values near f32::MAX whose squares overflow,
//! subnormal-dominated groups) results are legitimately ill-conditioned and only the
//! structural properties are checked.

use crate::common::engine::{self, Act};
use normkern_reference::{Dims, Expected, Grouping, Stats};

/// Relative tolerance on the normalized term and the shift (see the module docs).
pub const REL: f64 = 1e-4;
/// Tolerance per sqrt(count)·|gamma| for the centring (see the module docs).
pub const DEV: f64 = 1e-5;
/// Absolute floor (subnormal results).
pub const ABS: f64 = 1e-30;

/// Data values the oracle can judge: finite, zero or of magnitude 1e-20..=1e18.
pub fn in_domain(v: f32) -> bool {
    let a = v.abs();
    a == 0.0 || (1e-20..=1e18).contains(&a)
}

/// Parameters (gamma, beta, running statistics, weights) the oracle can judge.
pub fn param_in_domain(v: f32) -> bool {
    in_domain(v) && v.abs() <= 1e6
}

pub fn all_in_domain(x: &[f32]) -> bool {
    x.iter().all(|&v| in_domain(v))
}

pub fn params_in_domain(p: Option<&[f32]>) -> bool {
    p.is_none_or(|p| p.iter().all(|&v| param_in_domain(v)))
}

pub fn eps_in_domain(eps: f32) -> bool {
    (1e-6..=1e10).contains(&eps)
}

/// An expected value and how far from it the f32 result may be. `None`: not checked.
pub type Expect = Option<(f64, f64)>;

/// Every output of a normalization as the reference gives it (`want`: the groups of `grouping`
/// over a tensor of `dims`, gamma per channel), each with its tolerance
/// `REL · (|t| + |beta|) + DEV · sqrt(count) · |gamma| + ABS`.
pub fn outputs(
    want: &Expected,
    dims: &Dims,
    grouping: Grouping,
    gamma: Option<&[f32]>,
) -> Vec<Expect> {
    let mut y = vec![None; want.y.len()];
    dims.for_each(|n, c, s, i| {
        let count = want.stats[grouping.group(dims, n, c, s)].count as f64;
        let gm = gamma.map_or(1.0, |g| f64::from(g[c]).abs());
        // The reference's magnitude is |gamma| (1 + |x̂|) + |beta| = |gamma| + |t| + |beta|.
        let tol = REL * (want.mag[i] - gm) + DEV * gm * count.sqrt() + ABS;
        y[i] = Some((want.y[i], tol));
    });
    y
}

/// Expected saved mean of each group (`None` for empty groups, which are not written).
pub fn saved_mean(stats: &[Stats]) -> Vec<Expect> {
    stats
        .iter()
        .map(|st| {
            (st.count > 0).then(|| {
                let n = st.count as f64;
                let tol = DEV * (st.mean.abs() + n.sqrt() * st.std()) + 1e-38;
                (st.mean, tol)
            })
        })
        .collect()
}

/// Expected saved `1 / sqrt(var + eps)` of each group.
pub fn saved_inv_std(stats: &[Stats], eps: f32) -> Vec<Expect> {
    inverse_roots(stats, eps, |st| st.var)
}

/// Expected `1 / sqrt(mean(x²) + eps)` of each group (RMSNorm's inverse root mean square).
pub fn saved_inv_rms(stats: &[Stats], eps: f32) -> Vec<Expect> {
    inverse_roots(stats, eps, |st| st.mean_square)
}

/// `1 / sqrt(of(group) + eps)` of each non-empty group, within [`REL`]: the spread or mean
/// square is within ~70u relative (see the module docs), its inverse root within half that.
fn inverse_roots(stats: &[Stats], eps: f32, of: impl Fn(&Stats) -> f64) -> Vec<Expect> {
    stats
        .iter()
        .map(|st| {
            (st.count > 0).then(|| {
                let inv = 1.0 / (of(st) + f64::from(eps)).sqrt();
                (inv, REL * inv)
            })
        })
        .collect()
}

/// The outputs of a normalization followed by `act`, from the normalization's ([`outputs`]):
/// the exact activation of each expected value, within the normalization's tolerance
/// stretched by the activation's slope, plus the activation's own error (its stated f32 ulps,
/// `tests/common/engine.rs`) at the largest magnitude the result can reach.
pub fn activated(y: Vec<Expect>, act: Act) -> Vec<Expect> {
    y.into_iter()
        .map(|e| {
            e.map(|(value, tol)| {
                let want = act.exact(value);
                let tol = act.lipschitz() * tol;
                let own = act.max_ulps() as f64 * engine::ulp::<f32>(want.abs() + tol);
                (want, tol + own)
            })
        })
        .collect()
}
