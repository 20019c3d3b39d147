//! GroupNorm (each (n, group of adjacent channels) over its channels and positions) in both
//! layouts, with optional gamma, beta and saved statistics.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use normkern::{GroupNorm, InOut, Kernels, Layout, NormError, SavedStats};
use normkern_fuzz::check::{self, Case, Extra, Reference};
use normkern_fuzz::input::{self as spec, Buffers, Dim, Eps, IsaPick, Param, SavedSpec, ShapeSpec};
use normkern_fuzz::reference::{self as r, Grouping, Norm};

#[derive(Arbitrary, Debug)]
enum Groups {
    /// The k-th divisor of the channel count (valid whenever c > 0).
    Divisor(u8),
    /// Any count (zero, non-divisors, more groups than channels).
    Any(Dim),
}

#[derive(Arbitrary, Debug)]
struct Input {
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
    let (n, c, s) = (shape.n, shape.c, shape.spatial);
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
    let x = input.data.fill(input.buffers.x_len.resolve(want));
    let y_len = input.buffers.y_len.resolve(want);
    let gamma = spec::opt_param(&input.gamma, Some(c));
    let beta = spec::opt_param(&input.beta, Some(c));
    let (g, b) = (gamma.as_deref(), beta.as_deref());
    let saved_len = want.and_then(|_| n.checked_mul(groups));
    let saved = input.saved.map(|sv| sv.build(saved_len));

    let valid = want.is_some()
        && Some(x.len()) == want
        && (input.buffers.in_place || Some(y_len) == want)
        && groups != 0
        && c != 0
        && c % groups == 0
        && spec::eps_valid(eps)
        && g.is_none_or(|v| v.len() == c)
        && b.is_none_or(|v| v.len() == c)
        && saved
            .as_ref()
            .is_none_or(|(m, i)| Some(m.len()) == saved_len && Some(i.len()) == saved_len);

    let cl = shape.layout == Layout::ChannelsLast;
    let grouping = valid.then(|| {
        let size = c / groups;
        Grouping::tensor(n, c, s, cl, n.saturating_mul(groups), |ni, ci, _| {
            (ni * groups + ci / size, ci)
        })
    });
    let extras = match &saved {
        Some((m, i)) => vec![
            Extra::output("mean", m.len(), s > 0),
            Extra::output("inv_std", i.len(), s > 0),
        ],
        None => vec![],
    };
    let case = Case {
        name: "group_norm",
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
    let mut p = GroupNorm::new(shape, groups).eps(eps);
    p.gamma = g;
    p.beta = b;
    let run = |k: &Kernels, io: InOut<'_>, extras: &mut [Vec<f32>]| -> Result<(), NormError> {
        let saved = match extras {
            [mean, inv_std] => Some(SavedStats { mean, inv_std }),
            _ => None,
        };
        k.group_norm(&p, io, saved)
    };
    let reference = |x: &[f32]| {
        let out = r::normalize(
            x,
            grouping.as_ref().expect("valid"),
            Norm::Standard { eps },
            g,
            b,
        );
        let extras = if saved.is_some() {
            vec![r::saved_mean(&out.stats), r::saved_inv_std(&out.stats, eps)]
        } else {
            vec![]
        };
        Reference { y: out.y, extras }
    };
    check::check_case(&case, &run, &reference);
}
