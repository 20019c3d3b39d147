//! Code-size budget: a firmware that calls only RMSNorm (`.ci/sizes`).
#![no_std]
#![no_main]

#[path = "../support.rs"]
mod support;

use core::hint::black_box;
use normkern::{InOut, Kernels, RmsNorm, Shape};

#[unsafe(no_mangle)]
pub extern "C" fn _start() -> ! {
    let shape = black_box(Shape::rows(support::LEN / 16, 16));
    let rms = RmsNorm::new().gamma(support::params(16));
    let io = InOut::new(support::input(), support::output());
    support::finish(Kernels::detect().rms_norm(&rms, shape, io, None).is_ok())
}
