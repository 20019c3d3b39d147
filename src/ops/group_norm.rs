//! GroupNorm: each (sample, group of adjacent channels) over its channels and positions, with a
//! per-channel affine (ONNX GroupNormalization opset 21, PyTorch `nn.GroupNorm`).

use super::check::{Check, DEFAULT_EPS};
use super::instance_norm::InstanceNorm;
use super::saved::SavedStats;
use crate::activation::{Activation, NoActivation};
use crate::element::Element;
use crate::error::{ErrorKind, NormError};
use crate::io::InOut;
use crate::kernels::Kernels;
use crate::shape::Shape;

/// A GroupNorm layer: `groups` groups of adjacent channels (it must divide the channel count),
/// each normalized with its sample's values, then a per-channel gamma and beta.
///
/// ```
/// use normkern::GroupNorm;
/// let (gamma, beta) = ([1.0f32; 320], [0.0f32; 320]);
/// let gn = GroupNorm::new(32).eps(1e-6).gamma(&gamma).beta(&beta);
/// # let _ = gn;
/// ```
#[derive(Clone, Copy, Debug)]
pub struct GroupNorm<'a, A: Activation = NoActivation> {
    pub(crate) groups: usize,
    pub(crate) eps: f32,
    pub(crate) gamma: Option<&'a [f32]>,
    pub(crate) beta: Option<&'a [f32]>,
    pub(crate) activation: A,
}

impl<'a> GroupNorm<'a> {
    /// `groups` groups; eps 1e-5, no gamma (1), no beta (0), no activation.
    pub const fn new(groups: usize) -> Self {
        GroupNorm {
            groups,
            eps: DEFAULT_EPS,
            gamma: None,
            beta: None,
            activation: NoActivation,
        }
    }
}

impl<'a, A: Activation> GroupNorm<'a, A> {
    /// Applies `activation` to each normalized value, in the same pass (the UNet's
    /// GroupNorm + SiLU, onnxruntime's `com.microsoft` GroupNorm with `activation = 1`).
    ///
    /// ```
    /// use normkern::{GroupNorm, Silu};
    /// let gn_silu = GroupNorm::new(32).then(Silu);
    /// # let _ = gn_silu;
    /// ```
    pub const fn then<B: Activation>(self, activation: B) -> GroupNorm<'a, B> {
        GroupNorm {
            groups: self.groups,
            eps: self.eps,
            gamma: self.gamma,
            beta: self.beta,
            activation,
        }
    }
}

setters!(GroupNorm<A>: eps, gamma, beta);

impl Kernels {
    /// GroupNorm over `shape`, either layout: each (n, group) over its channels and
    /// positions. Gamma and beta hold `shape.c()` values; `saved` receives
    /// `shape.n() * groups` means and `1 / sqrt(var + eps)`, in (n, group) order.
    ///
    /// ```
    /// use normkern::{GroupNorm, InOut, Kernels, Shape};
    /// // NHWC 1x1x2x4, two groups of two channels.
    /// let x = [0.0f32, 2.0, 10.0, 10.0, 2.0, 0.0, 20.0, 20.0];
    /// let mut y = [0.0f32; 8];
    /// let gn = GroupNorm::new(2).eps(0.0);
    /// Kernels::detect().group_norm(&gn, Shape::nhwc(1, 1, 2, 4), InOut::new(&x, &mut y), None)?;
    /// assert_eq!(y, [-1.0, 1.0, -1.0, -1.0, 1.0, -1.0, 1.0, 1.0]);
    /// # Ok::<(), normkern::NormError>(())
    /// ```
    pub fn group_norm<T: Element, A: Activation>(
        &self,
        p: &GroupNorm<'_, A>,
        shape: Shape,
        io: InOut<'_, T>,
        saved: Option<SavedStats<'_>>,
    ) -> Result<(), NormError> {
        let check = Check::new("group_norm");
        if p.groups == 0 {
            return check.fail(ErrorKind::ZeroDimension("groups"));
        }
        let c = shape.c();
        if c == 0 || !c.is_multiple_of(p.groups) {
            return check.fail(ErrorKind::Groups {
                channels: c,
                groups: p.groups,
            });
        }
        let per_group = InstanceNorm {
            eps: p.eps,
            gamma: p.gamma,
            beta: p.beta,
            activation: p.activation,
        };
        self.sample_groups(check, &per_group, shape, c / p.groups, io, saved)
    }
}
