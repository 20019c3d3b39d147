//! The body of the two fused-add targets, `add_layer_norm` and `add_rms_norm`
//! (`Kernels::add_layer_norm`, `Kernels::add_rms_norm`): over the rows of `Shape::rows` and the
//! positions of a tensor in either layout (channels-first is refused), in f32, f16 or bf16,
//! with optional gamma, beta and bias, the sum written nowhere, to its own buffer or over the
//! residual, an activation or none, and the statistics when asked for.
//!
//! Generic over the operator ([`FusedNorm`]) so that each target compiles only its own
//! kernels: one target with both was the longest build of the fuzz step.

use crate::bounds as r;
use crate::check::{self, Case, Extra, GroupMap, ParamFlags, Reference, Tensor};
use crate::elem::{ElemPick, ElemType, Io};
use crate::fused::{self, ActPick, Fused, FusedNorm, SumTo};
use crate::input::{self as spec, Affine, Buffers, Eps, IsaPick, Len, Param, RowMode, SavedSpec};
use crate::saved;
use arbitrary::Arbitrary;
use normkern::{Kernels, Layout, NormError};
use normkern_reference::{self as exact, Formula, Grouping};

/// One fused-add case: the operator is the target's.
#[derive(Arbitrary, Debug)]
pub struct Input {
    elem: ElemPick,
    act: ActPick,
    mode: RowMode,
    isa: IsaPick,
    buffers: Buffers,
    eps: Eps,
    sum: SumTo,
    skip_len: Len,
    skip: spec::Data,
    bias: Option<Param>,
    gamma: Option<Param>,
    beta: Option<Param>,
    /// LayerNorm's mean and inverse std; RMSNorm takes the second as its inverse root mean
    /// squares.
    saved: Option<SavedSpec>,
    data: spec::Data,
}

/// The add pass in `elem`, widened.
fn elem_add(elem: ElemType, x: &[f32], skip: &[f32], bias: Option<&[f32]>, c: usize) -> Vec<f32> {
    elem.round_all(&fused::add::<f32>(x, skip, bias, c))
}

/// Checks one case of the fused operator `N`.
pub fn run<N: FusedNorm>(input: Input) {
    let rms = N::RMS;
    let eps = input.eps.value();
    let rows = input.mode.rows();
    let mut tensor = Tensor::build(input.elem, input.isa, input.buffers, &input.data, rows.len);
    let elem = tensor.elem;
    // Rounded here already (the harness rounds it too): the sum is computed from it.
    tensor.x = elem.round_all(&tensor.x);
    let skip = elem.round_all(&input.skip.fill(input.skip_len.resolve(rows.len)));
    // RMSNorm has no beta.
    let beta = if rms { &None } else { &input.beta };
    let affine = Affine::build(&input.gamma, beta, rows.cols);
    let bias = spec::opt_param(&input.bias, Some(rows.cols));
    let (g, b, bias) = (affine.gamma(), affine.beta(), bias.as_deref());
    let sum_len = match input.sum {
        SumTo::Own(len) => len.resolve(rows.len),
        _ => 0,
    };
    let saved = input.saved.map(|s| s.build(rows.positions));
    let c = rows.shape.c();

    // Independent validity: a channels-last shape, the exact tensor, at least one channel,
    // gamma, beta and the bias of one value per channel, the skip (and the sum's own buffer)
    // of the tensor's length, one statistic per position.
    let stats_ok = match &saved {
        None => true,
        Some((_, inv)) if rms => Some(inv.len()) == rows.positions,
        Some(_) => saved::lengths_ok(saved.as_ref(), rows.positions),
    };
    let valid = rows.shape.layout() == Layout::ChannelsLast
        && tensor.lengths_ok(rows.len)
        && rows.params_ok(g, b)
        && bias.is_none_or(|v| v.len() == c)
        && spec::eps_valid(eps)
        && stats_ok
        && Some(skip.len()) == rows.len
        && (!matches!(input.sum, SumTo::Own(_)) || Some(sum_len) == rows.len);

    // The numeric domain: the sum of the finite version of x (as the harness makes it) with
    // the skip and the bias, besides the parameters.
    let clean: Vec<f32> = tensor
        .x
        .iter()
        .map(|&v| if v.is_finite() { v } else { 0.0 })
        .collect();
    let sum_in_domain = valid && {
        let sum = elem_add(elem, &clean, &skip, bias, c);
        r::all_in_domain(&skip) && r::all_in_domain(&sum)
    };
    let dims = valid.then(|| rows.dims());
    let grouping = dims.map(|d| GroupMap::of(&d, Grouping::PerPosition));
    let extras = match (&saved, rms) {
        (None, _) => vec![],
        (Some((_, inv)), true) => vec![Extra::output("inv_rms", inv.len(), true)],
        (Some(_), false) => saved::extras(saved.as_ref(), ["mean", "inv_std"], true),
    };
    let with_stats = !extras.is_empty();
    let fused = Fused {
        rms,
        eps,
        gamma: g,
        beta: b,
        bias,
        act: input.act.act(),
        shape: rows.shape,
        skip: &skip,
        sum: input.sum,
        sum_len,
        sentinel: elem.sentinel(),
    };
    // The skip is read like a parameter: its sentinel is the element type's, and its domain
    // is judged through the sum's.
    let mut params = ParamFlags::of(elem, eps, &[g, b, bias]);
    params.finite &= check::finite(Some(&skip));
    params.sentinel |= check::may_write_sentinel(elem, &skip);
    params.in_domain &= sum_in_domain;
    let case = Case {
        extras,
        grouping: grouping.as_ref(),
        poison_whole_group: !rms,
        ..tensor.case(fused.name(), valid, params)
    };
    let run =
        |k: &Kernels, io: Io<'_>, x: &[f32], extras: &mut [Vec<f32>]| -> Result<(), NormError> {
            crate::each_elem!(io, io => fused.call::<N, _>(k, io, x, extras))
        };
    let reference = |x: &[f32]| {
        let dims = dims.as_ref().expect("valid");
        let sum = elem_add(elem, x, &skip, bias, c);
        let formula = if rms {
            Formula::Rms { eps }
        } else {
            Formula::Standard { eps }
        };
        let want = exact::channels(&sum, dims, formula, g, b);
        let y = r::outputs(&want, dims, Grouping::PerPosition, g);
        let extras = match (with_stats, rms) {
            (false, _) => vec![],
            (true, true) => vec![r::saved_inv_rms(&want.stats, eps)],
            (true, false) => saved::expected(&want.stats, eps),
        };
        Reference {
            y: r::activated(y, fused.act),
            extras,
        }
    };
    check::check_case(&case, &run, &reference);
}
