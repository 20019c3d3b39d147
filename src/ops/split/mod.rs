//! Split-phase BatchNorm training, GroupNorm and InstanceNorm, for an engine's own thread
//! pool (or devices): the statistics of a normalized group may span the parts of a tensor
//! that different threads hold, so each operator comes in three phases.
//!
//! 1. **Statistics** of a [`Part`] (a range of lines: planes channels-first, positions
//!    channels-last) into a caller-provided `&mut [Moments]`, one per group: per channel for
//!    BatchNorm ([`Kernels::batch_norm_training_stats`]), per (n, group) for GroupNorm and
//!    InstanceNorm ([`Kernels::group_norm_stats`], [`Kernels::instance_norm_stats`]).
//!    Through the operators' own statistics engines; no allocation.
//! 2. **Merge** the parts' partials, in any order ([`merge`], Chan's formula of
//!    [`Moments::merge`]); then, once, BatchNorm's [`BatchNormTraining::finish`] (saved and
//!    running statistics) or GroupNorm's and InstanceNorm's [`save_stats`].
//! 3. **Normalize** each part with the merged statistics ([`Kernels::batch_norm_training_apply`],
//!    [`Kernels::group_norm_apply`], [`Kernels::instance_norm_apply`], with the layer's gamma,
//!    beta and activation), through the kernels of [`Kernels::batch_norm_inference`].
//!
//! Every call validates everything first and returns a [`NormError`] without writing
//! anything; an apply refuses statistics that do not count every value of their group
//! ([`ErrorKind::StatsCount`](crate::ErrorKind::StatsCount): a partial not merged, or merged
//! twice). Any element type reads and writes as in the operators.
//!
//! # Accuracy
//!
//! A partial is an f32 [`Moments`] (mean kept as a pivot and an offset, variance as
//! `M2 / n`), and each merge rounds a few times in f32, so the result is not bitwise the
//! unsplit call's. For finite data with |x| between about 1e-15 and 1e18, every f32 output
//! lies within `2⁻¹⁷ · (|gamma| · (1 + |x̂|) + |beta|)` of the exact (float64) result (`x̂` the
//! exactly normalized value; the operators themselves are within `64u = 2⁻¹⁸` of it), the
//! saved mean within `2⁻¹⁷ · (|mean| + std)`, the saved inverse std and the running statistics
//! within `2⁻¹⁷` relative; 16-bit outputs are that value rounded once, so within one ulp of
//! the type of the unsplit call's. Outside that range of magnitudes the f32 variance of a
//! partial loses precision (the operators keep it scaled). `tests/parallel.rs` checks these
//! bounds against the `normkern-reference` float64 crate for random splits.
//!
//! # Example
//!
//! BatchNorm training over NCHW, two "threads" each holding one sample:
//!
//! ```
//! use normkern::split::{self, Part};
//! use normkern::*;
//!
//! let k = Kernels::detect();
//! let shape = Shape::nchw(2, 3, 4, 4);
//! let x: Vec<f32> = (0..96).map(|i| (i % 7) as f32 + (i / 48) as f32).collect();
//! let bn = BatchNormTraining::new();
//!
//! // 1. Each thread: the statistics of its part (its sample: 3 of the 6 planes).
//! let parts = [Part::nth(&shape, 0, 2), Part::nth(&shape, 1, 2)];
//! let (mut stats, mut other) = ([Moments::new(); 3], [Moments::new(); 3]);
//! k.batch_norm_training_stats(shape, parts[0], &x[parts[0].range(&shape)], &mut stats)?;
//! k.batch_norm_training_stats(shape, parts[1], &x[parts[1].range(&shape)], &mut other)?;
//!
//! // 2. Merge, then the saved and running statistics, once.
//! split::merge(&mut stats, &other)?;
//! let (mut rm, mut rv) = ([0.0f32; 3], [1.0f32; 3]);
//! let running = RunningStats::new(&mut rm, &mut rv, Momentum::PYTORCH_DEFAULT);
//! bn.finish(shape, &stats, Some(running), None)?;
//!
//! // 3. Each thread normalizes its part.
//! let mut y = vec![0.0f32; 96];
//! let (y0, y1) = y.split_at_mut(48);
//! k.batch_norm_training_apply(&bn, shape, parts[0], &stats, InOut::new(&x[..48], y0))?;
//! k.batch_norm_training_apply(&bn, shape, parts[1], &stats, InOut::new(&x[48..], y1))?;
//!
//! // The same as the unsplit call, within the documented tolerance.
//! let mut want = vec![0.0f32; 96];
//! let (mut wm, mut wv) = ([0.0f32; 3], [1.0f32; 3]);
//! let running = RunningStats::new(&mut wm, &mut wv, Momentum::PYTORCH_DEFAULT);
//! k.batch_norm_training(&bn, shape, InOut::new(&x, &mut want), Some(running), None)?;
//! assert!(y.iter().zip(&want).all(|(a, b)| (a - b).abs() <= 1e-5 * (1.0 + b.abs())));
//! assert!(rm.iter().zip(&wm).all(|(a, b)| (a - b).abs() <= 1e-5 * (1.0 + b.abs())));
//! # Ok::<(), NormError>(())
//! ```

pub(crate) mod apply;
mod batch_norm;
mod groups;
mod part;
mod stats;

pub use groups::save_stats;
pub use part::Part;

use crate::error::{ErrorKind, NormError};
use crate::ops::check::Check;
use crate::stats::Moments;
#[cfg(doc)]
use crate::{BatchNormTraining, Kernels};

/// Phase two: merges a part's partial statistics into `into`, group by group (Chan's
/// formula; empty partials change nothing). The same number of groups in both, or an error
/// and `into` untouched.
///
/// ```
/// use normkern::{split, Moments};
/// let mut total = [Moments::of_slice(&[1.0, 2.0]), Moments::new()];
/// split::merge(&mut total, &[Moments::of_slice(&[3.0]), Moments::of_slice(&[7.0])])?;
/// assert_eq!((total[0].mean(), total[1].mean()), (Some(2.0), Some(7.0)));
/// # Ok::<(), normkern::NormError>(())
/// ```
pub fn merge(into: &mut [Moments], part: &[Moments]) -> Result<(), NormError> {
    Check::new("split::merge").len("part", part.len(), into.len(), "into.len()")?;
    for (total, m) in into.iter_mut().zip(part) {
        total.merge(m);
    }
    Ok(())
}

/// `stats` holds `count` groups (`from` says why), each counting `values` values.
fn stats_check(
    check: Check,
    stats: &[Moments],
    count: usize,
    from: &'static str,
    values: u64,
) -> Result<(), NormError> {
    check.len("stats", stats.len(), count, from)?;
    match stats.iter().position(|m| m.count() != values) {
        Some(group) => check.fail(ErrorKind::StatsCount {
            group,
            expected: values,
            actual: stats[group].count(),
        }),
        None => Ok(()),
    }
}
