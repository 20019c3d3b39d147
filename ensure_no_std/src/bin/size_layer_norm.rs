//! Code-size budget: a firmware that calls only LayerNorm (`.ci/sizes`).
#![no_std]
#![no_main]

#[path = "../support.rs"]
mod support;

use normkern::{InOut, Kernels, LayerNorm, NormError};

/// The one call, from `support::_start`.
fn run() -> Result<(), NormError> {
    let shape = support::rows();
    let ln = LayerNorm::new()
        .gamma(support::params(16))
        .beta(support::params(16));
    let io = InOut::new(support::input(), support::output());
    Kernels::detect().layer_norm(&ln, shape, io, None)
}
