//! GroupNorm and InstanceNorm, split: per-(n, group) partials of each part, then each part
//! normalized (and, once, the saved statistics).

use super::apply::Normalize;
use super::part::Part;
use super::stats_check;
use crate::activation::Activation;
use crate::element::Element;
use crate::error::{ErrorKind, NormError};
use crate::io::InOut;
use crate::kernels::{Activate, Kernels};
use crate::ops::affine::ChannelAffine;
use crate::ops::check::Check;
use crate::ops::group_norm::GroupNorm;
use crate::ops::grouped::Reduce;
use crate::ops::instance_norm::InstanceNorm;
use crate::ops::saved::SavedStats;
use crate::shape::Shape;
use crate::stats::{GroupStats, Moments};

/// The groups of a GroupNorm (`group_size` channels each) or InstanceNorm (1) over `shape`.
#[derive(Clone, Copy, Debug)]
struct Groups {
    group_size: usize,
    /// `shape.n() * groups`, what the statistics are indexed by.
    count: usize,
    from: &'static str,
    /// Values per group.
    values: u64,
}

impl Groups {
    fn of(check: Check, shape: &Shape, groups: Option<usize>) -> Result<Groups, NormError> {
        let c = shape.c();
        let Some(groups) = groups else {
            return Ok(Groups {
                group_size: 1,
                count: shape.n().saturating_mul(c),
                from: "shape.n * shape.c",
                values: shape.spatial() as u64,
            });
        };
        if groups == 0 {
            return check.fail(ErrorKind::ZeroDimension("groups"));
        }
        if c == 0 || !c.is_multiple_of(groups) {
            return check.fail(ErrorKind::Groups {
                channels: c,
                groups,
            });
        }
        Ok(Groups {
            group_size: c / groups,
            count: shape.n().saturating_mul(groups),
            from: "shape.n * groups",
            values: ((c / groups) as u64).saturating_mul(shape.spatial() as u64),
        })
    }

    fn reduce(&self) -> Reduce {
        Reduce::SampleGroup {
            group_size: self.group_size,
        }
    }
}

impl Kernels {
    /// Phase one of GroupNorm: the moments of each (n, group) over the part's values `x`
    /// into `partial` (`shape.n() * groups`, in (n, group) order; empty for the groups the
    /// part does not touch). Merge the parts' partials with [`merge`](super::merge).
    pub fn group_norm_stats<T: Element, A: Activation>(
        &self,
        p: &GroupNorm<'_, A>,
        shape: Shape,
        part: Part,
        x: &[T],
        partial: &mut [Moments],
    ) -> Result<(), NormError> {
        let check = Check::new("group_norm_stats");
        let groups = Groups::of(check, &shape, Some(p.groups))?;
        self.groups_stats(check, groups, shape, part, x, partial)
    }

    /// Phase one of InstanceNorm: the moments of each (n, c) over the part's values `x` into
    /// `partial` (`shape.n() * shape.c()`, in (n, c) order).
    pub fn instance_norm_stats<T: Element>(
        &self,
        shape: Shape,
        part: Part,
        x: &[T],
        partial: &mut [Moments],
    ) -> Result<(), NormError> {
        let check = Check::new("instance_norm_stats");
        let groups = Groups::of(check, &shape, None)?;
        self.groups_stats(check, groups, shape, part, x, partial)
    }

    /// Phase three of GroupNorm: normalizes the part (`io` over its values) with the merged
    /// statistics of every (n, group), then the layer's activation, through the normalize
    /// kernels of [`Kernels::batch_norm_inference`]. Writes nothing on error.
    pub fn group_norm_apply<T: Element, A: Activation>(
        &self,
        p: &GroupNorm<'_, A>,
        shape: Shape,
        part: Part,
        stats: &[Moments],
        io: InOut<'_, T>,
    ) -> Result<(), NormError> {
        let check = Check::new("group_norm_apply");
        let groups = Groups::of(check, &shape, Some(p.groups))?;
        let layer = InstanceNorm {
            eps: p.eps,
            gamma: p.gamma,
            beta: p.beta,
            activation: p.activation,
        };
        self.groups_apply(check, &layer, groups, shape, part, stats, io)
    }

    /// Phase three of InstanceNorm (see [`Kernels::group_norm_apply`]).
    pub fn instance_norm_apply<T: Element, A: Activation>(
        &self,
        p: &InstanceNorm<'_, A>,
        shape: Shape,
        part: Part,
        stats: &[Moments],
        io: InOut<'_, T>,
    ) -> Result<(), NormError> {
        let check = Check::new("instance_norm_apply");
        let groups = Groups::of(check, &shape, None)?;
        self.groups_apply(check, p, groups, shape, part, stats, io)
    }

    fn groups_stats<T: Element>(
        &self,
        check: Check,
        groups: Groups,
        shape: Shape,
        part: Part,
        x: &[T],
        partial: &mut [Moments],
    ) -> Result<(), NormError> {
        part.check(check, &shape, x.len(), None)?;
        check.len("partial", partial.len(), groups.count, groups.from)?;
        let mut no_output: [T; 0] = [];
        let io = InOut::new(x, &mut no_output);
        self.part_stats(shape, groups.reduce(), part, &io, partial);
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn groups_apply<T: Element, A: Activation>(
        &self,
        check: Check,
        p: &InstanceNorm<'_, A>,
        groups: Groups,
        shape: Shape,
        part: Part,
        stats: &[Moments],
        mut io: InOut<'_, T>,
    ) -> Result<(), NormError> {
        let values = part.check(check, &shape, io.input_len(), Some(io.output_len()))?;
        check.eps(p.eps)?;
        check.optional("gamma", p.gamma, shape.c(), "shape.c")?;
        check.optional("beta", p.beta, shape.c(), "shape.c")?;
        stats_check(check, stats, groups.count, groups.from, groups.values)?;
        if values == 0 {
            return Ok(());
        }
        let norm = Normalize {
            stats,
            affine: ChannelAffine {
                gamma: p.gamma,
                beta: p.beta,
            },
            eps: p.eps,
        };
        let epilogue = Activate(p.activation);
        self.part_apply(shape, groups.reduce(), part, &norm, &mut io, epilogue);
        Ok(())
    }
}

/// Phase two of GroupNorm and InstanceNorm, once per step if wanted: each group's mean and
/// `1 / sqrt(var + eps)` from the merged statistics into `saved`, as the operators report
/// them. Writes nothing on error.
///
/// ```
/// use normkern::{split, Moments, SavedStats};
/// let stats = [Moments::of_slice(&[1.0, 3.0]), Moments::of_slice(&[5.0, 5.0])];
/// let (mut mean, mut inv_std) = ([0.0f32; 2], [0.0f32; 2]);
/// split::save_stats(0.0, &stats, SavedStats::new(&mut mean, &mut inv_std))?;
/// assert_eq!((mean, inv_std), ([2.0, 5.0], [1.0, f32::INFINITY]));
/// # Ok::<(), normkern::NormError>(())
/// ```
pub fn save_stats(eps: f32, stats: &[Moments], saved: SavedStats<'_>) -> Result<(), NormError> {
    let check = Check::new("split::save_stats");
    check.eps(eps)?;
    let mut saved = Some(saved);
    SavedStats::check(&saved, check, stats.len(), "stats.len()")?;
    for (g, m) in stats.iter().enumerate() {
        let group = GroupStats::unscaled(*m);
        SavedStats::record(&mut saved, g, group.mean, group.var.inv_sqrt_plus(eps));
    }
    Ok(())
}
