//! LayerNorm over rows (`Kernels::layer_norm`) and over the channels of a tensor in either
//! layout (`Kernels::layer_norm_channels`), with optional gamma, beta and saved statistics.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use normkern::{InOut, Kernels, LayerNorm, NormError};
use normkern_fuzz::bounds as r;
use normkern_fuzz::check::{self, Case, GroupMap};
use normkern_fuzz::input::{self as spec, Buffers, Eps, IsaPick, Param, RowMode, SavedSpec};
use normkern_fuzz::saved;
use normkern_reference::Grouping;

#[derive(Arbitrary, Debug)]
struct Input {
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
    let (cols, shape) = (rows.cols, rows.shape);
    let (x, y_len) = input.buffers.build(&input.data, rows.len);
    let gamma = spec::opt_param(&input.gamma, Some(cols));
    let beta = spec::opt_param(&input.beta, Some(cols));
    let (g, b) = (gamma.as_deref(), beta.as_deref());

    // Independent validity: rows mode accepts any whole number of rows; channels mode needs
    // the exact shape, cols == c and c > 0.
    let x_rows = (cols != 0 && x.len().is_multiple_of(cols)).then(|| x.len() / cols);
    let y_ok = input.buffers.in_place || y_len == x.len();
    let saved_rows = match shape {
        None => x_rows,
        Some(_) => rows.rows,
    };
    let saved = input.saved.map(|s| s.build(saved_rows));
    let saved_ok = saved::lengths_ok(saved.as_ref(), saved_rows);
    let params_ok = spec::eps_valid(eps)
        && g.is_none_or(|v| v.len() == cols)
        && b.is_none_or(|v| v.len() == cols);
    let valid = rows.x_ok(x.len()) && y_ok && saved_ok && params_ok;

    let dims = valid.then(|| rows.dims(x.len()));
    let grouping = dims.map(|d| GroupMap::of(&d, Grouping::PerPosition));
    let extras = saved::extras(saved.as_ref(), ["mean", "inv_std"], true);
    let case = Case {
        name: if shape.is_some() {
            "layer_norm_channels"
        } else {
            "layer_norm"
        },
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
    let mut p = LayerNorm::new(cols).eps(eps);
    p.gamma = g;
    p.beta = b;
    let run = |k: &Kernels, io: InOut<'_>, extras: &mut [Vec<f32>]| -> Result<(), NormError> {
        let stats = saved::stats(extras);
        match shape {
            None => k.layer_norm(&p, io, stats),
            Some(s) => k.layer_norm_channels(&p, s, io, stats),
        }
    };
    let reference = |x: &[f32]| {
        let dims = dims.as_ref().expect("valid");
        let rows = Grouping::PerPosition;
        check::standard_reference(x, dims, rows, eps, g, b, saved.is_some())
    };
    check::check_case(&case, &run, &reference);
}
