//! normkern's test suite, as one binary: the kernels are generic over instruction set, element
//! type and activation, and every test binary compiles the instantiations it uses again, so the
//! suites share one (`tests/miri.rs`, which Miri runs alone, is the other).
//!
//! - [`properties`]: every operator against the float64 reference, both layouts, every set;
//! - [`engine_properties`]: f16/bf16, the fused residual add and the activations;
//! - [`activations`]: the activations' error in ulps over the whole f32 range;
//! - [`onnx_conformance`]: the ONNX and engine corpora (`tests/conformance/`);
//! - [`regressions`]: one deterministic test per bug found;
//! - [`rounding`]: f16 and bf16 rounding, bit for bit, on every set;
//! - [`schedules`]: both schedules, bit for bit, on every row and group path;
//! - [`streaming`]: outputs past the non-temporal threshold, bit for bit.
//!
//! `cargo test --test suite properties::` runs one of them.

#[path = "../common/mod.rs"]
mod common;

mod activations;
mod engine_properties;
mod onnx_conformance;
mod properties;
mod regressions;
mod rounding;
mod schedules;
mod streaming;
