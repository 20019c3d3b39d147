//! LayerNorm (`Kernels::layer_norm`) over the rows of `Shape::rows` and over the channels of a
//! tensor in either layout, with optional gamma, beta and saved statistics.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use normkern::{Kernels, LayerNorm, NormError};
use normkern_fuzz::adapt::{MaybeBeta, MaybeGamma};
use normkern_fuzz::check::{self, Case, GroupMap, ParamFlags, Tensor};
use normkern_fuzz::each_elem;
use normkern_fuzz::elem::{ElemPick, Io};
use normkern_fuzz::input::{
    self as spec, Affine, Buffers, Eps, IsaPick, Param, RowMode, SavedSpec,
};
use normkern_fuzz::saved;
use normkern_reference::Grouping;

#[derive(Arbitrary, Debug)]
struct Input {
    /// The element type (first: every seed written before it decodes with a zero byte in
    /// front, as f32).
    elem: ElemPick,
    mode: RowMode,
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
    let eps = input.eps.value();
    let rows = input.mode.rows();
    let tensor = Tensor::build(input.elem, input.isa, input.buffers, &input.data, rows.len);
    let affine = Affine::build(&input.gamma, &input.beta, rows.cols);
    let (g, b) = (affine.gamma(), affine.beta());
    let saved = input.saved.map(|s| s.build(rows.positions));

    // Independent validity: the exact tensor, at least one channel, gamma and beta of one
    // value per channel, one saved statistic per position.
    let valid = tensor.lengths_ok(rows.len)
        && rows.params_ok(g, b)
        && spec::eps_valid(eps)
        && saved::lengths_ok(saved.as_ref(), rows.positions);

    let dims = valid.then(|| rows.dims());
    let grouping = dims.map(|d| GroupMap::of(&d, Grouping::PerPosition));
    let params = ParamFlags::of(tensor.elem, eps, &[g, b]);
    let case = Case {
        extras: saved::extras(saved.as_ref(), ["mean", "inv_std"], true),
        grouping: grouping.as_ref(),
        ..tensor.case("layer_norm", valid, params)
    };
    let p = LayerNorm::new().eps(eps).maybe_gamma(g).maybe_beta(b);
    let run =
        |k: &Kernels, io: Io<'_>, _: &[f32], extras: &mut [Vec<f32>]| -> Result<(), NormError> {
            each_elem!(io, io => k.layer_norm(&p, rows.shape, io, saved::stats(extras)))
        };
    let reference = |x: &[f32]| {
        let dims = dims.as_ref().expect("valid");
        let rows = Grouping::PerPosition;
        check::standard_reference(x, dims, rows, eps, &affine, saved.is_some())
    };
    check::check_case(&case, &run, &reference);
}
