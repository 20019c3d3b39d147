//! normkern's tensor and convention types as the float64 reference's (`normkern-reference`
//! shares no code with normkern, so it has its own), and optional parameters onto normkern's
//! layer builders. The one place they are converted: the tests use it as `common::adapt`, the
//! benchmarks and the fuzz oracle include this file by path, so a change of normkern's API is
//! met here once.

// Each includer uses a different subset.
#![allow(dead_code)]

use normkern::{
    BatchNorm, BatchNormTraining, GroupNorm, InstanceNorm, LayerNorm, Layout, Momentum, MvnAxes,
    RmsNorm, Shape,
};
use normkern_reference as r;

/// `shape` as the reference's dimensions.
pub fn dims(shape: &Shape) -> r::Dims {
    r::Dims {
        n: shape.n(),
        c: shape.c(),
        spatial: shape.spatial(),
        channels_last: shape.layout() == Layout::ChannelsLast,
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
        other => panic!("no reference for MVN axes {other:?}"),
    }
}

pub fn momentum(m: Momentum) -> r::Momentum {
    match m {
        Momentum::PyTorch(m) => r::Momentum::PyTorch(m),
        Momentum::CumulativeAverage { batches } => r::Momentum::CumulativeAverage { batches },
        Momentum::Onnx(m) => r::Momentum::Onnx(m),
        other => panic!("no reference for momentum {other:?}"),
    }
}

/// A layer's gamma, set only when present (the builders take a slice, the harnesses hold an
/// `Option`).
pub trait MaybeGamma<'a>: Sized {
    fn maybe_gamma(self, gamma: Option<&'a [f32]>) -> Self;
}

/// A layer's beta, set only when present.
pub trait MaybeBeta<'a>: Sized {
    fn maybe_beta(self, beta: Option<&'a [f32]>) -> Self;
}

macro_rules! maybe {
    ($trait:ident $method:ident $setter:ident: $($layer:ident),*) => {
        $(impl<'a> $trait<'a> for $layer<'a> {
            fn $method(self, value: Option<&'a [f32]>) -> Self {
                match value {
                    Some(v) => self.$setter(v),
                    None => self,
                }
            }
        })*
    };
}

maybe!(MaybeGamma maybe_gamma gamma: LayerNorm, RmsNorm, BatchNorm, BatchNormTraining, InstanceNorm, GroupNorm);
maybe!(MaybeBeta maybe_beta beta: LayerNorm, BatchNorm, BatchNormTraining, InstanceNorm, GroupNorm);
