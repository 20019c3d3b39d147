//! Code-size budget: a firmware that calls only RMSNorm (`.ci/sizes`).
#![no_std]
#![no_main]

#[path = "../support.rs"]
mod support;

use normkern::{InOut, Kernels, NormError, RmsNorm};

/// The one call, from `support::_start`.
fn run() -> Result<(), NormError> {
    let rms = RmsNorm::new().gamma(support::params(16));
    let shape = support::rows();
    let io = InOut::new(support::input(), support::output());
    Kernels::detect().rms_norm(&rms, shape, io, None)
}
