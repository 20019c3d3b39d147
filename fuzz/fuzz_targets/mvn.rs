//! ONNX MeanVarianceNormalization over each of its three axis sets, in both layouts.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use normkern::{Kernels, MeanVarianceNorm, MvnAxes, NormError};
use normkern_fuzz::adapt;
use normkern_fuzz::bounds as r;
use normkern_fuzz::check::{self, Case, GroupMap, ParamFlags, Reference, Tensor};
use normkern_fuzz::each_elem;
use normkern_fuzz::elem::{ElemPick, Io};
use normkern_fuzz::input::{self as spec, Buffers, IsaPick, ShapeSpec};
use normkern_reference as exact;

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Axes {
    BatchAndSpatial,
    Spatial,
    ChannelsAndSpatial,
}

#[derive(Arbitrary, Debug)]
struct Input {
    /// The element type (first: every seed written before it decodes with a zero byte in
    /// front, as f32).
    elem: ElemPick,
    shape: ShapeSpec,
    axes: Axes,
    isa: IsaPick,
    buffers: Buffers,
    data: spec::Data,
}

fuzz_target!(|input: Input| run(input));

fn run(input: Input) {
    let shape = input.shape.shape();
    let axes = match input.axes {
        Axes::BatchAndSpatial => MvnAxes::BatchAndSpatial,
        Axes::Spatial => MvnAxes::Spatial,
        Axes::ChannelsAndSpatial => MvnAxes::ChannelsAndSpatial,
    };
    let want = spec::shape_len(&shape);
    let tensor = Tensor::build(input.elem, input.isa, input.buffers, &input.data, want);
    let valid = tensor.lengths_ok(want);

    let dims = adapt::dims(&shape);
    let over = adapt::axes(axes).grouping(&dims);
    let grouping = valid.then(|| GroupMap::of(&dims, over));
    let case = Case {
        grouping: grouping.as_ref(),
        ..tensor.case("mean_variance_norm", valid, ParamFlags::NONE)
    };
    let p = MeanVarianceNorm::new().axes(axes);
    let run = |k: &Kernels, io: Io<'_>, _: &[f32], _: &mut [Vec<f32>]| -> Result<(), NormError> {
        each_elem!(io, io => k.mean_variance_norm(&p, shape, io))
    };
    let reference = |x: &[f32]| Reference {
        y: r::outputs(&exact::mvn(x, &dims, adapt::axes(axes)), &dims, over, None),
        extras: vec![],
    };
    check::check_case(&case, &run, &reference);
}
