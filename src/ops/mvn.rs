//! ONNX MeanVarianceNormalization: `y = (x - mean) / (sqrt(var) + 1e-9)`, no affine.

use super::affine::ChannelAffine;
use super::check;
use super::grouped::Reduce;
use crate::error::NormError;
use crate::io::InOut;
use crate::kernels::Kernels;
use crate::shape::Shape;
use crate::stats::GroupStats;

/// Which axes of `[N, C, spatial]` are reduced together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MvnAxes {
    /// ONNX's default `axes = [0, 2, 3]`: each channel over the batch and all positions.
    BatchAndSpatial,
    /// `axes = [2, 3]`: each (n, c) over its positions.
    Spatial,
    /// `axes = [1, 2, 3]`: each sample over all its channels and positions.
    ChannelsAndSpatial,
}

/// MeanVarianceNormalization parameters.
#[derive(Clone, Copy, Debug)]
pub struct MeanVarianceNorm {
    pub shape: Shape,
    pub axes: MvnAxes,
}

impl MeanVarianceNorm {
    /// ONNX's default axes.
    pub const fn new(shape: Shape) -> Self {
        MeanVarianceNorm {
            shape,
            axes: MvnAxes::BatchAndSpatial,
        }
    }
    pub const fn axes(self, axes: MvnAxes) -> Self {
        MeanVarianceNorm { axes, ..self }
    }
}

/// Added to the standard deviation, as ONNX's reference does.
const STD_EPS: f32 = 1e-9;

impl Kernels {
    /// Mean-variance normalization over `p.axes`.
    pub fn mean_variance_norm(
        &self,
        p: &MeanVarianceNorm,
        mut io: InOut<'_>,
    ) -> Result<(), NormError> {
        let shape = p.shape;
        if check::tensor(&shape, io.input_len(), Some(io.output_len()))? == 0 {
            return Ok(());
        }
        let reduce = match p.axes {
            MvnAxes::BatchAndSpatial => Reduce::Channel,
            MvnAxes::Spatial => Reduce::SampleGroup { group_size: 1 },
            MvnAxes::ChannelsAndSpatial => Reduce::SampleGroup {
                group_size: shape.c.max(1),
            },
        };
        let mut finish = |_: usize, stats: &GroupStats| 1.0 / (stats.var.sqrt() + STD_EPS);
        self.normalize_groups(
            shape,
            reduce,
            ChannelAffine::default(),
            &mut io,
            &mut finish,
        );
        Ok(())
    }
}
