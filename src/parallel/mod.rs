//! Every operator on rayon's global thread pool (feature `rayon`): `k.par_layer_norm(..)` and
//! so on, with the single-thread call's arguments, validation and errors.
//!
//! - Where groups are independent, the tensor is cut between groups and each part is the
//!   single-thread operator on its slice (rows or positions for LayerNorm, RMSNorm and
//!   BatchNorm inference; samples, or channels of one sample, where they do not straddle a
//!   cut; the groups of one channels-first sample for GroupNorm and InstanceNorm): the result
//!   is **bitwise identical** to the single-thread call. BatchNorm training channels-first
//!   is cut between channels likewise (bitwise), its parts interleaved in every sample.
//! - Where a group spans the cut (BatchNorm training channels-last or over fewer channels
//!   than threads; GroupNorm and InstanceNorm with fewer samples than threads, but one
//!   channels-first sample), the parts go through the [split-phase API](crate::split):
//!   statistics per part, merged in part order (so a run repeats exactly for a given thread
//!   count), then each part normalized. Within the tolerance documented there.
//! - Tensors of fewer than [`MIN_PARALLEL_VALUES`] values stay on the calling thread; merged
//!   statistics, and calls from outside the pool, need more (measured: see the constant).
//!
//! ```
//! use normkern::{InOut, Kernels, LayerNorm, Shape};
//! let x: Vec<f32> = (0..512 * 768).map(|i| (i % 13) as f32).collect();
//! let (mut y, mut one) = (vec![0.0f32; x.len()], vec![0.0f32; x.len()]);
//! let k = Kernels::detect();
//! k.par_layer_norm(&LayerNorm::new(), Shape::rows(512, 768), InOut::new(&x, &mut y), None)?;
//! k.layer_norm(&LayerNorm::new(), Shape::rows(512, 768), InOut::new(&x, &mut one), None)?;
//! assert_eq!(y, one);
//! # Ok::<(), normkern::NormError>(())
//! ```

mod channels;
mod independent;
mod merged;

use crate::element::Element;
use crate::io::InOut;
use crate::ops::split::Part;
use std::vec::Vec;

/// The fewest values a call cuts into parts, where it is made from one of the pool's threads
/// and its parts are independent (one trip to the pool). Merged statistics take two trips,
/// and need four times as many values; a call from outside the pool sleeps until its parts
/// are done, and needs sixteen times as many. Below that, handing work to the pool costs more
/// than it saves (the break-even points measured: BENCHMARKS.md, "Where two threads start to
/// pay"). No part holds fewer than half of the call's least.
pub const MIN_PARALLEL_VALUES: usize = 1 << 16;

/// How many times a call hands work to the pool and waits for it.
#[derive(Clone, Copy, Debug)]
enum Trips {
    /// Independent parts: one.
    One,
    /// Statistics per part, merged, then each part normalized: two.
    Two,
}

/// The fewest values worth cutting for a call of `trips`, from the calling thread.
/// Two threads over one, on a 2-vCPU Xeon family 6 model 167 VM (`tools/probes/scaling`'s
/// `threshold`): from a pool's thread, independent LayerNorm rows broke even near 2^15 values
/// and merged BatchNorm training near 2^17; from outside the pool, where each call wakes the
/// caller back up, near 2^19 and 2^22.
fn min_values(trips: Trips) -> usize {
    let from_pool = match trips {
        Trips::One => MIN_PARALLEL_VALUES,
        Trips::Two => 4 * MIN_PARALLEL_VALUES,
    };
    if rayon::current_thread_index().is_some() {
        from_pool
    } else {
        16 * from_pool
    }
}

/// How many parts `lines` lines of `line_len` values are cut into for a call of `trips`: one
/// per thread of the pool, none smaller than half of [`min_values`].
fn part_count(lines: usize, line_len: usize, trips: Trips) -> usize {
    let (values, least) = (lines.saturating_mul(line_len), min_values(trips));
    if values < least {
        return 1;
    }
    let threads = rayon::current_num_threads();
    threads.min(lines).min(values / (least / 2)).max(1)
}

/// `io` (exactly `lines * line_len` values) cut into `parts` near-equal runs of lines.
fn split_io<T: Element>(
    mut io: InOut<'_, T>,
    lines: usize,
    line_len: usize,
    parts: usize,
) -> Vec<(Part, InOut<'_, T>)> {
    let mut out = Vec::with_capacity(parts);
    for i in 0..parts {
        let part = Part::nth_of(lines, i, parts);
        let Some((head, tail)) = io.split_at(part.count() * line_len) else {
            unreachable!("the tensor's length was checked");
        };
        out.push((part, head));
        io = tail;
    }
    out
}

/// `values` cut like [`split_io`]'s lines, `per_line` values per line (`None` stays `None`).
fn split_stats<'a>(
    values: Option<&'a mut [f32]>,
    parts: &[Part],
    per_line: usize,
) -> Vec<Option<&'a mut [f32]>> {
    let Some(mut rest) = values else {
        return parts.iter().map(|_| None).collect();
    };
    let mut out = Vec::with_capacity(parts.len());
    for part in parts {
        let (head, tail) = core::mem::take(&mut rest).split_at_mut(part.count() * per_line);
        out.push(Some(head));
        rest = tail;
    }
    out
}

/// The first error of the parts' results (none, for validated arguments).
fn first_error(results: Vec<Result<(), crate::NormError>>) -> Result<(), crate::NormError> {
    results.into_iter().collect()
}
