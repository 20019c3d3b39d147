//! Checks every record a board printed against normkern-reference's float64 answer, with the
//! tolerances of normkern's own tests (`tests/common/check.rs`): `|y - y_ref| <= 64u · mag`
//! plus a few subnormal half-ulps, `mag` as the reference defines it.

use crate::parse::{Output, Record};
use cases::{Axes, Case, Dims, FullName, Inputs, Layout, Momentum, Op};
use normkern_reference as reference;
use reference::{Expected, Formula, Running, Stats};
use std::collections::BTreeMap;

/// f32 unit roundoff, 2⁻²⁴.
pub const U: f64 = 5.960_464_477_539_063e-8;
/// The tests' bound on normalized outputs and reported statistics, in units of `mag`: 64u.
pub const Y_TOL: f64 = 64.0 * U;
/// Absolute slack on top: four subnormal half-ulps (2⁻¹⁵⁰ each).
pub const SUBNORMAL_SLACK: f64 = 4.0 * 7.006_492_321_624_085e-46;
/// The plain loops are checked only to make sure they compute the same operator: 1024u.
pub const NAIVE_TOL: f64 = 1024.0 * U;

/// One disagreement, with where it happened.
#[derive(Debug)]
pub struct Failure {
    pub board: String,
    pub who: String,
    pub case: String,
    pub what: String,
}

/// Counts of checked records and the worst error-to-tolerance ratio seen per operator.
#[derive(Default)]
pub struct Tally {
    pub passed: usize,
    pub failures: Vec<Failure>,
    /// `(operator, board)` → largest `|err| / (tol · mag + slack)` seen (≤ 1 when passing).
    pub worst: BTreeMap<(String, String), f64>,
    /// Bad-input records that returned their error with every output untouched.
    pub refused: usize,
    /// Values compared.
    pub values: usize,
}

/// Inputs of a case as the device generated them.
pub struct Generated {
    pub x: Vec<f32>,
    pub gamma: Option<Vec<f32>>,
    pub beta: Option<Vec<f32>>,
    pub stats: Option<(Vec<f32>, Vec<f32>)>,
    pub running: Option<(Vec<f32>, Vec<f32>)>,
}

pub fn generate(index: usize, case: &Case) -> Generated {
    let inputs = Inputs::new(index, *case);
    let make = |len: usize, f: &dyn Fn(&Inputs, &mut [f32])| {
        let mut v = vec![0.0; len];
        f(&inputs, &mut v);
        v
    };
    Generated {
        x: make(case.x_len(), &|i, v| i.x(v)),
        gamma: case.gamma_len().map(|n| make(n, &|i, v| i.gamma(v))),
        beta: case.beta_len().map(|n| make(n, &|i, v| i.beta(v))),
        stats: case.stats_len().map(|(m, v)| {
            (
                make(m, &|i, o| i.stats_mean(o)),
                make(v, &|i, o| i.stats_var(o)),
            )
        }),
        running: case.running_len().map(|(m, v)| {
            (
                make(m, &|i, o| i.running_mean(o)),
                make(v, &|i, o| i.running_var(o)),
            )
        }),
    }
}

fn dims(d: Dims) -> reference::Dims {
    match d.layout {
        Layout::ChannelsFirst => reference::Dims::channels_first(d.n, d.c, d.spatial),
        Layout::ChannelsLast => reference::Dims::channels_last(d.n, d.spatial, d.c),
    }
}

fn momentum(m: Momentum) -> reference::Momentum {
    match m {
        Momentum::PyTorch(v) => reference::Momentum::PyTorch(v),
        Momentum::Onnx(v) => reference::Momentum::Onnx(v),
        Momentum::CumulativeAverage { batches } => reference::Momentum::CumulativeAverage {
            batches: u64::from(batches),
        },
    }
}

fn axes(a: Axes) -> reference::MvnAxes {
    match a {
        Axes::BatchAndSpatial => reference::MvnAxes::BatchAndSpatial,
        Axes::Spatial => reference::MvnAxes::Spatial,
        Axes::ChannelsAndSpatial => reference::MvnAxes::ChannelsAndSpatial,
    }
}

/// The float64 answer to a valid normalizing case, and its running statistics.
pub fn expect(case: &Case, g: &Generated) -> (Expected, Option<Running>) {
    let d = dims(case.shape());
    let (x, eps) = (&g.x[..], case.eps_value());
    let (gamma, beta) = (g.gamma.as_deref(), g.beta.as_deref());
    let e = match case.op {
        // Rows are channels-last with one position per row: the same grouping.
        Op::LayerNorm | Op::LayerNormChannels => {
            reference::channels(x, &d, Formula::Standard { eps }, gamma, beta)
        }
        Op::RmsNorm | Op::RmsNormChannels => {
            reference::channels(x, &d, Formula::Rms { eps }, gamma, None)
        }
        Op::BatchNormInference => {
            let (mean, var) = g
                .stats
                .as_ref()
                .expect("BatchNorm inference has statistics");
            let (y, mag) = reference::batch_norm_inference(x, &d, mean, var, gamma, beta, eps);
            Expected {
                y,
                mag,
                stats: vec![],
                inv_std: vec![],
            }
        }
        Op::BatchNormTraining { .. } => reference::batch_norm_training(x, &d, eps, gamma, beta),
        Op::InstanceNorm => reference::group_norm(x, &d, d.c, eps, gamma, beta),
        Op::GroupNorm { groups } => reference::group_norm(x, &d, groups, eps, gamma, beta),
        Op::Mvn { axes: a } => reference::mvn(x, &d, axes(a)),
        Op::Moments => unreachable!("moments are checked on their own"),
    };
    let running = match (case.momentum(), &g.running) {
        (Some(m), Some((mean, var))) => {
            Some(reference::running_update(&e.stats, mean, var, momentum(m)))
        }
        _ => None,
    };
    (e, running)
}

/// Whether `got` is within `tol · mag` of `want` (plus the subnormal slack); NaN must match
/// NaN, infinities exactly. As `close` in normkern's tests.
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

/// Compares every value; the worst ratio of error to bound on success, the worst offender
/// on failure.
pub fn check_all(got: &[f32], want: &[f64], mag: &[f64], tol: f64) -> Result<f64, String> {
    if got.len() != want.len() {
        return Err(format!("{} values, expected {}", got.len(), want.len()));
    }
    let (mut ratio, mut bad, mut worst) = (0.0f64, 0usize, None::<(usize, f64)>);
    for i in 0..got.len() {
        let bound = tol * mag[i] + SUBNORMAL_SLACK;
        let err = (f64::from(got[i]) - want[i]).abs();
        if close(got[i], want[i], mag[i], tol) {
            if want[i].is_finite() {
                ratio = ratio.max(err / bound);
            }
        } else {
            bad += 1;
            let excess = if err.is_finite() {
                err / bound
            } else {
                f64::INFINITY
            };
            if worst.is_none_or(|(_, e)| excess > e) {
                worst = Some((i, excess));
            }
        }
    }
    match worst {
        None => Ok(ratio),
        Some((i, excess)) => Err(format!(
            "{bad} of {} values out of tolerance; worst at [{i}]: got {:e}, want {:e}, \
             |diff| {:e} > {tol:e} x mag {:e} (x{excess:.3})",
            got.len(),
            got[i],
            want[i],
            (f64::from(got[i]) - want[i]).abs(),
            mag[i]
        )),
    }
}

/// [`check_all`] at [`Y_TOL`], except that a non-finite reference accepts any non-finite value.
pub fn check_loose(got: &[f32], want: &[f64], mag: &[f64]) -> Result<f64, String> {
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
    check_all(got, &want, mag, Y_TOL)
}

/// Bitwise: the output of a constant group must be exactly beta.
fn check_exact(got: &[f32], want: &[f64]) -> Result<f64, String> {
    match got.iter().zip(want).position(|(&g, &w)| f64::from(g) != w) {
        None => Ok(0.0),
        Some(i) => Err(format!(
            "constant groups: [{i}] is {:e}, must be exactly {:e}",
            got[i], want[i]
        )),
    }
}

/// Moments as normkern's tests check them: count exact, mean within `tol (|mean| + std)`,
/// both variances within `tol · var` (plus `√n` subnormal slack).
fn check_moments(got: &[f32], want: &Stats, tol: f64) -> Result<f64, String> {
    let [count, mean, var, sample] = got else {
        return Err(format!("{} moment values, expected 4", got.len()));
    };
    if *count as usize != want.count {
        return Err(format!("count {count} != {}", want.count));
    }
    let subnormal = (want.count as f64).sqrt() * SUBNORMAL_SLACK;
    let var_mag = |v: f64| (v * tol + subnormal) / Y_TOL;
    let scale = want.mean.abs() + want.std();
    let mut ratio = check_loose(&[*mean], &[want.mean], &[scale / Y_TOL * tol])
        .map_err(|e| format!("mean: {e}"))?;
    ratio = ratio.max(
        check_loose(&[*var], &[want.var], &[var_mag(want.var)])
            .map_err(|e| format!("variance: {e}"))?,
    );
    if want.count > 1 {
        let sv = want.sample_var();
        ratio = ratio.max(
            check_loose(&[*sample], &[sv], &[var_mag(sv)])
                .map_err(|e| format!("sample variance: {e}"))?,
        );
    }
    Ok(ratio)
}

/// Whether error `got` (`kind:detail@op`) is one that `patterns` allow (`kind:*` any detail)
/// and names operator `op`.
fn error_matches(got: &str, patterns: &[&str], op: &str) -> bool {
    let Some((error, named)) = got.rsplit_once('@') else {
        return false;
    };
    named == op
        && patterns.iter().any(|p| match p.strip_suffix('*') {
            Some(prefix) => error.starts_with(prefix),
            None => error == *p,
        })
}

impl Tally {
    fn fail(&mut self, board: &str, r: &Record, case: &str, what: String) {
        self.failures.push(Failure {
            board: board.to_string(),
            who: r.who.clone(),
            case: case.to_string(),
            what,
        });
    }

    fn note(&mut self, op: &str, board: &str, ratio: f64) {
        let slot = self
            .worst
            .entry((op.to_string(), board.to_string()))
            .or_insert(0.0);
        *slot = slot.max(ratio);
    }

    /// Checks every case record and benchmark record of one board.
    pub fn board(&mut self, out: &Output) {
        let board = out.board.clone();
        let problem = |t: &mut Tally, what: String| {
            t.failures.push(Failure {
                board: board.clone(),
                who: "-".into(),
                case: "-".into(),
                what,
            })
        };
        if let Some(p) = &out.panic {
            problem(self, format!("the firmware panicked: {p}"));
        }
        match out.done {
            None => problem(self, "no DONE line: the firmware stopped early".into()),
            Some(false) => problem(self, "the firmware reported a failed check".into()),
            Some(true) => {}
        }
        for s in &out.stray {
            problem(self, format!("unexpected output line: {s:.120}"));
        }
        if out.case_count != Some(cases::count()) {
            problem(
                self,
                format!(
                    "the firmware has {:?} cases, this checker {}: rebuild both",
                    out.case_count,
                    cases::count()
                ),
            );
        }
        match out.per_tick() {
            None => problem(self, "no instruction-counter calibration".into()),
            Some(k) if (k - k.round()).abs() > 0.01 => problem(
                self,
                format!("counter calibration {k} instructions per tick is not whole"),
            ),
            Some(_) => {}
        }
        // Every case on every instruction set the firmware printed for the first case.
        let sets: Vec<&str> = out
            .cases
            .iter()
            .filter(|r| r.index == 0)
            .map(|r| r.who.as_str())
            .collect();
        for i in 0..cases::count() {
            for set in &sets {
                if !out.cases.iter().any(|r| r.index == i && r.who == *set) {
                    let name = FullName(&cases::get(i).expect("index in range")).to_string();
                    problem(self, format!("case {i} {name} missing on {set}"));
                }
            }
        }
        for r in &out.cases {
            self.case(&board, r);
        }
        for r in &out.benches {
            self.bench(&board, r);
        }
    }

    fn case(&mut self, board: &str, r: &Record) {
        let Some(case) = cases::get(r.index) else {
            return self.fail(board, r, &r.name, format!("no case {}", r.index));
        };
        let name = FullName(&case).to_string();
        if r.name != name {
            return self.fail(
                board,
                r,
                &r.name,
                format!("case {} is {name} here", r.index),
            );
        }
        let g = generate(r.index, &case);
        let sum = format!("{:08x}", cases::checksum(&g.x));
        if r.field("xsum") != Some(sum.as_str()) {
            return self.fail(
                board,
                r,
                &name,
                "input checksum differs: the generators disagree".into(),
            );
        }
        let result = r.field("result").unwrap_or("missing");
        if case.expects_error() {
            let (want, op) = (case.expected(), case.op.function());
            let mut bad = vec![];
            if !error_matches(result, want, op) {
                bad.push(format!("returned {result}, expected one of {want:?} @{op}"));
            }
            if let Some(ip) = r.field("ip")
                && !error_matches(ip, want, op)
            {
                bad.push(format!(
                    "in place returned {ip}, expected one of {want:?} @{op}"
                ));
            }
            if r.number("untouched") != Some(1) {
                bad.push("an output buffer was written".into());
            }
            if bad.is_empty() {
                self.passed += 1;
                self.refused += 1;
            } else {
                self.fail(board, r, &name, bad.join("; "));
            }
            return;
        }
        if result != "ok" || r.field("ip").is_some_and(|ip| ip != "ok") {
            let ip = r.field("ip").unwrap_or("-");
            return self.fail(
                board,
                r,
                &name,
                format!("error on valid input: {result} (in place: {ip})"),
            );
        }
        let checked = if case.op == Op::Moments {
            self.moments(r, &g.x)
        } else {
            self.normalized(r, &case, &g)
        };
        match checked {
            Ok(ratio) => {
                self.passed += 1;
                self.note(case.op.name(), board, ratio);
            }
            Err(e) => self.fail(board, r, &name, e),
        }
    }

    fn moments(&mut self, r: &Record, x: &[f32]) -> Result<f64, String> {
        let got = r.values("moments").ok_or("no moments")?;
        if got.len() != 12 {
            return Err(format!("{} moment values, expected 12", got.len()));
        }
        let want = Stats::of(x);
        let chain = Y_TOL.max(4.0 * (x.len() as f64).sqrt() * U);
        let mut ratio = 0.0f64;
        for (k, (what, tol)) in [("one pass", Y_TOL), ("merged", Y_TOL), ("pushed", chain)]
            .into_iter()
            .enumerate()
        {
            let part = &got[4 * k..4 * k + 4];
            ratio = ratio.max(check_moments(part, &want, tol).map_err(|e| format!("{what}: {e}"))?);
        }
        self.values += 12;
        Ok(ratio)
    }

    fn normalized(&mut self, r: &Record, case: &Case, g: &Generated) -> Result<f64, String> {
        let (want, running) = expect(case, g);
        let mut ratio = 0.0f64;
        let copies: &[&str] = if r.number("ip_same") == Some(1) {
            &[""]
        } else {
            &["", "_ip"]
        };
        for suffix in copies {
            let field = |k: &str| format!("{k}{suffix}");
            let mode = if suffix.is_empty() { "" } else { " (in place)" };
            let y = r.values(&field("y")).ok_or(format!("no y{suffix}"))?;
            ratio = ratio.max(
                check_all(&y, &want.y, &want.mag, Y_TOL).map_err(|e| format!("y{mode}: {e}"))?,
            );
            if case.constant_groups() {
                check_exact(&y, &want.y).map_err(|e| format!("y{mode}: {e}"))?;
            }
            self.values += y.len();
            if case.saved_len().is_some() {
                if case.op.has_saved_mean() {
                    let mean = r.values(&field("mean")).ok_or("no saved mean")?;
                    let mean_mag: Vec<f64> =
                        want.stats.iter().map(|s| s.mean.abs() + s.std()).collect();
                    ratio = ratio.max(
                        check_loose(&mean, &want.mean(), &mean_mag)
                            .map_err(|e| format!("saved mean{mode}: {e}"))?,
                    );
                    self.values += mean.len();
                }
                // 1 / sqrt(var + eps), or RMSNorm's 1 / sqrt(mean(x²) + eps).
                let what = if case.op.has_saved_mean() {
                    "inv_std"
                } else {
                    "inv_rms"
                };
                let inv = r.values(&field("inv")).ok_or(format!("no saved {what}"))?;
                let inv_mag: Vec<f64> = want.inv_std.iter().map(|v| v.abs()).collect();
                ratio = ratio.max(
                    check_all(&inv, &want.inv_std, &inv_mag, Y_TOL)
                        .map_err(|e| format!("saved {what}{mode}: {e}"))?,
                );
                self.values += inv.len();
            }
            if let Some(run) = &running {
                let mean = r.values(&field("rmean")).ok_or("no running mean")?;
                let var = r.values(&field("rvar")).ok_or("no running var")?;
                ratio = ratio.max(
                    check_loose(&mean, &run.mean, &run.mean_mag)
                        .map_err(|e| format!("running mean{mode}: {e}"))?,
                );
                ratio = ratio.max(
                    check_loose(&var, &run.var, &run.var_mag)
                        .map_err(|e| format!("running var{mode}: {e}"))?,
                );
                self.values += mean.len() + var.len();
            }
        }
        Ok(ratio)
    }

    fn bench(&mut self, board: &str, r: &Record) {
        let Some(case) = cases::BENCHES.get(r.index) else {
            return self.fail(board, r, &r.name, format!("no benchmark {}", r.index));
        };
        let name = FullName(case).to_string();
        if r.name != name || r.number("ok") != Some(1) {
            return self.fail(board, r, &r.name, format!("benchmark {name} did not run"));
        }
        let g = generate(cases::BENCH_BASE + r.index, case);
        let (want, _) = expect(case, &g);
        let tol = if r.who == "naive" { NAIVE_TOL } else { Y_TOL };
        let checked = r
            .values("y")
            .ok_or_else(|| "no y".to_string())
            .and_then(|y| check_all(&y, &want.y, &want.mag, tol));
        match checked {
            Ok(ratio) => {
                self.passed += 1;
                let who = if r.who == "naive" {
                    "naive loop"
                } else {
                    case.op.name()
                };
                self.note(who, board, ratio * tol / Y_TOL);
            }
            Err(e) => self.fail(board, r, &name, e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cases::{MAX_LEN, MAX_PARAM};

    fn all() -> impl Iterator<Item = Case> {
        (0..cases::count())
            .map(|i| cases::get(i).unwrap())
            .chain(cases::BENCHES.iter().copied())
    }

    #[test]
    fn every_case_fits_the_device_buffers() {
        for c in all() {
            let name = FullName(&c).to_string();
            assert!(c.x_len() <= MAX_LEN, "{name}");
            for len in [c.gamma_len(), c.beta_len()].into_iter().flatten() {
                assert!(len <= MAX_PARAM, "{name}");
            }
            for (a, b) in [c.stats_len(), c.saved_len(), c.running_len()]
                .into_iter()
                .flatten()
            {
                assert!(a <= MAX_PARAM && b <= MAX_PARAM, "{name}");
            }
        }
    }

    #[test]
    fn names_are_one_word() {
        for c in all() {
            let name = FullName(&c).to_string();
            assert!(!name.contains(char::is_whitespace), "{name}");
        }
    }

    #[test]
    fn valid_cases_have_a_reference() {
        for (i, c) in (0..cases::count()).map(|i| (i, cases::get(i).unwrap())) {
            if c.defect.is_none() && c.op != Op::Moments {
                let (want, _) = expect(&c, &generate(i, &c));
                assert_eq!(want.y.len(), c.x_len(), "{}", FullName(&c));
            }
        }
    }

    #[test]
    fn errors_match_their_patterns() {
        let op = "layer_norm";
        assert!(error_matches(
            "length:gamma@layer_norm",
            &["length:gamma"],
            op
        ));
        assert!(error_matches("epsilon:-@layer_norm", &["epsilon:*"], op));
        assert!(!error_matches(
            "length:beta@layer_norm",
            &["length:gamma"],
            op
        ));
        assert!(!error_matches("ok", &["epsilon:*"], op));
        // The right error from the wrong operator (or none named) does not answer.
        assert!(!error_matches(
            "length:gamma@rms_norm",
            &["length:gamma"],
            op
        ));
        assert!(!error_matches("length:gamma", &["length:gamma"], op));
    }

    #[test]
    fn every_bad_case_expects_an_error_of_its_operator() {
        for c in (0..cases::count()).map(|i| cases::get(i).unwrap()) {
            assert_eq!(
                c.expects_error(),
                !c.expected().is_empty(),
                "{}",
                FullName(&c)
            );
        }
        let rms = cases::BAD
            .iter()
            .find(|c| c.op == Op::RmsNorm && c.defect == Some(cases::Defect::SavedInvStdLen))
            .expect("RMSNorm's inv_rms has a bad-length case");
        assert_eq!(rms.expected(), ["length:inv_rms"]);
        assert_eq!(rms.op.function(), "rms_norm");
    }

    #[test]
    fn the_tolerance_is_the_tests() {
        assert!(close(1.0, 1.0 + 60.0 * U, 1.0, Y_TOL));
        assert!(!close(1.0, 1.0 + 70.0 * U, 1.0, Y_TOL));
        assert!(close(f32::NAN, f64::NAN, 1.0, Y_TOL));
        assert!(!close(1.0, f64::NAN, 1.0, Y_TOL));
    }
}
