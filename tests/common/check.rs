//! Tolerances, comparisons against the reference, and the loop over every execution path.
//!
//! # Tolerances, from first principles
//!
//! f32 rounds with unit roundoff `u = 2⁻²⁴ ≈ 6e-8`. A normalized value is
//! `y = (x - mean) · r · gamma + beta` with `r = 1 / sqrt(var + eps)`. The crate takes each
//! group's mean and variance from one pass of f32 sums of `d = x - pivot` and `d²` around a pivot
//! near the mean (a sample's mean, rounded to f32), each accumulator lane summing at most 64
//! terms before it is folded into a total: a compensated f32 total (TwoSum, about twice f32's
//! precision) on the row and plane paths and in the compact scalar set, an f64 total in the
//! channels-last engine of the SIMD sets (`docs/NUMERICS.md`). It keeps them only when the
//! pivot lies within a quarter of a standard deviation of the mean, and otherwise takes a
//! corrected second pass over the group, centered on the first pass's mean rounded to f32
//! (with power-of-two scaling where squares would overflow or go subnormal). Then it applies
//! one subtraction and one or two fused multiply-adds per element (rows: the normalized value
//! `(x - pivot) · r - offset · r`, then `gamma · that + beta`). The f32 result therefore differs
//! from the exact one by
//!
//! - `|δmean| · r`: the mean's error relative to the spread. The partial sums of `d` round at
//!   `u` of their size, which the quarter-sigma bound on the pivot keeps near the spread: within
//!   `8u` of the standard deviation (the kernels' own account, in `src/stats/accept.rs`), a few
//!   `u` typically;
//! - `|x̂| · |δr / r|` with `δr / r = δvar / (2 (var + eps))`: the squares' partial sums of at
//!   most 64 terms round within 64u relative at worst (a few `u` as a random walk), grown by at
//!   most 17/16 when the offset is removed;
//! - `~3u · (|gamma x̂| + |beta|)` for forming `(x - pivot) - mean`, the products and the sum
//!   (and on rows `u/8 · |gamma|` for `offset · r`, at most a quarter, rounded once).
//!
//! Altogether `|y - y_ref| ≤ T · (|gamma| (1 + |x̂|) + |beta|)` with `T` = [`Y_TOL`] `= 4e-6`,
//! about 64u: "a few e-6 relative to an O(1) output". The bound does not grow with the row
//! length (no f32 accumulator sums more than 64 terms before a compensated or f64 total takes
//! over), so it is the same for a row of 3 and of 4100 values. It is *not* relative to `|y|` alone: a value next to the
//! mean has `x̂ ≈ 0` but still carries the mean's absolute error.
//!
//! Statistics the operators report: the mean within `T · (|mean| + std)` (its rounding to f32
//! plus the accumulation error relative to the spread), the inverse std within `T` relative.
//! BatchNorm inference has no accumulation at all, so there `mag = |gamma x̂| + |beta|` (no
//! `1 +`): only a handful of roundings relative to the terms themselves.
//!
//! Every f32 operation is `fl(a op b) = (a op b)(1 + δ) + η` with `|δ| ≤ u` and, when the
//! result lands among the subnormals, `|η| ≤ 2⁻¹⁵⁰`: results that are themselves subnormal
//! (running variances of 1e-20-sized data) get an absolute [`SUBNORMAL_SLACK`] of a few of those.
//!
//! A failing check is never fixed by widening these: minimize it (proptest shrinks), find the
//! cause, fix or report it.

use super::engine::Elem;
use normkern::{InOut, Isa, Kernels, NormError, Schedule};
use proptest::test_runner::TestCaseError;
use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

/// f32 unit roundoff, 2⁻²⁴.
pub const U: f64 = 5.960_464_477_539_063e-8;

/// Error bound for normalized outputs and reported statistics, in units of the magnitude of
/// the quantities involved (see the module docs): 64u ≈ 3.8e-6.
pub const Y_TOL: f64 = 64.0 * U;

/// Absolute error allowed on top of the relative bound: four subnormal half-ulps (2⁻¹⁵⁰ each).
pub const SUBNORMAL_SLACK: f64 = 4.0 * 7.006_492_321_624_085e-46;

/// Few-rounding results (BatchNorm's folded scale and shift, folded weights): 16u.
pub const FEW_ROUNDINGS: f64 = 16.0 * U;

/// A finite value no operator produces from our inputs: pre-fills outputs so that a missed
/// write shows up, and marks buffers that must stay untouched on error.
pub const SENTINEL: f32 = -1.234_567e29;

/// Whether the output is a separate buffer or the input overwritten.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    OutOfPlace,
    InPlace,
}

/// One execution path: an instruction set and a buffer mode.
#[derive(Clone, Copy, Debug)]
pub struct Path {
    pub kernels: Kernels,
    pub mode: Mode,
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = match self.mode {
            Mode::OutOfPlace => "out-of-place",
            Mode::InPlace => "in-place",
        };
        let (isa, schedule) = (self.kernels.isa(), self.kernels.schedule());
        write!(f, "{isa}/{schedule:?}/{mode}")
    }
}

/// Every available instruction set × both buffer modes, each set taking both schedules (one
/// per mode, the pairing alternating from set to set).
pub fn paths() -> Vec<Path> {
    let mut all = vec![];
    for (i, isa) in Isa::available().enumerate() {
        let kernels = Kernels::new(isa).expect("available instruction set");
        for (j, mode) in [Mode::OutOfPlace, Mode::InPlace].into_iter().enumerate() {
            let schedule = [Schedule::Overlapped, Schedule::Separate][(i + j) % 2];
            let kernels = kernels.with_schedule(schedule);
            all.push(Path { kernels, mode });
        }
    }
    all
}

/// Runs `op` on `x` along `path`'s buffer mode; returns the output (of any element type; a
/// separate output is pre-filled with [`SENTINEL`] rounded to it).
pub fn run<T: Elem>(
    path: Path,
    x: &[T],
    op: impl FnOnce(InOut<'_, T>) -> Result<(), NormError>,
) -> Result<Vec<T>, TestCaseError> {
    let result = match path.mode {
        Mode::OutOfPlace => {
            let mut y = vec![T::round(SENTINEL); x.len()];
            op(InOut::new(x, &mut y)).map(|()| y)
        }
        Mode::InPlace => {
            let mut xy = x.to_vec();
            op(InOut::in_place(&mut xy)).map(|()| xy)
        }
    };
    result.map_err(|e| fail(format!("{path}: unexpected error {e:?}")))
}

/// `len`, made wrong by `delta`: 0 one short (one long for 0), 1 one long, 2 doubled (+ 1).
pub fn wrong_len(len: usize, delta: u8) -> usize {
    match delta {
        0 if len > 0 => len - 1,
        2 => 2 * len + 1,
        _ => len + 1,
    }
}

pub fn fail(message: impl Into<String>) -> TestCaseError {
    TestCaseError::fail(message.into())
}

/// The first failure in full, followed by the list of every path that failed.
pub fn all_paths(failures: Vec<(Path, TestCaseError)>) -> Result<(), TestCaseError> {
    let Some((_, first)) = failures.first() else {
        return Ok(());
    };
    let first = match first {
        TestCaseError::Fail(reason) | TestCaseError::Reject(reason) => reason.message().to_string(),
    };
    let paths: Vec<String> = failures.iter().map(|(p, _)| p.to_string()).collect();
    Err(fail(format!(
        "{first}\n  failing paths: {}",
        paths.join(", ")
    )))
}

/// Whether `got` matches `want` within `tol · mag`; NaN must match NaN and infinities must
/// match exactly.
pub fn close(got: f32, want: f64, mag: f64, tol: f64) -> bool {
    let g = f64::from(got);
    if want.is_nan() {
        got.is_nan()
    } else if want.is_infinite() {
        g == want
    } else {
        g.is_finite() && (g - want).abs() <= tol * mag + SUBNORMAL_SLACK
    }
}

/// Compares every element; on failure reports the worst one with its context.
pub fn check_all(
    what: &str,
    got: &[f32],
    want: &[f64],
    mag: &[f64],
    tol: f64,
) -> Result<(), TestCaseError> {
    if got.len() != want.len() {
        return Err(fail(format!(
            "{what}: {} values, expected {}",
            got.len(),
            want.len()
        )));
    }
    let mut worst: Option<(usize, f64)> = None;
    let mut max_ratio = 0.0f64;
    for i in 0..got.len() {
        if close(got[i], want[i], mag[i], tol) {
            if want[i].is_finite() {
                let bound = tol * mag[i] + SUBNORMAL_SLACK;
                max_ratio = max_ratio.max((f64::from(got[i]) - want[i]).abs() / bound);
            }
            continue;
        }
        let excess = if want[i].is_finite() && got[i].is_finite() {
            (f64::from(got[i]) - want[i]).abs() / (tol * mag[i] + SUBNORMAL_SLACK)
        } else {
            f64::INFINITY
        };
        if worst.is_none_or(|(_, e)| excess > e) {
            worst = Some((i, excess));
        }
    }
    record_ratio(what, max_ratio);
    match worst {
        None => Ok(()),
        Some((i, excess)) => {
            let bad = (0..got.len())
                .filter(|&j| !close(got[j], want[j], mag[j], tol))
                .count();
            Err(fail(format!(
                "{what}: {bad} of {} values out of tolerance; worst at [{i}]: got {:e}, want {:e}, \
                 |diff| {:e} > tol {:e} × mag {:e} (×{excess:.3})",
                got.len(),
                got[i],
                want[i],
                (f64::from(got[i]) - want[i]).abs(),
                tol,
                mag[i],
            )))
        }
    }
}

/// Statistics reported per group: mean within `tol (|mean| + std)`, inverse std within `tol`
/// relative. A poisoned group (non-finite reference mean) only needs a non-finite mean: NaN and
/// inf are both honest answers for a group holding an infinity.
pub fn check_stats(
    op: &str,
    context: &str,
    mean: &[f32],
    inv_std: &[f32],
    want: &normkern_reference::Expected,
) -> Result<(), TestCaseError> {
    let want_mean = want.mean();
    let mean_mag: Vec<f64> = want.stats.iter().map(|s| s.mean.abs() + s.std()).collect();
    check_loose(
        &format!("{op} saved mean @ {context}"),
        mean,
        &want_mean,
        &mean_mag,
    )?;
    let inv_mag: Vec<f64> = want.inv_std.iter().map(|v| v.abs()).collect();
    check_all(
        &format!("{op} saved inv_std @ {context}"),
        inv_std,
        &want.inv_std,
        &inv_mag,
        Y_TOL,
    )
}

/// Like [`check_all`] with [`Y_TOL`], except that a non-finite reference accepts any
/// non-finite value.
pub fn check_loose(
    what: &str,
    got: &[f32],
    want: &[f64],
    mag: &[f64],
) -> Result<(), TestCaseError> {
    let want: Vec<f64> = want
        .iter()
        .zip(got)
        .map(|(&w, &g)| {
            if !w.is_finite() && !g.is_finite() {
                f64::from(g)
            } else {
                w
            }
        })
        .collect();
    check_all(what, got, &want, mag, Y_TOL)
}

/// Bitwise equality (so NaN payloads and signed zeros count): for buffers that must be untouched.
pub fn same_bits(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

static WORST: Mutex<Option<HashMap<String, f64>>> = Mutex::new(None);

/// With `NORMKERN_TOL_REPORT` set, prints each check's worst error/tolerance ratio whenever it
/// grows: how much headroom the tolerances have (run with `--nocapture`).
fn record_ratio(what: &str, ratio: f64) {
    if std::env::var_os("NORMKERN_TOL_REPORT").is_none() {
        return;
    }
    // Group by check kind, not by the per-case context after " @ ".
    let key = what.split(" @ ").next().unwrap_or(what).to_string();
    let mut guard = WORST.lock().unwrap_or_else(|e| e.into_inner());
    let map = guard.get_or_insert_with(HashMap::new);
    let slot = map.entry(key.clone()).or_insert(0.0);
    if ratio > *slot {
        *slot = ratio;
        eprintln!("tolerance use: {key}: {ratio:.4}");
    }
}
