//! ONNX MeanVarianceNormalization: `y = (x - mean) / (sqrt(var) + 1e-9)`, no affine.

use super::affine::ChannelAffine;
use super::check::Check;
use super::grouped::Reduce;
use crate::element::Element;
use crate::error::NormError;
use crate::io::InOut;
use crate::kernels::{Identity, Kernels};
use crate::shape::Shape;
use crate::stats::GroupStats;

/// Which axes of `[N, C, spatial]` are reduced together.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum MvnAxes {
    /// ONNX's default `axes = [0, 2, 3]`: each channel over the batch and all positions.
    #[default]
    BatchAndSpatial,
    /// `axes = [2, 3]`: each (n, c) over its positions.
    Spatial,
    /// `axes = [1, 2, 3]`: each sample over all its channels and positions.
    ChannelsAndSpatial,
}

/// A MeanVarianceNormalization node: the axes it reduces over.
///
/// ```
/// use normkern::{MeanVarianceNorm, MvnAxes};
/// let per_image = MeanVarianceNorm::new().axes(MvnAxes::Spatial);
/// # let _ = per_image;
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct MeanVarianceNorm {
    pub(crate) axes: MvnAxes,
}

impl MeanVarianceNorm {
    /// ONNX's default axes, [`MvnAxes::BatchAndSpatial`].
    pub const fn new() -> Self {
        MeanVarianceNorm {
            axes: MvnAxes::BatchAndSpatial,
        }
    }

    /// Reduce over `axes` instead.
    pub const fn axes(self, axes: MvnAxes) -> Self {
        MeanVarianceNorm { axes }
    }
}

/// Added to the standard deviation, as ONNX's reference does.
const STD_EPS: f32 = 1e-9;

impl Kernels {
    /// Mean-variance normalization of `shape` over `p`'s axes, either layout:
    /// `y = (x - mean) / (sqrt(var) + 1e-9)` with the biased variance.
    ///
    /// ```
    /// use normkern::{InOut, Kernels, MeanVarianceNorm, Shape};
    /// let x = [1.0f32, 3.0, 1.0, 3.0]; // NCL 2x1x2: one channel over the batch
    /// let mut y = [0.0f32; 4];
    /// Kernels::detect().mean_variance_norm(&MeanVarianceNorm::new(), Shape::ncl(2, 1, 2), InOut::new(&x, &mut y))?;
    /// assert!(y.iter().zip([-1.0, 1.0, -1.0, 1.0]).all(|(a, b)| (a - b).abs() < 1e-6));
    /// # Ok::<(), normkern::NormError>(())
    /// ```
    pub fn mean_variance_norm<T: Element>(
        &self,
        p: &MeanVarianceNorm,
        shape: Shape,
        mut io: InOut<'_, T>,
    ) -> Result<(), NormError> {
        let check = Check::new("mean_variance_norm");
        if check.tensor(&shape, &io)? == 0 {
            return Ok(());
        }
        let reduce = match p.axes {
            MvnAxes::BatchAndSpatial => Reduce::Channel,
            MvnAxes::Spatial => Reduce::SampleGroup { group_size: 1 },
            MvnAxes::ChannelsAndSpatial => Reduce::SampleGroup {
                group_size: shape.c().max(1),
            },
        };
        let mut finish = |_: usize, stats: &GroupStats| 1.0 / (stats.var.sqrt() + STD_EPS);
        self.normalize_groups(
            shape,
            reduce,
            ChannelAffine::default(),
            &mut io,
            &mut finish,
            Identity,
        );
        Ok(())
    }
}
