//! Folding inference BatchNorm into the layer before it: a per-channel scale and shift, or the
//! weights and bias of a convolution or linear layer, so the BatchNorm costs nothing at run time.

use crate::error::NormError;
use crate::ops::batch_norm::BatchNorm;
use crate::ops::check;

/// Shape of a convolution's OIHW weights: `[out_channels, in_channels / groups, kh, kw]`.
/// Grouped and depthwise convolutions fold the same way: BatchNorm scales each output channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvKernel {
    pub in_per_group: usize,
    pub kh: usize,
    pub kw: usize,
}

impl BatchNorm<'_> {
    /// Per-channel `scale = gamma / sqrt(var + eps)` and `shift = beta - mean * scale`, so that
    /// BatchNorm at inference is `y = x * scale + shift`.
    pub fn scale_shift(&self, scale: &mut [f32], shift: &mut [f32]) -> Result<(), NormError> {
        let c = self.check()?;
        check::len("scale", scale.len(), c)?;
        check::len("shift", shift.len(), c)?;
        for ch in 0..c {
            let a = self.channel_affine(ch);
            scale[ch] = a.scale;
            shift[ch] = a.shift - a.pivot * a.scale;
        }
        Ok(())
    }

    /// Folds into the preceding convolution: `weight` (OIHW, `out_channels = self.channels()`)
    /// is scaled in place, and `folded_bias` receives `(bias - mean) * scale + beta`, where
    /// `bias` is the convolution's own bias (`None` if it has none: it gains one).
    pub fn fold_into_conv(
        &self,
        weight: &mut [f32],
        kernel: ConvKernel,
        bias: Option<&[f32]>,
        folded_bias: &mut [f32],
    ) -> Result<(), NormError> {
        let per_out = kernel
            .in_per_group
            .checked_mul(kernel.kh)
            .and_then(|v| v.checked_mul(kernel.kw))
            .ok_or(NormError::ShapeOverflow)?;
        self.fold_rows(weight, per_out, bias, folded_bias)
    }

    /// Folds into the preceding linear layer, `weight` `[out = self.channels(), in_features]`.
    pub fn fold_into_linear(
        &self,
        weight: &mut [f32],
        in_features: usize,
        bias: Option<&[f32]>,
        folded_bias: &mut [f32],
    ) -> Result<(), NormError> {
        self.fold_rows(weight, in_features, bias, folded_bias)
    }

    /// Scales row `o` (`per_out` weights of output channel `o`) by `scale[o]`.
    fn fold_rows(
        &self,
        weight: &mut [f32],
        per_out: usize,
        bias: Option<&[f32]>,
        folded_bias: &mut [f32],
    ) -> Result<(), NormError> {
        let c = self.check()?;
        let expected = c.checked_mul(per_out).ok_or(NormError::ShapeOverflow)?;
        check::len("weight", weight.len(), expected)?;
        check::optional("bias", bias, c)?;
        check::len("folded_bias", folded_bias.len(), c)?;
        for o in 0..c {
            let a = self.channel_affine(o);
            let old_bias = bias.map_or(0.0, |b| b[o]);
            for w in &mut weight[o * per_out..(o + 1) * per_out] {
                *w *= a.scale;
            }
            folded_bias[o] = (old_bias - a.pivot) * a.scale + a.shift;
        }
        Ok(())
    }
}
