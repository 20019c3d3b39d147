//! RMSNorm (`Kernels::rms_norm`) over the rows of `Shape::rows` and over the channels of a
//! tensor in either layout, with optional gamma and inverse root mean squares.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use normkern::{Kernels, NormError, RmsNorm};
use normkern_fuzz::adapt::MaybeGamma;
use normkern_fuzz::bounds as r;
use normkern_fuzz::check::{self, Case, Extra, GroupMap, ParamFlags, Reference, Tensor};
use normkern_fuzz::each_elem;
use normkern_fuzz::elem::{ElemPick, Io};
use normkern_fuzz::input::{self as spec, Buffers, Eps, IsaPick, Len, Param, RowMode};
use normkern_reference::{self as exact, Formula, Grouping};

#[derive(Arbitrary, Debug)]
struct Input {
    /// The element type (first: every seed written before it decodes with a zero byte in
    /// front, as f32).
    elem: ElemPick,
    mode: RowMode,
    isa: IsaPick,
    buffers: Buffers,
    eps: Eps,
    /// Ask for the inverse root mean squares, into a buffer of this length. (Decoded before
    /// gamma, whose data is read partly from the input's end: a seed written before this field
    /// existed decodes as it did with one zero byte, `None`, inserted here.)
    inv_rms: Option<Len>,
    gamma: Option<Param>,
    data: spec::Data,
}

fuzz_target!(|input: Input| run(input));

fn run(input: Input) {
    let eps = input.eps.value();
    let rows = input.mode.rows();
    let tensor = Tensor::build(input.elem, input.isa, input.buffers, &input.data, rows.len);
    let gamma = spec::opt_param(&input.gamma, Some(rows.cols));
    let g = gamma.as_deref();
    let inv_rms_len = input.inv_rms.map(|l| l.resolve(rows.positions));

    let valid = tensor.lengths_ok(rows.len)
        && rows.params_ok(g, None)
        && spec::eps_valid(eps)
        && inv_rms_len.is_none_or(|l| Some(l) == rows.positions);

    let dims = valid.then(|| rows.dims());
    let grouping = dims.map(|d| GroupMap::of(&d, Grouping::PerPosition));
    let params = ParamFlags::of(tensor.elem, eps, &[g]);
    let case = Case {
        extras: inv_rms_len.map_or(vec![], |l| vec![Extra::output("inv_rms", l, true)]),
        grouping: grouping.as_ref(),
        poison_whole_group: false,
        ..tensor.case("rms_norm", valid, params)
    };
    let p = RmsNorm::new().eps(eps).maybe_gamma(g);
    let run = |k: &Kernels,
               io: Io<'_>,
               _: &[f32],
               extras: &mut [Vec<f32>]|
     -> Result<(), NormError> {
        each_elem!(io, io => k.rms_norm(&p, rows.shape, io, extras.first_mut().map(|v| &mut v[..])))
    };
    let reference = |x: &[f32]| {
        let dims = dims.as_ref().expect("valid");
        let want = exact::channels(x, dims, Formula::Rms { eps }, g, None);
        let extras = match inv_rms_len {
            Some(_) => vec![r::saved_inv_rms(&want.stats, eps)],
            None => vec![],
        };
        Reference {
            y: r::outputs(&want, dims, Grouping::PerPosition, g),
            extras,
        }
    };
    check::check_case(&case, &run, &reference);
}
