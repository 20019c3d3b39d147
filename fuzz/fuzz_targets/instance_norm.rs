//! InstanceNorm (each (n, c) over its positions) in both layouts, with optional gamma, beta and
//! saved statistics.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use normkern::{InstanceNorm, Kernels, NormError};
use normkern_fuzz::adapt::{MaybeBeta, MaybeGamma};
use normkern_fuzz::bounds as r;
use normkern_fuzz::check::{self, Case, GroupMap};
use normkern_fuzz::each_elem;
use normkern_fuzz::elem::{ElemPick, Io};
use normkern_fuzz::input::{self as spec, Buffers, Eps, IsaPick, Param, SavedSpec, ShapeSpec};
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
    let (x, y_len) = input.buffers.build(&input.data, want);
    let gamma = spec::opt_param(&input.gamma, Some(shape.c()));
    let beta = spec::opt_param(&input.beta, Some(shape.c()));
    let (g, b) = (gamma.as_deref(), beta.as_deref());
    let groups = want.and_then(|_| shape.n().checked_mul(shape.c()));
    let saved = input.saved.map(|s| s.build(groups));

    let valid = input.buffers.tensor_lengths_ok(want, &x, y_len)
        && spec::eps_valid(eps)
        && g.is_none_or(|v| v.len() == shape.c())
        && b.is_none_or(|v| v.len() == shape.c())
        && saved::lengths_ok(saved.as_ref(), groups);

    let dims = adapt::dims(&shape);
    let per_instance = Grouping::PerSample { groups: shape.c() };
    let grouping = valid.then(|| GroupMap::of(&dims, per_instance));
    // Groups are empty when spatial = 0: nothing is normalized and no statistic is written.
    let extras = saved::extras(saved.as_ref(), ["mean", "inv_std"], shape.spatial() > 0);
    let case = Case {
        name: "instance_norm",
        elem: input.elem.ty(),
        x,
        y_len,
        in_place: input.buffers.in_place,
        valid,
        extras,
        isa: input.isa.isa(),
        grouping: grouping.as_ref(),
        poison_whole_group: true,
        params_finite: check::finite(g) && check::finite(b),
        params_sentinel: check::sentinel_in(g) || check::sentinel_in(b),
        params_in_domain: r::eps_in_domain(eps) && r::params_in_domain(g) && r::params_in_domain(b),
    };
    let p = InstanceNorm::new().eps(eps).maybe_gamma(g).maybe_beta(b);
    let run =
        |k: &Kernels, io: Io<'_>, _: &[f32], extras: &mut [Vec<f32>]| -> Result<(), NormError> {
            each_elem!(io, io => k.instance_norm(&p, shape, io, saved::stats(extras)))
        };
    let reference =
        |x: &[f32]| check::standard_reference(x, &dims, per_instance, eps, g, b, saved.is_some());
    check::check_case(&case, &run, &reference);
}
