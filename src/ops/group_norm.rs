//! GroupNorm: each (sample, group of adjacent channels) over its channels and positions, with a
//! per-channel affine (ONNX GroupNormalization opset 21, PyTorch `nn.GroupNorm`).

use super::affine::ChannelAffine;
use super::check;
use super::saved::SavedStats;
use crate::error::NormError;
use crate::io::InOut;
use crate::kernels::Kernels;
use crate::shape::Shape;

/// GroupNorm parameters: `groups` must divide the channel count.
#[derive(Clone, Copy, Debug)]
pub struct GroupNorm<'a> {
    pub shape: Shape,
    pub groups: usize,
    pub eps: f32,
    /// Per-channel scale.
    pub gamma: Option<&'a [f32]>,
    /// Per-channel shift.
    pub beta: Option<&'a [f32]>,
}

impl<'a> GroupNorm<'a> {
    /// eps 1e-5, no affine.
    pub const fn new(shape: Shape, groups: usize) -> Self {
        GroupNorm {
            shape,
            groups,
            eps: check::DEFAULT_EPS,
            gamma: None,
            beta: None,
        }
    }
}

setters!(GroupNorm: eps, gamma, beta);

impl Kernels {
    /// Normalizes each (n, group). `saved` receives N·groups means and inverse stds, in
    /// (n, group) order.
    pub fn group_norm(
        &self,
        p: &GroupNorm<'_>,
        mut io: InOut<'_>,
        saved: Option<SavedStats<'_>>,
    ) -> Result<(), NormError> {
        let shape = p.shape;
        let total = check::tensor(&shape, io.input_len(), Some(io.output_len()))?;
        if p.groups == 0 {
            return Err(NormError::ZeroDimension("groups"));
        }
        if !shape.c.is_multiple_of(p.groups) || shape.c == 0 {
            return Err(NormError::Groups {
                channels: shape.c,
                groups: p.groups,
            });
        }
        check::eps(p.eps)?;
        check::optional("gamma", p.gamma, shape.c)?;
        check::optional("beta", p.beta, shape.c)?;
        SavedStats::check(&saved, shape.n.saturating_mul(p.groups))?;
        if total == 0 {
            return Ok(()); // no values, no statistics defined: saved stats stay as they are
        }
        let affine = ChannelAffine {
            gamma: p.gamma,
            beta: p.beta,
        };
        self.sample_groups(shape, shape.c / p.groups, p.eps, affine, &mut io, saved);
        Ok(())
    }
}
