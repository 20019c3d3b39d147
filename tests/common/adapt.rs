//! normkern's tensor and convention types as the float64 reference's (`normkern-reference`
//! shares no code with normkern, so it has its own). The one place they are converted: the
//! tests use it as `common::adapt`, the benchmarks and the fuzz oracle include this file by
//! path, so a change of normkern's API is met here once.

// Each includer uses a different subset.
#![allow(dead_code)]

use normkern::{Layout, Momentum, MvnAxes, Shape};
use normkern_reference as r;

/// `shape` as the reference's dimensions.
pub fn dims(shape: &Shape) -> r::Dims {
    r::Dims {
        n: shape.n,
        c: shape.c,
        spatial: shape.spatial,
        channels_last: shape.layout == Layout::ChannelsLast,
    }
}

/// The reference's dimensions as a normkern shape.
pub fn shape(dims: &r::Dims) -> Shape {
    if dims.channels_last {
        Shape::channels_last(dims.n, dims.spatial, dims.c)
    } else {
        Shape::channels_first(dims.n, dims.c, dims.spatial)
    }
}

pub fn axes(axes: MvnAxes) -> r::MvnAxes {
    match axes {
        MvnAxes::BatchAndSpatial => r::MvnAxes::BatchAndSpatial,
        MvnAxes::Spatial => r::MvnAxes::Spatial,
        MvnAxes::ChannelsAndSpatial => r::MvnAxes::ChannelsAndSpatial,
    }
}

pub fn momentum(m: Momentum) -> r::Momentum {
    match m {
        Momentum::PyTorch(m) => r::Momentum::PyTorch(m),
        Momentum::CumulativeAverage { batches } => r::Momentum::CumulativeAverage { batches },
        Momentum::Onnx(m) => r::Momentum::Onnx(m),
    }
}
