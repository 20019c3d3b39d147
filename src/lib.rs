//! # normkern
//!
//! Fused, hand-vectorized normalization kernels over flat slices: BatchNorm (inference,
//! training, folding into conv/linear), LayerNorm, RMSNorm, InstanceNorm, GroupNorm and ONNX
//! MeanVarianceNormalization, on channels-first (NCHW, NCL) and channels-last (NHWC, NTC)
//! layouts. `#![no_std]`, no allocation, no panics on any input.
//!
//! ## API tour
//!
//! Every operator is a method of [`Kernels`], one instruction set's kernels:
//! [`Kernels::detect`] picks the fastest this CPU has, [`Kernels::new`] forces one,
//! [`Kernels::scalar`] is the plain one (`const`). Every call has the same form:
//!
//! ```text
//! k.operator(&layer, shape, io, optional outputs...)
//! ```
//!
//! - `layer`: what is fixed when the model loads, built once: `LayerNorm::new().eps(1e-6)
//!   .gamma(&g).beta(&b)`, `BatchNorm::new(&mean, &var)`, `GroupNorm::new(groups)`, ...
//! - `shape`: the tensor of this call, with its layout: [`Shape::rows`]`(rows, cols)` for
//!   LayerNorm and RMSNorm over the last dim, [`Shape::nchw`], [`Shape::nhwc`],
//!   [`Shape::ncl`], [`Shape::ntc`], or [`Shape::channels_first`] /
//!   [`Shape::channels_last`] for any number of spatial dims.
//! - `io`: [`InOut::new`]`(&x, &mut y)` or [`InOut::in_place`]`(&mut x)`.
//! - optional outputs: the mean and `1 / sqrt(var + eps)` per normalized group
//!   ([`SavedStats::new`]), RMSNorm's inverse root mean square, BatchNorm's
//!   [`RunningStats`].
//!
//! Every call validates everything first and returns a [`NormError`] naming the operator
//! and what the expected length came from, without writing anything.
//!
//! ```
//! use normkern::*;
//!
//! let k = Kernels::detect();
//!
//! // LayerNorm over the last dim of [tokens, 768] (ONNX axis = -1, PyTorch
//! // normalized_shape = 768), with the saved statistics a backward pass needs.
//! let (x, gamma, beta) = (vec![0.5f32; 4 * 768], vec![1.0f32; 768], vec![0.0f32; 768]);
//! let mut y = vec![0.0f32; x.len()];
//! let (mut mean, mut inv_std) = (vec![0.0; 4], vec![0.0; 4]);
//! let ln = LayerNorm::new().eps(1e-5).gamma(&gamma).beta(&beta);
//! let saved = SavedStats::new(&mut mean, &mut inv_std);
//! k.layer_norm(&ln, Shape::rows(4, 768), InOut::new(&x, &mut y), Some(saved))?;
//!
//! // RMSNorm, in place.
//! let mut h = vec![1.0f32; 2 * 4096];
//! k.rms_norm(&RmsNorm::new().eps(1e-6), Shape::rows(2, 4096), InOut::in_place(&mut h), None)?;
//!
//! // GroupNorm on a channels-last image, 32 groups of 10 channels.
//! let img = vec![0.25f32; 64 * 64 * 320];
//! let mut out = vec![0.0f32; img.len()];
//! k.group_norm(&GroupNorm::new(32), Shape::nhwc(1, 64, 64, 320), InOut::new(&img, &mut out), None)?;
//!
//! // A wrong length is an error, and the output stays as it was.
//! let err = k.layer_norm(&ln, Shape::rows(4, 767), InOut::new(&x[..4 * 767], &mut y[..4 * 767]), None);
//! assert_eq!(err.unwrap_err().to_string(), "layer_norm: `gamma` holds 768 values, expected 767 (shape.c)");
//! # Ok::<(), NormError>(())
//! ```
//!
//! | operator | call | normalized together |
//! |---|---|---|
//! | LayerNorm | [`Kernels::layer_norm`] | each position's channels (each row of `Shape::rows`) |
//! | RMSNorm | [`Kernels::rms_norm`] | the same, by `sqrt(mean(x²) + eps)` |
//! | BatchNorm inference | [`Kernels::batch_norm_inference`] | per channel, a fixed scale and shift |
//! | BatchNorm training | [`Kernels::batch_norm_training`] | each channel over N and positions |
//! | folding | [`BatchNorm::scale_shift`], [`BatchNorm::fold_into_conv`], [`BatchNorm::fold_into_linear`] | into the layer before |
//! | InstanceNorm | [`Kernels::instance_norm`] | each (n, c) over its positions |
//! | GroupNorm | [`Kernels::group_norm`] | each (n, group of adjacent channels) |
//! | MVN (ONNX) | [`Kernels::mean_variance_norm`] | over [`MvnAxes`] |
//! | moments | [`Moments`], [`Kernels::moments`] | mergeable count, mean, variance |
//!
//! ## How it computes
//!
//! Statistics take one pass over memory: sums around a pivot (the mean of a sample of the
//! group) per SIMD lane, folded into compensated totals (rows under 2048 values are summed
//! while the row before is written). Where the pivot proves too far from the mean, a second,
//! centered pass over the group (from cache) gives the corrected two-pass result;
//! power-of-two scaling keeps squares of extreme magnitudes in range. The normalize pass
//! applies the folded scale and shift, reading the group again from cache.
//! The bar is the float64 answer: see `docs/NUMERICS.md` in the repository.

#![no_std]
#![forbid(unsafe_op_in_unsafe_fn)]
#![warn(missing_debug_implementations)]

#[cfg(feature = "std")]
extern crate std;

mod activation;
pub mod bytes;
mod element;
mod error;
mod float;
mod fold;
mod io;
mod isa;
mod kernels;
mod ops;
#[cfg(feature = "rayon")]
pub mod parallel;
mod schedule;
mod shape;
mod simd;
mod stats;
mod window;

pub use activation::{Activation, AnyActivation, Gelu, GeluTanh, NoActivation, Relu, Silu};
pub use element::Element;
pub use error::{ErrorKind, NormError};
pub use fold::ConvKernel;
/// The 16-bit element types, from the `half` crate.
pub use half::{bf16, f16};
pub use io::{InOut, Residual};
pub use isa::Isa;
pub use kernels::Kernels;
pub use ops::batch_norm::BatchNorm;
pub use ops::batch_norm_training::{BatchNormTraining, Momentum, RunningStats};
pub use ops::check::DEFAULT_EPS;
pub use ops::group_norm::GroupNorm;
pub use ops::instance_norm::InstanceNorm;
pub use ops::layer_norm::LayerNorm;
pub use ops::mvn::{MeanVarianceNorm, MvnAxes};
pub use ops::rms_norm::RmsNorm;
pub use ops::saved::SavedStats;
pub use ops::split;
pub use schedule::Schedule;
pub use shape::{Layout, Shape};
pub use stats::Moments;

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
