//! Statistics without SIMD: what the kernels' sums mean and when they can be trusted.
//!
//! - [`accept`]: whether one-pass sums around a pivot give a group's mean and variance as
//!   exactly as a centered second pass, and the power-of-two scales that keep squares of
//!   extreme magnitudes in range;
//! - [`group`]: a group's statistics assembled from its sums (the corrected two-pass
//!   algorithm), held scaled where f32 cannot hold the variance itself;
//! - [`moments`]: the public mergeable [`Moments`] and the f64 accumulator that merges the
//!   blocks and columns of a channels-last group.
//!
//! A leaf: it uses nothing of the crate but the square root of `crate::float`.

pub(crate) mod accept;
pub(crate) mod group;
pub(crate) mod moments;

pub(crate) use accept::{UNSCALED_MIN_F32, one_pass_accepted, square_scale, sums_accepted};
pub(crate) use group::{GroupStats, Scaled, SecondPass, Sums, Total, corrected, deviation_scale};
pub use moments::Moments;
pub(crate) use moments::{WideMoments, pivot_from};
