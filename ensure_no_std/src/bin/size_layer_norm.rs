//! Code-size budget: a firmware that calls only LayerNorm (`.ci/sizes`).
#![no_std]
#![no_main]

#[path = "../support.rs"]
mod support;

use core::hint::black_box;
use normkern::{InOut, Kernels, LayerNorm, Shape};

#[unsafe(no_mangle)]
pub extern "C" fn _start() -> ! {
    let shape = black_box(Shape::rows(support::LEN / 16, 16));
    let ln = LayerNorm::new()
        .gamma(support::params(16))
        .beta(support::params(16));
    let io = InOut::new(support::input(), support::output());
    support::finish(Kernels::detect().layer_norm(&ln, shape, io, None).is_ok())
}
