//! InstanceNorm (each (n, c) over its positions) in both layouts, with optional gamma, beta and
//! saved statistics.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use normkern::{InstanceNorm, Kernels, NormError};
use normkern_fuzz::adapt::{MaybeBeta, MaybeGamma};
use normkern_fuzz::check::{self, Case, GroupMap, ParamFlags, Tensor};
use normkern_fuzz::each_elem;
use normkern_fuzz::elem::{ElemPick, Io};
use normkern_fuzz::input::{
    self as spec, Affine, Buffers, Eps, IsaPick, Param, SavedSpec, ShapeSpec,
};
use normkern_fuzz::{adapt, saved};
use normkern_reference::Grouping;

#[derive(Arbitrary, Debug)]
struct Input {
    /// The element type (first: every seed written before it decodes with a zero byte in
    /// front, as f32).
    elem: ElemPick,
    shape: ShapeSpec,
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
    let eps = input.eps.value();
    let want = spec::shape_len(&shape);
    let tensor = Tensor::build(input.elem, input.isa, input.buffers, &input.data, want);
    let affine = Affine::build(&input.gamma, &input.beta, shape.c());
    let (g, b) = (affine.gamma(), affine.beta());
    let groups = want.and_then(|_| shape.n().checked_mul(shape.c()));
    let saved = input.saved.map(|s| s.build(groups));

    let valid = tensor.lengths_ok(want)
        && spec::eps_valid(eps)
        && affine.lengths_ok(shape.c())
        && saved::lengths_ok(saved.as_ref(), groups);

    let dims = adapt::dims(&shape);
    let per_instance = Grouping::PerSample { groups: shape.c() };
    let grouping = valid.then(|| GroupMap::of(&dims, per_instance));
    let params = ParamFlags::of(tensor.elem, eps, &[g, b]);
    let case = Case {
        // Groups are empty when spatial = 0: nothing is normalized and no statistic is written.
        extras: saved::extras(saved.as_ref(), ["mean", "inv_std"], shape.spatial() > 0),
        grouping: grouping.as_ref(),
        ..tensor.case("instance_norm", valid, params)
    };
    let p = InstanceNorm::new().eps(eps).maybe_gamma(g).maybe_beta(b);
    let run =
        |k: &Kernels, io: Io<'_>, _: &[f32], extras: &mut [Vec<f32>]| -> Result<(), NormError> {
            each_elem!(io, io => k.instance_norm(&p, shape, io, saved::stats(extras)))
        };
    let reference = |x: &[f32]| {
        check::standard_reference(x, &dims, per_instance, eps, &affine, saved.is_some())
    };
    check::check_case(&case, &run, &reference);
}
