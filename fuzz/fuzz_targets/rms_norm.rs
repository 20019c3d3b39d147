//! RMSNorm over rows (`Kernels::rms_norm`) and over the channels of a tensor in either layout
//! (`Kernels::rms_norm_channels`), with optional gamma.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use normkern::{InOut, Kernels, NormError, RmsNorm};
use normkern_fuzz::bounds as r;
use normkern_fuzz::check::{self, Case, GroupMap, Reference};
use normkern_fuzz::input::{self as spec, Buffers, Eps, IsaPick, Param, RowMode};
use normkern_reference::{self as exact, Formula, Grouping};

#[derive(Arbitrary, Debug)]
struct Input {
    mode: RowMode,
    isa: IsaPick,
    buffers: Buffers,
    eps: Eps,
    gamma: Option<Param>,
    data: spec::Data,
}

fuzz_target!(|input: Input| run(input));

fn run(input: Input) {
    let eps = input.eps.value();
    let rows = input.mode.rows();
    let (cols, shape) = (rows.cols, rows.shape);
    let (x, y_len) = input.buffers.build(&input.data, rows.len);
    let gamma = spec::opt_param(&input.gamma, Some(cols));
    let g = gamma.as_deref();

    let y_ok = input.buffers.in_place || y_len == x.len();
    let params_ok = spec::eps_valid(eps) && g.is_none_or(|v| v.len() == cols);
    let valid = rows.x_ok(x.len()) && y_ok && params_ok;

    let dims = valid.then(|| rows.dims(x.len()));
    let grouping = dims.map(|d| GroupMap::of(&d, Grouping::PerPosition));
    let case = Case {
        name: if shape.is_some() {
            "rms_norm_channels"
        } else {
            "rms_norm"
        },
        x,
        y_len,
        in_place: input.buffers.in_place,
        valid,
        extras: vec![],
        isa: input.isa.isa(),
        grouping: grouping.as_ref(),
        poison_whole_group: false,
        params_finite: check::finite(g),
        params_sentinel: check::sentinel_in(g),
        params_in_domain: r::eps_in_domain(eps) && r::params_in_domain(g),
    };
    let mut p = RmsNorm::new(cols).eps(eps);
    p.gamma = g;
    let run = |k: &Kernels, io: InOut<'_>, _: &mut [Vec<f32>]| -> Result<(), NormError> {
        match shape {
            None => k.rms_norm(&p, io),
            Some(s) => k.rms_norm_channels(&p, s, io),
        }
    };
    let reference = |x: &[f32]| {
        let dims = dims.as_ref().expect("valid");
        let want = exact::channels(x, dims, Formula::Rms { eps }, g, None);
        Reference {
            y: r::outputs(&want, dims, Grouping::PerPosition, g),
            extras: vec![],
        }
    };
    check::check_case(&case, &run, &reference);
}
