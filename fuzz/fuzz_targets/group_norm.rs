//! GroupNorm (each (n, group of adjacent channels) over its channels and positions) in both
//! layouts, with optional gamma, beta and saved statistics.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use normkern::{GroupNorm, Kernels, NormError};
use normkern_fuzz::adapt::{MaybeBeta, MaybeGamma};
use normkern_fuzz::check::{self, Case, GroupMap, ParamFlags, Tensor};
use normkern_fuzz::each_elem;
use normkern_fuzz::elem::{ElemPick, Io};
use normkern_fuzz::input::{
    self as spec, Affine, Buffers, Dim, Eps, IsaPick, Param, SavedSpec, ShapeSpec,
};
use normkern_fuzz::{adapt, saved};
use normkern_reference::Grouping;

#[derive(Arbitrary, Debug)]
enum Groups {
    /// The k-th divisor of the channel count (valid whenever c > 0).
    Divisor(u8),
    /// Any count (zero, non-divisors, more groups than channels).
    Any(Dim),
}

#[derive(Arbitrary, Debug)]
struct Input {
    /// The element type (first: every seed written before it decodes with a zero byte in
    /// front, as f32).
    elem: ElemPick,
    shape: ShapeSpec,
    groups: Groups,
    isa: IsaPick,
    buffers: Buffers,
    eps: Eps,
    gamma: Option<Param>,
    beta: Option<Param>,
    saved: Option<SavedSpec>,
    data: spec::Data,
}

fuzz_target!(|input: Input| run(input));

fn run(input: Input) {
    let shape = input.shape.shape();
    let (n, c) = (shape.n(), shape.c());
    let groups = match input.groups {
        Groups::Divisor(k) if c > 0 && c <= 1 << 20 => {
            let divisors: Vec<usize> = (1..=c).filter(|d| c % d == 0).collect();
            divisors[usize::from(k) % divisors.len()]
        }
        Groups::Divisor(k) => usize::from(k),
        Groups::Any(d) => d.value(),
    };
    let eps = input.eps.value();
    let want = spec::shape_len(&shape);
    let tensor = Tensor::build(input.elem, input.isa, input.buffers, &input.data, want);
    let affine = Affine::build(&input.gamma, &input.beta, c);
    let (g, b) = (affine.gamma(), affine.beta());
    let saved_len = want.and_then(|_| n.checked_mul(groups));
    let saved = input.saved.map(|sv| sv.build(saved_len));

    let valid = tensor.lengths_ok(want)
        && groups != 0
        && c != 0
        && c % groups == 0
        && spec::eps_valid(eps)
        && affine.lengths_ok(c)
        && saved::lengths_ok(saved.as_ref(), saved_len);

    let dims = adapt::dims(&shape);
    let per_group = Grouping::PerSample { groups };
    let grouping = valid.then(|| GroupMap::of(&dims, per_group));
    let params = ParamFlags::of(tensor.elem, eps, &[g, b]);
    let case = Case {
        // Groups are empty when spatial = 0: nothing is normalized and no statistic is written.
        extras: saved::extras(saved.as_ref(), ["mean", "inv_std"], shape.spatial() > 0),
        grouping: grouping.as_ref(),
        ..tensor.case("group_norm", valid, params)
    };
    let p = GroupNorm::new(groups).eps(eps).maybe_gamma(g).maybe_beta(b);
    let run =
        |k: &Kernels, io: Io<'_>, _: &[f32], extras: &mut [Vec<f32>]| -> Result<(), NormError> {
            each_elem!(io, io => k.group_norm(&p, shape, io, saved::stats(extras)))
        };
    let reference =
        |x: &[f32]| check::standard_reference(x, &dims, per_group, eps, &affine, saved.is_some());
    check::check_case(&case, &run, &reference);
}
