//! InstanceNorm: each (sample, channel) over its positions, optional per-channel affine.

use super::affine::ChannelAffine;
use super::check;
use super::grouped::Reduce;
use super::saved::SavedStats;
use super::spread::deviation_scale;
use crate::error::NormError;
use crate::io::InOut;
use crate::kernels::Kernels;
use crate::shape::Shape;

/// InstanceNorm parameters (ONNX InstanceNormalization, PyTorch `InstanceNorm{1,2,3}d`).
#[derive(Clone, Copy, Debug)]
pub struct InstanceNorm<'a> {
    pub shape: Shape,
    pub eps: f32,
    /// Per-channel scale.
    pub gamma: Option<&'a [f32]>,
    /// Per-channel shift.
    pub beta: Option<&'a [f32]>,
}

impl<'a> InstanceNorm<'a> {
    /// eps 1e-5, no affine.
    pub const fn new(shape: Shape) -> Self {
        InstanceNorm {
            shape,
            eps: check::DEFAULT_EPS,
            gamma: None,
            beta: None,
        }
    }
}

setters!(InstanceNorm: eps, gamma, beta);

impl Kernels {
    /// Normalizes each (n, c) over its positions. `saved` receives N·C means and inverse stds,
    /// in (n, c) order.
    pub fn instance_norm(
        &self,
        p: &InstanceNorm<'_>,
        mut io: InOut<'_>,
        saved: Option<SavedStats<'_>>,
    ) -> Result<(), NormError> {
        let shape = p.shape;
        let total = check::tensor(&shape, io.input_len(), Some(io.output_len()))?;
        check::eps(p.eps)?;
        check::optional("gamma", p.gamma, shape.c)?;
        check::optional("beta", p.beta, shape.c)?;
        SavedStats::check(&saved, shape.n.saturating_mul(shape.c))?;
        if total == 0 {
            return Ok(()); // no values, no statistics defined: saved stats stay as they are
        }
        let affine = ChannelAffine {
            gamma: p.gamma,
            beta: p.beta,
        };
        self.sample_groups(shape, 1, p.eps, affine, &mut io, saved);
        Ok(())
    }

    /// Shared by InstanceNorm and GroupNorm: per (n, group of `group_size` channels).
    pub(crate) fn sample_groups(
        &self,
        shape: Shape,
        group_size: usize,
        eps: f32,
        affine: ChannelAffine<'_>,
        io: &mut InOut<'_>,
        mut saved: Option<SavedStats<'_>>,
    ) {
        if shape.spatial == 0 {
            return; // nothing to normalize, no statistics defined
        }
        self.normalize_groups(
            shape,
            Reduce::SampleGroup { group_size },
            affine,
            io,
            &mut |g, stats| {
                let inv = stats.var.inv_sqrt_plus(eps);
                SavedStats::record(&mut saved, g, stats.mean, inv);
                deviation_scale(inv)
            },
        );
    }
}
