//! LayerNorm over rows (`Kernels::layer_norm`) and over the channels of a tensor in either
//! layout (`Kernels::layer_norm_channels`), with optional gamma, beta and saved statistics.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use normkern::{InOut, Kernels, LayerNorm, NormError, SavedStats};
use normkern_fuzz::check::{self, Case, Extra, Reference};
use normkern_fuzz::input::{
    self as spec, Buffers, Dim, Eps, IsaPick, Len, Param, SavedSpec, ShapeSpec,
};
use normkern_fuzz::reference::{self as r, Grouping, Norm};

#[derive(Arbitrary, Debug)]
enum Mode {
    /// `rows` rows of `cols` values.
    Rows { rows: Dim, cols: Dim },
    /// `layer_norm_channels`: `cols` must equal the shape's channel count.
    Channels { shape: ShapeSpec, cols: Len },
}

#[derive(Arbitrary, Debug)]
struct Input {
    mode: Mode,
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
    // cols, the expected input length, the number of rows, and the shape (channels mode).
    let (cols, want_len, rows, shape) = match &input.mode {
        Mode::Rows { rows, cols } => {
            let (rows, cols) = (rows.value(), cols.value());
            (cols, spec::mul(rows, cols), Some(rows), None)
        }
        Mode::Channels { shape, cols } => {
            let shape = shape.shape();
            let want = spec::shape_len(&shape);
            let cols = if shape.c > spec::CAP {
                shape.c
            } else {
                cols.resolve(Some(shape.c))
            };
            let rows = want.and_then(|_| shape.n.checked_mul(shape.spatial));
            (cols, want, rows, Some(shape))
        }
    };
    let x = input.data.fill(input.buffers.x_len.resolve(want_len));
    let y_len = input.buffers.y_len.resolve(want_len);
    let gamma = spec::opt_param(&input.gamma, Some(cols));
    let beta = spec::opt_param(&input.beta, Some(cols));
    let (g, b) = (gamma.as_deref(), beta.as_deref());

    // Independent validity: rows mode accepts any whole number of rows; channels mode needs
    // the exact shape, cols == c and c > 0.
    let x_rows = (cols != 0 && x.len().is_multiple_of(cols)).then(|| x.len() / cols);
    let y_ok = input.buffers.in_place || y_len == x.len();
    let saved_rows = match shape {
        None => x_rows,
        Some(_) => rows,
    };
    let saved = input.saved.map(|s| s.build(saved_rows));
    let saved_ok = saved
        .as_ref()
        .is_none_or(|(m, i)| Some(m.len()) == saved_rows && Some(i.len()) == saved_rows);
    let params_ok = spec::eps_valid(eps)
        && g.is_none_or(|v| v.len() == cols)
        && b.is_none_or(|v| v.len() == cols);
    let shape_ok = match shape {
        None => x_rows.is_some(),
        Some(s) => want_len.is_some() && Some(x.len()) == want_len && cols == s.c && s.c != 0,
    };
    let valid = shape_ok && y_ok && saved_ok && params_ok;

    let grouping = valid.then(|| match shape {
        None => Grouping::rows(x.len(), cols),
        Some(s) => {
            let cl = s.layout == normkern::Layout::ChannelsLast;
            Grouping::tensor(
                s.n,
                s.c,
                s.spatial,
                cl,
                s.n.saturating_mul(s.spatial),
                |n, c, p| (n * s.spatial + p, c),
            )
        }
    });
    let extras = match &saved {
        Some((m, i)) => vec![
            Extra::output("mean", m.len(), true),
            Extra::output("inv_std", i.len(), true),
        ],
        None => vec![],
    };
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
        let stats = match extras {
            [mean, inv_std] => Some(SavedStats { mean, inv_std }),
            _ => None,
        };
        match shape {
            None => k.layer_norm(&p, io, stats),
            Some(s) => k.layer_norm_channels(&p, s, io, stats),
        }
    };
    let reference = |x: &[f32]| {
        let grouping = grouping.as_ref().expect("valid");
        let out = r::normalize(x, grouping, Norm::Standard { eps }, g, b);
        let extras = if saved.is_some() {
            vec![r::saved_mean(&out.stats), r::saved_inv_std(&out.stats, eps)]
        } else {
            vec![]
        };
        Reference { y: out.y, extras }
    };
    check::check_case(&case, &run, &reference);
}
