//! Saved statistics (`mean` and `inv_std`, one value per group) as the oracle sees them: the
//! extra buffers a case hands the operator, their validity rule, the [`SavedStats`] the operator
//! writes into, and their float64 reference. Shared so every operator with saved statistics
//! checks them the same way.

use crate::bounds::{self, Expect};
use crate::check::Extra;
use normkern::SavedStats;
use normkern_reference::Stats;

/// The saved `mean` and `inv_std` buffers, as built by [`crate::input::SavedSpec::build`].
pub type Buffers = (Vec<f32>, Vec<f32>);

/// Independent validity rule: both buffers hold exactly one value per group (`groups: None`,
/// a group count that does not fit in `usize`, accepts no length).
pub fn lengths_ok(saved: Option<&Buffers>, groups: Option<usize>) -> bool {
    saved.is_none_or(|(m, i)| Some(m.len()) == groups && Some(i.len()) == groups)
}

/// The two output-only extras of a case with saved statistics (none without), named as the
/// failure messages should call them; `must_write`: every value is written on success.
pub fn extras(saved: Option<&Buffers>, names: [&'static str; 2], must_write: bool) -> Vec<Extra> {
    match saved {
        Some((m, i)) => vec![
            Extra::output(names[0], m.len(), must_write),
            Extra::output(names[1], i.len(), must_write),
        ],
        None => vec![],
    }
}

/// Lends the two buffers listed by [`extras`] to the operator; `None` when the case has none.
pub fn stats(extras: &mut [Vec<f32>]) -> Option<SavedStats<'_>> {
    match extras {
        [mean, inv_std] => Some(SavedStats::new(mean, inv_std)),
        _ => None,
    }
}

/// The float64 reference of both buffers, in the order of [`extras`].
pub fn expected(stats: &[Stats], eps: f32) -> Vec<Vec<Expect>> {
    vec![bounds::saved_mean(stats), bounds::saved_inv_std(stats, eps)]
}
