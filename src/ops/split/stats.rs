//! Phase one: the partial statistics of a part, through the operators' own statistics
//! engines (a group's runs of planes channels-first, the column windows channels-last).

use super::part::Part;
use crate::element::Element;
use crate::io::InOut;
use crate::kernels::{Kernels, Runs};
use crate::ops::affine::ChannelAffine;
use crate::ops::columns::Columns;
use crate::ops::grouped::Reduce;
use crate::shape::{Layout, Shape};
use crate::stats::Moments;

impl Kernels {
    /// Each group's moments over the part's values (`io`'s input holds exactly them; shape,
    /// part and lengths validated by the caller) into `partial` (one per group of `reduce`,
    /// empty for the groups the part does not touch).
    pub(crate) fn part_stats<T: Element>(
        &self,
        shape: Shape,
        reduce: Reduce,
        part: Part,
        io: &InOut<'_, T>,
        partial: &mut [Moments],
    ) {
        partial.fill(Moments::new());
        let (c, spatial) = (shape.c(), shape.spatial());
        let (p0, p1) = (part.first(), part.end());
        match (shape.layout(), reduce) {
            (Layout::ChannelsFirst, Reduce::Channel) => {
                // Channel `ch`'s planes in the part: every `c`-th line from the first one.
                for (ch, slot) in partial.iter_mut().enumerate() {
                    let first = p0 + (ch + c - p0 % c) % c;
                    if first < p1 {
                        let runs = Runs {
                            count: (p1 - first).div_ceil(c),
                            len: spatial,
                            stride: c * spatial,
                        };
                        *slot = self.runs_moments(io, (first - p0) * spatial, runs);
                    }
                }
            }
            (Layout::ChannelsFirst, Reduce::SampleGroup { group_size }) => {
                // Line `l` is plane (n, c) with `l = n * C + c`, of group `l / group_size`.
                let mut line = p0;
                while line < p1 {
                    let group = line / group_size;
                    let end = ((group + 1) * group_size).min(p1);
                    let runs = Runs {
                        count: end - line,
                        len: spatial,
                        stride: spatial,
                    };
                    partial[group] = self.runs_moments(io, (line - p0) * spatial, runs);
                    line = end;
                }
            }
            (Layout::ChannelsLast, Reduce::Channel) => {
                let set = columns(0, part.count(), c, 1);
                self.columns_stats(io, &set, &mut |ch, stats| partial[ch] = stats.moments);
            }
            (Layout::ChannelsLast, Reduce::SampleGroup { group_size }) => {
                let groups = c / group_size;
                let mut line = p0;
                while line < p1 {
                    let sample = line / spatial;
                    let end = ((sample + 1) * spatial).min(p1);
                    let set = columns((line - p0) * c, end - line, c, group_size);
                    let first = sample * groups;
                    self.columns_stats(io, &set, &mut |g, stats| {
                        partial[first + g] = stats.moments;
                    });
                    line = end;
                }
            }
        }
    }

    /// The moments of the runs at `start`: one-pass sums, a second pass where they fall short.
    fn runs_moments<T: Element>(&self, io: &InOut<'_, T>, start: usize, runs: Runs) -> Moments {
        let sums = self.group_sums(io, start, runs);
        self.group_stats(io, start, runs, sums).moments
    }
}

/// `rows` positions of `cols` channels at `start`, groups of `group_size`, centered.
pub(crate) fn columns(
    start: usize,
    rows: usize,
    cols: usize,
    group_size: usize,
) -> Columns<'static> {
    Columns {
        start,
        rows,
        cols,
        group_size,
        center: true,
        column_affine: ChannelAffine::default(),
        row_affine: ChannelAffine::default(),
    }
}
