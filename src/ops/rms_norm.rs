//! RMSNorm: LayerNorm without the mean, `y = x / sqrt(mean(x²) + eps) * gamma`.

use super::affine::ChannelAffine;
use super::check;
use super::columns::Columns;
use super::spread::deviation_scale;
use crate::error::NormError;
use crate::io::InOut;
use crate::kernels::{Kernels, Rows};
use crate::shape::{Layout, Shape};

/// RMSNorm parameters: rows of `cols` values (ONNX RMSNormalization, PyTorch `nn.RMSNorm`).
#[derive(Clone, Copy, Debug)]
pub struct RmsNorm<'a> {
    pub cols: usize,
    pub eps: f32,
    /// Per-element scale, `cols` values.
    pub gamma: Option<&'a [f32]>,
}

impl<'a> RmsNorm<'a> {
    /// Rows of `cols`, eps 1e-5, no scale.
    pub const fn new(cols: usize) -> Self {
        RmsNorm {
            cols,
            eps: check::DEFAULT_EPS,
            gamma: None,
        }
    }
    pub const fn eps(self, eps: f32) -> Self {
        RmsNorm { eps, ..self }
    }
    pub const fn gamma(self, gamma: &'a [f32]) -> Self {
        RmsNorm {
            gamma: Some(gamma),
            ..self
        }
    }

    fn check(&self) -> Result<(), NormError> {
        check::eps(self.eps)?;
        check::optional("gamma", self.gamma, self.cols)
    }
}

impl Kernels {
    /// Normalizes each row of `p.cols` values by its root mean square.
    pub fn rms_norm(&self, p: &RmsNorm<'_>, mut io: InOut<'_>) -> Result<(), NormError> {
        let rows = check::rows(p.cols, io.input_len(), Some(io.output_len()))?;
        p.check()?;
        let rows = Rows {
            rows,
            cols: p.cols,
            eps: p.eps,
            center: false,
            gamma: p.gamma,
            beta: None,
        };
        self.normalize_rows(&mut io, &rows, None);
        Ok(())
    }

    /// RMSNorm over the channels at each position (`p.cols` must equal `shape.c`); see
    /// [`Kernels::layer_norm_channels`].
    pub fn rms_norm_channels(
        &self,
        p: &RmsNorm<'_>,
        shape: Shape,
        mut io: InOut<'_>,
    ) -> Result<(), NormError> {
        check::tensor(&shape, io.input_len(), Some(io.output_len()))?;
        check::len("cols", p.cols, shape.c)?;
        p.check()?;
        if shape.c == 0 {
            return Err(NormError::ZeroDimension("c"));
        }
        if shape.layout == Layout::ChannelsLast {
            return self.rms_norm(p, io);
        }
        for n in 0..shape.n {
            let set = Columns {
                start: n * shape.c * shape.spatial,
                rows: shape.c,
                cols: shape.spatial,
                group_size: 1,
                center: false,
                column_affine: ChannelAffine::default(),
                row_affine: ChannelAffine {
                    gamma: p.gamma,
                    beta: None,
                },
            };
            self.columns_normalize(&mut io, &set, &mut |_, stats| {
                deviation_scale(stats.var.inv_sqrt_plus(p.eps))
            });
        }
        Ok(())
    }
}
