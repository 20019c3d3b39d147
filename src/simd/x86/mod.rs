//! `core::arch` registers for x86_64, selected at run time (see `Isa::is_available`).
//!
//! `wide` cannot serve here: its backend is fixed at compile time, so in a default build its
//! `f32x8` is two SSE halves even inside a `#[target_feature(enable = "avx2")]` function.

mod avx2;
mod avx512;

pub(crate) use avx2::Avx2;
pub(crate) use avx512::Avx512;
