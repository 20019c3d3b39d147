//! Operators: validate, then walk the rows, channels or groups of a layout and call kernels.
//! No SIMD here.

mod affine;
pub(crate) mod batch_norm;
pub(crate) mod check;
mod columns;
pub(crate) mod group_norm;
mod grouped;
pub(crate) mod instance_norm;
pub(crate) mod layer_norm;
pub(crate) mod mvn;
mod planes;
pub(crate) mod rms_norm;
pub(crate) mod saved;
mod spread;
