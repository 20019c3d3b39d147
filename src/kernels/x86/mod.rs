//! `core::arch` kernels for x86_64, selected at run time (see `kernels::Isa::is_available`).
//!
//! `wide` cannot serve here: its backend is fixed at compile time, so in a default build its
//! `f32x8` is two SSE halves even inside a `#[target_feature(enable = "avx2")]` function.

pub(crate) mod avx2;
pub(crate) mod avx512;
