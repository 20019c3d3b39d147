//! Folding inference BatchNorm into the layer before it: a per-channel scale and shift, or the
//! weights and bias of a convolution or linear layer, so the BatchNorm costs nothing at run time.

use crate::error::NormError;
use crate::ops::batch_norm::BatchNorm;
use crate::ops::check::Check;

/// Shape of a convolution's OIHW weights: `[out_channels, in_channels / groups, kh, kw]`.
/// Grouped and depthwise convolutions fold the same way: BatchNorm scales each output channel.
///
/// ```
/// use normkern::ConvKernel;
/// let depthwise_3x3 = ConvKernel { in_per_group: 1, kh: 3, kw: 3 };
/// # let _ = depthwise_3x3;
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvKernel {
    /// Input channels per group (`in_channels / groups`; 1 for a depthwise convolution).
    pub in_per_group: usize,
    /// Kernel height.
    pub kh: usize,
    /// Kernel width.
    pub kw: usize,
}

impl BatchNorm<'_, crate::NoActivation> {
    /// Per-channel `scale = gamma / sqrt(var + eps)` and `shift = beta - mean * scale`, so that
    /// BatchNorm at inference is `y = x * scale + shift`.
    ///
    /// ```
    /// use normkern::BatchNorm;
    /// let (mean, var) = ([2.0f32], [4.0f32]);
    /// let (mut scale, mut shift) = ([0.0f32], [0.0f32]);
    /// BatchNorm::new(&mean, &var).eps(0.0).scale_shift(&mut scale, &mut shift)?;
    /// assert_eq!((scale, shift), ([0.5], [-1.0]));
    /// # Ok::<(), normkern::NormError>(())
    /// ```
    pub fn scale_shift(&self, scale: &mut [f32], shift: &mut [f32]) -> Result<(), NormError> {
        let check = Check::new("BatchNorm::scale_shift");
        let c = self.check(check)?;
        check.len("scale", scale.len(), c, "mean.len()")?;
        check.len("shift", shift.len(), c, "mean.len()")?;
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
    ///
    /// ```
    /// use normkern::{BatchNorm, ConvKernel};
    /// let (mean, var) = ([1.0f32, 0.0], [4.0f32, 1.0]);
    /// let mut weight = [2.0f32; 2 * 3]; // 2 output channels, 3 inputs, 1x1
    /// let mut bias = [0.0f32; 2];
    /// let conv = ConvKernel { in_per_group: 3, kh: 1, kw: 1 };
    /// BatchNorm::new(&mean, &var).eps(0.0).fold_into_conv(&mut weight, conv, None, &mut bias)?;
    /// assert_eq!(weight, [1.0, 1.0, 1.0, 2.0, 2.0, 2.0]);
    /// assert_eq!(bias, [-0.5, 0.0]);
    /// # Ok::<(), normkern::NormError>(())
    /// ```
    pub fn fold_into_conv(
        &self,
        weight: &mut [f32],
        kernel: ConvKernel,
        bias: Option<&[f32]>,
        folded_bias: &mut [f32],
    ) -> Result<(), NormError> {
        let check = Check::new("BatchNorm::fold_into_conv");
        let per_out = check.product(kernel.in_per_group, kernel.kh)?;
        let per_out = check.product(per_out, kernel.kw)?;
        self.fold_rows(check, weight, per_out, bias, folded_bias)
    }

    /// Folds into the preceding linear layer, `weight` `[out = self.channels(), in_features]`.
    ///
    /// ```
    /// use normkern::BatchNorm;
    /// let (mean, var) = ([0.0f32], [0.25f32]);
    /// let mut weight = [1.0f32, -1.0];
    /// let mut bias = [0.0f32];
    /// BatchNorm::new(&mean, &var).eps(0.0).fold_into_linear(&mut weight, 2, Some(&[1.0]), &mut bias)?;
    /// assert_eq!((weight, bias), ([2.0, -2.0], [2.0]));
    /// # Ok::<(), normkern::NormError>(())
    /// ```
    pub fn fold_into_linear(
        &self,
        weight: &mut [f32],
        in_features: usize,
        bias: Option<&[f32]>,
        folded_bias: &mut [f32],
    ) -> Result<(), NormError> {
        let check = Check::new("BatchNorm::fold_into_linear");
        self.fold_rows(check, weight, in_features, bias, folded_bias)
    }

    /// Scales row `o` (`per_out` weights of output channel `o`) by `scale[o]`.
    fn fold_rows(
        &self,
        check: Check,
        weight: &mut [f32],
        per_out: usize,
        bias: Option<&[f32]>,
        folded_bias: &mut [f32],
    ) -> Result<(), NormError> {
        let c = self.check(check)?;
        let expected = check.product(c, per_out)?;
        check.len(
            "weight",
            weight.len(),
            expected,
            "channels * weights per channel",
        )?;
        check.optional("bias", bias, c, "mean.len()")?;
        check.len("folded_bias", folded_bias.len(), c, "mean.len()")?;
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
