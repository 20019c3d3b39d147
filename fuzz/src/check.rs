//! The oracle harness shared by the operator targets.
//!
//! For one operator call it checks, on every instruction set this CPU has:
//!
//! 1. nothing panics, and forcing an unavailable instruction set is refused;
//! 2. the call fails exactly when the fuzz target decided (independently) that the input is
//!    invalid, with an error naming the operator;
//! 3. on failure the output and every other written buffer is bitwise untouched (they are
//!    filled with a sentinel NaN beforehand);
//! 4. on success every output value was written;
//! 5. non-finite input poisons only its own group: the groups without NaN/±Inf are bitwise
//!    equal to the result on the same input with the non-finite values replaced by 0, and every
//!    output of a poisoned group is non-finite;
//! 6. on input in the numeric domain (see [`crate::bounds`]) every instruction set is
//!    within tolerance of the float64 reference and of `Isa::Scalar`.
//!
//! A case runs in its element type ([`crate::elem`]): its data is rounded to that type first,
//! its output pre-filled with that type's sentinel, and rounding a result into the type is
//! added to the tolerance of the output (not of the f32 statistics).

use crate::bounds::{self, Expect};
use crate::elem::{ElemPick, ElemType, Io};
use crate::input::{Affine, Buffers, Data, IsaPick};
use normkern::{ErrorKind, Isa, Kernels, NormError, Schedule};
use normkern_reference::{self as exact, Dims, Formula, Grouping};

/// A NaN payload the kernels never produce from non-NaN operands.
pub const SENTINEL: u32 = 0x7FC5_A5A5;

pub fn sentinel() -> f32 {
    f32::from_bits(SENTINEL)
}

pub fn has_sentinel(x: &[f32]) -> bool {
    x.iter().any(|v| v.to_bits() == SENTINEL)
}

pub fn bits(x: &[f32]) -> Vec<u32> {
    x.iter().map(|v| v.to_bits()).collect()
}

/// Every instruction set this CPU can run, the schedules alternating (so that among the SIMD
/// sets, Portable and AVX-512 take one and AVX2 and AVX-512 BF16 the other).
pub fn kernels() -> impl Iterator<Item = Kernels> {
    let schedules = [Schedule::Overlapped, Schedule::Separate]
        .into_iter()
        .cycle();
    Isa::available().zip(schedules).map(|(isa, schedule)| {
        let kernels = Kernels::new(isa).expect("available instruction set");
        kernels.with_schedule(schedule)
    })
}

/// Forcing `isa` succeeds exactly when it is available.
pub fn check_forced(isa: Isa) {
    match Kernels::new(isa) {
        Ok(k) => {
            assert!(isa.is_available());
            assert_eq!(k.isa(), isa);
        }
        Err(e) => {
            assert!(!isa.is_available());
            assert_eq!(e.op(), "Kernels::new");
            assert_eq!(e.kind(), ErrorKind::IsaUnavailable(isa));
        }
    }
}

/// Which values poison each other: `group[i]` is the group of input `i`, one of `groups`.
#[derive(Debug, Clone)]
pub struct GroupMap {
    pub group: Vec<usize>,
    pub groups: usize,
}

impl GroupMap {
    /// The groups an operator normalizes together (the reference's `grouping`) over a tensor
    /// of `dims`, which must fit in `usize` (it may be empty, with huge other dimensions).
    pub fn of(dims: &Dims, grouping: Grouping) -> GroupMap {
        GroupMap {
            group: (0..dims.len())
                .map(|i| grouping.group_at(dims, i))
                .collect(),
            groups: grouping.count(dims),
        }
    }

    /// Every value its own group (BatchNorm inference normalizes each value on its own).
    pub fn elementwise(len: usize) -> GroupMap {
        GroupMap {
            group: (0..len).collect(),
            groups: len,
        }
    }
}

/// An extra buffer the operator writes (saved statistics, running statistics): its initial
/// contents, whether every value must be written on success, and one value per group.
#[derive(Clone, Debug)]
pub struct Extra {
    pub name: &'static str,
    pub init: Vec<f32>,
    pub must_write: bool,
}

impl Extra {
    /// An output-only buffer of `len` values, pre-filled with the sentinel.
    pub fn output(name: &'static str, len: usize, must_write: bool) -> Extra {
        Extra {
            name,
            init: vec![sentinel(); len],
            must_write,
        }
    }
    /// An in/out buffer (running statistics).
    pub fn in_out(name: &'static str, init: Vec<f32>) -> Extra {
        Extra {
            name,
            init,
            must_write: false,
        }
    }
}

/// One operator call to check.
pub struct Case<'a> {
    /// The operator, as its errors name it ([`NormError::op`]).
    pub name: &'static str,
    /// The element type of `x` and the output (`x` is rounded to it before anything else).
    pub elem: ElemType,
    pub x: Vec<f32>,
    /// Length of the separate output (ignored in place).
    pub y_len: usize,
    pub in_place: bool,
    /// Decided by the target from the documented rules, not by calling the crate.
    pub valid: bool,
    pub extras: Vec<Extra>,
    /// The instruction set the input asks to force.
    pub isa: Isa,
    /// Which values form a group (for poisoning); `None` skips the poisoning check.
    pub grouping: Option<&'a GroupMap>,
    /// Whether a group with a non-finite input must be non-finite everywhere. True wherever the
    /// mean is subtracted (`x - inf` or `inf - inf`); RMSNorm divides by `sqrt(mean(x²))`,
    /// which an infinity makes `+inf`, so its finite values become ±0 (as in PyTorch's
    /// `x * rsqrt(mean(x²) + eps)`) and only the infinities (0·inf) and NaN rows are NaN.
    pub poison_whole_group: bool,
    /// What the harness needs to know of the operator's parameters.
    pub params: ParamFlags,
}

/// A case's parameters as the harness judges them, derived in one place so the targets agree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParamFlags {
    /// Parameters are finite (the poisoning check needs it).
    pub finite: bool,
    /// Parameters may pass a sentinel on to the outputs (disables the "all written" check):
    /// see [`may_write_sentinel`].
    pub sentinel: bool,
    /// Parameters and epsilon are in the numeric domain (the data is checked here).
    pub in_domain: bool,
}

impl ParamFlags {
    /// An operator without parameters (not even epsilon).
    pub const NONE: ParamFlags = ParamFlags {
        finite: true,
        sentinel: false,
        in_domain: true,
    };

    /// The flags of epsilon and the optional parameters (gamma, beta, bias, running statistics)
    /// of a case in `elem`.
    pub fn of(elem: ElemType, eps: f32, params: &[Option<&[f32]>]) -> ParamFlags {
        ParamFlags {
            finite: params.iter().all(|&p| finite(p)),
            sentinel: params
                .iter()
                .any(|&p| p.is_some_and(|p| may_write_sentinel(elem, p))),
            in_domain: bounds::eps_in_domain(eps)
                && params.iter().all(|&p| bounds::params_in_domain(p)),
        }
    }
}

/// A case's input tensor and how it runs, built alike by every operator target from its input.
#[derive(Debug, Clone)]
pub struct Tensor {
    pub elem: ElemType,
    /// The instruction set the input asks to force.
    pub isa: Isa,
    pub in_place: bool,
    /// The input, as the data gives it (the harness rounds it to `elem`).
    pub x: Vec<f32>,
    /// Length of the separate output (ignored in place).
    pub y_len: usize,
}

impl Tensor {
    /// The tensor of an operator that expects `want` values (`None`: more than fit in `usize`).
    pub fn build(
        elem: ElemPick,
        isa: IsaPick,
        buffers: Buffers,
        data: &Data,
        want: Option<usize>,
    ) -> Tensor {
        let (x, y_len) = buffers.build(data, want);
        Tensor {
            elem: elem.ty(),
            isa: isa.isa(),
            in_place: buffers.in_place,
            x,
            y_len,
        }
    }

    /// Independent rule of the tensor operators: `x`, and `y` unless in place, hold exactly
    /// the `want` values of the shape (`None`: the shape overflows, nothing is valid).
    pub fn lengths_ok(&self, want: Option<usize>) -> bool {
        want.is_some() && Some(self.x.len()) == want && (self.in_place || Some(self.y_len) == want)
    }

    /// A case of `name` on it: no extras, no grouping, whole groups poisoned; override the rest.
    pub fn case<'a>(self, name: &'static str, valid: bool, params: ParamFlags) -> Case<'a> {
        Case {
            name,
            elem: self.elem,
            x: self.x,
            y_len: self.y_len,
            in_place: self.in_place,
            valid,
            extras: vec![],
            isa: self.isa,
            grouping: None,
            poison_whole_group: true,
            params,
        }
    }
}

/// The operator: run with these kernels on `io`, writing `extras` (one slice per [`Extra`]).
/// It is also given the values `io` holds (widened to f32), for the checks of its own that a
/// target makes inside it.
pub type Run<'r> = dyn Fn(&Kernels, Io<'_>, &[f32], &mut [Vec<f32>]) -> Result<(), NormError> + 'r;

/// The reference result for an input in the numeric domain: the output, and each extra.
pub struct Reference {
    pub y: Vec<Expect>,
    pub extras: Vec<Vec<Expect>>,
}
pub type RefFn<'r> = dyn Fn(&[f32]) -> Reference + 'r;

/// The reference of a mean-and-variance normalization ([`Formula::Standard`]) of `x` (a tensor
/// of `dims`) over `grouping`, with the saved statistics when the case has them: the one oracle
/// of LayerNorm, InstanceNorm and GroupNorm, kept in one place so they cannot drift apart.
pub fn standard_reference(
    x: &[f32],
    dims: &Dims,
    grouping: Grouping,
    eps: f32,
    affine: &Affine,
    with_saved: bool,
) -> Reference {
    let (gamma, formula) = (affine.gamma(), Formula::Standard { eps });
    let want = exact::normalize(x, dims, grouping, formula, gamma, affine.beta());
    let extras = if with_saved {
        crate::saved::expected(&want.stats, eps)
    } else {
        vec![]
    };
    let y = bounds::outputs(&want, dims, grouping, gamma);
    Reference { y, extras }
}

/// The result of one call.
pub struct Outcome {
    pub result: Result<(), NormError>,
    pub y: Vec<f32>,
    pub extras: Vec<Vec<f32>>,
}

fn call(k: &Kernels, case: &Case<'_>, x: &[f32], run: &Run<'_>) -> Outcome {
    let mut extras: Vec<Vec<f32>> = case.extras.iter().map(|e| e.init.clone()).collect();
    let (result, y) = case.elem.run(x, case.y_len, case.in_place, |io| {
        run(k, io, x, &mut extras)
    });
    Outcome { result, y, extras }
}

/// How many cases reached each stage; printed every 4096 cases when `NORMKERN_FUZZ_STATS=1`,
/// to see that the generators reach the oracles (not only the validation errors).
pub mod stats {
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
    pub static CASES: AtomicUsize = AtomicUsize::new(0);
    pub static VALID: AtomicUsize = AtomicUsize::new(0);
    pub static POISONED: AtomicUsize = AtomicUsize::new(0);
    pub static NUMERIC: AtomicUsize = AtomicUsize::new(0);
    pub static VALUES: AtomicUsize = AtomicUsize::new(0);

    pub fn bump(counter: &AtomicUsize) {
        counter.fetch_add(1, Relaxed);
    }

    /// `NORMKERN_FUZZ_STATS`: unset 0, `1` periodic totals, `2` one line per case.
    pub fn level() -> u8 {
        static LEVEL: std::sync::OnceLock<u8> = std::sync::OnceLock::new();
        *LEVEL.get_or_init(|| match std::env::var("NORMKERN_FUZZ_STATS").as_deref() {
            Ok("2") => 2,
            Ok(_) => 1,
            Err(_) => 0,
        })
    }

    /// Prints how far one case got (level 2).
    pub fn case(name: &str, stage: &str) {
        if level() == 2 {
            eprintln!("case {name}: {stage}");
        }
    }

    pub fn report(name: &str) {
        let cases = CASES.load(Relaxed);
        if cases.is_multiple_of(4096) && level() == 1 {
            eprintln!(
                "{name}: {cases} cases, {} valid, {} poisoned, {} numeric ({} values)",
                VALID.load(Relaxed),
                POISONED.load(Relaxed),
                NUMERIC.load(Relaxed),
                VALUES.load(Relaxed)
            );
        }
    }
}

/// Checks properties 1-6 (see the module docs).
pub fn check_case(case: &Case<'_>, run: &Run<'_>, reference: &RefFn<'_>) {
    stats::bump(&stats::CASES);
    stats::report(case.name);
    check_forced(case.isa);
    let name = case.name;
    let x = &case.elem.round_all(&case.x);
    let y_sentinel = case.elem.sentinel_bits();
    let outcomes: Vec<(Kernels, Outcome)> =
        kernels().map(|k| (k, call(&k, case, x, run))).collect();

    for (k, o) in &outcomes {
        let isa = k.isa();
        assert_eq!(
            o.result.is_ok(),
            case.valid,
            "{name} on {isa}: result {:?} but the input is {}",
            o.result,
            if case.valid { "valid" } else { "invalid" }
        );
        if let Err(e) = o.result {
            assert_eq!(
                e.op(),
                name,
                "{name} on {isa}: the error names another operator"
            );
            let expected_y = if case.in_place {
                bits(x)
            } else {
                vec![y_sentinel; case.y_len]
            };
            assert!(
                bits(&o.y) == expected_y,
                "{name} on {isa}: output written on error"
            );
            for (e, got) in case.extras.iter().zip(&o.extras) {
                assert!(
                    bits(got) == bits(&e.init),
                    "{name} on {isa}: `{}` written on error",
                    e.name
                );
            }
            continue;
        }
        let sentinel_in = may_write_sentinel(case.elem, x) || case.params.sentinel;
        if !case.in_place
            && !sentinel_in
            && let Some(i) = o.y.iter().position(|v| v.to_bits() == y_sentinel)
        {
            panic!("{name} on {isa}: y[{i}] not written");
        }
        for (e, got) in case.extras.iter().zip(&o.extras) {
            if e.must_write && !sentinel_in && has_sentinel(got) {
                panic!("{name} on {isa}: `{}` not fully written", e.name);
            }
        }
    }
    if !case.valid {
        stats::case(name, "invalid");
        return;
    }
    stats::bump(&stats::VALID);

    // 5. Poisoning.
    let poisoned = x.iter().any(|v| !v.is_finite());
    let clean: Vec<f32> = x
        .iter()
        .map(|&v| if v.is_finite() { v } else { 0.0 })
        .collect();
    if poisoned
        && case.params.finite
        && let Some(g) = case.grouping
    {
        stats::bump(&stats::POISONED);
        stats::case(name, "poisoned");
        let mut bad = vec![false; g.groups];
        let mut nan = vec![false; g.groups];
        for (i, v) in x.iter().enumerate() {
            if !v.is_finite() {
                bad[g.group[i]] = true;
            }
            if v.is_nan() {
                nan[g.group[i]] = true;
            }
        }
        for (k, o) in &outcomes {
            let isa = k.isa();
            let c = call(k, case, &clean, run);
            assert!(c.result.is_ok());
            for i in 0..x.len() {
                let (got, fin) = (o.y[i], c.y[i]);
                let whole = case.poison_whole_group || nan[g.group[i]];
                if bad[g.group[i]] && (whole || !x[i].is_finite()) {
                    assert!(
                        !got.is_finite(),
                        "{name} on {isa}: y[{i}] = {got} in a poisoned group {}",
                        g.group[i]
                    );
                } else if !bad[g.group[i]] {
                    assert!(
                        got.to_bits() == fin.to_bits(),
                        "{name} on {isa}: y[{i}] = {got} but {fin} without the non-finite \
                             values of other groups"
                    );
                }
            }
            for (e, (got, fin)) in case.extras.iter().zip(o.extras.iter().zip(&c.extras)) {
                for grp in 0..g.groups.min(got.len()) {
                    if bad[grp] {
                        // Without the whole group poisoned (RMSNorm), infinities make the mean
                        // square infinite: its inverse root is 0, or non-finite.
                        let whole = case.poison_whole_group || nan[grp];
                        assert!(
                            !got[grp].is_finite() || (!whole && got[grp] == 0.0),
                            "{name} on {isa}: `{}`[{grp}] = {} in a poisoned group",
                            e.name,
                            got[grp]
                        );
                    } else {
                        assert!(
                            got[grp].to_bits() == fin[grp].to_bits(),
                            "{name} on {isa}: `{}`[{grp}] changed by another group's \
                                 non-finite values",
                            e.name
                        );
                    }
                }
            }
        }
    }

    // 6. Numeric agreement, on the input itself or its finite version.
    if x.is_empty() || !case.params.in_domain || !bounds::all_in_domain(&clean) {
        stats::case(name, "valid");
        return;
    }
    stats::bump(&stats::NUMERIC);
    stats::case(
        name,
        if x.len() > 64 {
            "numeric-large"
        } else {
            "numeric"
        },
    );
    stats::VALUES.fetch_add(x.len(), std::sync::atomic::Ordering::Relaxed);
    let expect = reference(&clean);
    let runs: Vec<(Isa, Outcome)> = outcomes
        .iter()
        .map(|(k, o)| {
            if poisoned {
                (k.isa(), call(k, case, &clean, run))
            } else {
                (
                    k.isa(),
                    Outcome {
                        result: o.result,
                        y: o.y.clone(),
                        extras: o.extras.clone(),
                    },
                )
            }
        })
        .collect();
    let scalar = &runs
        .iter()
        .find(|(isa, _)| *isa == Isa::Scalar)
        .expect("scalar is always available")
        .1;
    for (isa, o) in &runs {
        compare(name, *isa, "y", case.elem, &o.y, &expect.y, &scalar.y);
        for ((e, want), (got, sc)) in case
            .extras
            .iter()
            .zip(&expect.extras)
            .zip(o.extras.iter().zip(&scalar.extras))
        {
            compare(name, *isa, e.name, ElemType::F32, got, want, sc);
        }
    }
}

/// `got` (values of `elem`) is within tolerance of the reference, and within twice the
/// tolerance of the scalar path (each being within the tolerance of the exact value); each
/// rounding into `elem` adds up to half its spacing, and a reference beyond its largest value
/// may round to the infinity of its sign.
pub fn compare(
    name: &str,
    isa: Isa,
    what: &str,
    elem: ElemType,
    got: &[f32],
    want: &[Expect],
    scalar: &[f32],
) {
    for (i, e) in want.iter().enumerate() {
        let Some((value, tol)) = *e else { continue };
        let g = f64::from(got[i]);
        let reach = value.abs() + tol;
        let round = elem.rounding(reach);
        if g.is_infinite() && reach >= elem.max() && g.signum() == value.signum() {
            continue;
        }
        assert!(
            (g - value).abs() <= tol + round,
            "{name} on {isa}: {what}[{i}] = {g:e}, reference {value:e} (tolerance {:e}, {})",
            tol + round,
            elem.name()
        );
        let s = f64::from(scalar[i]);
        assert!(
            (g - s).abs() <= 2.0 * (tol + round),
            "{name} on {isa}: {what}[{i}] = {g:e}, scalar {s:e} (tolerance {:e}, {})",
            2.0 * (tol + round),
            elem.name()
        );
    }
}

/// Whether an optional parameter is finite.
pub fn finite(p: Option<&[f32]>) -> bool {
    p.is_none_or(|p| p.iter().all(|v| v.is_finite()))
}

/// Whether a value of `x`, read by a case in `elem`, may come out as a sentinel: the type's in
/// the output, or f32's in the statistics written beside it. Where one may, a sentinel left in
/// an output proves no missed write.
pub fn may_write_sentinel(elem: ElemType, x: &[f32]) -> bool {
    x.iter()
        .any(|&v| elem.may_become_sentinel(v) || ElemType::F32.may_become_sentinel(v))
}
