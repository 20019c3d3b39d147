//! # normkern
//!
//! Fused, hand-vectorized normalization kernels over flat `f32` slices: BatchNorm (inference,
//! training, folding), LayerNorm, RMSNorm, InstanceNorm, GroupNorm and ONNX
//! MeanVarianceNormalization, on channels-first (NCHW, NCL) and channels-last (NHWC, NTC)
//! layouts. `#![no_std]`, no allocation.
//!
//! Statistics take one pass over memory (sums around a pivot per SIMD lane, folded into f64,
//! read while the previous group is written; a second, centered pass from cache only where
//! the pivot proves too far from the mean); the normalize pass applies the folded scale and
//! shift. Every
//! operator is a method of [`Kernels`], which picks the fastest instruction set at run time
//! (or the one you force, to test every path).
//!
//! ```
//! use normkern::{InOut, Kernels, LayerNorm};
//! let x: Vec<f32> = (0..2 * 768).map(|i| (i % 7) as f32).collect();
//! let mut y = vec![0.0; x.len()];
//! let k = Kernels::detect();
//! k.layer_norm(&LayerNorm::new(768), InOut::new(&x, &mut y), None).unwrap();
//! let mean: f32 = y[..768].iter().sum::<f32>() / 768.0;
//! assert!(mean.abs() < 1e-5);
//! ```
//!
//! Bad input (wrong lengths, shapes, group counts, epsilon) returns a [`NormError`] before
//! anything is written; no input panics.

#![no_std]
#![forbid(unsafe_op_in_unsafe_fn)]
#![warn(missing_debug_implementations)]

#[cfg(feature = "std")]
extern crate std;

pub mod bytes;
mod error;
mod float;
mod fold;
mod io;
mod isa;
mod kernels;
mod ops;
mod shape;
mod simd;
mod stats;

pub use error::NormError;
pub use fold::ConvKernel;
pub use io::InOut;
pub use isa::Isa;
pub use kernels::Kernels;
pub use ops::batch_norm::{BatchNorm, BatchNormTraining, Momentum, RunningStats};
pub use ops::check::DEFAULT_EPS;
pub use ops::group_norm::GroupNorm;
pub use ops::instance_norm::InstanceNorm;
pub use ops::layer_norm::LayerNorm;
pub use ops::mvn::{MeanVarianceNorm, MvnAxes};
pub use ops::rms_norm::RmsNorm;
pub use ops::saved::SavedStats;
pub use shape::{Layout, Shape};
pub use stats::Moments;

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
