//! Code-size budget: a firmware that calls only BatchNorm inference (`.ci/sizes`).
#![no_std]
#![no_main]

#[path = "../support.rs"]
mod support;

use core::hint::black_box;
use normkern::{BatchNorm, InOut, Kernels, Shape};

#[unsafe(no_mangle)]
pub extern "C" fn _start() -> ! {
    let shape = black_box(Shape::nhwc(1, 4, 4, 4));
    let p = support::params(4);
    let bn = BatchNorm::new(p, p).gamma(p).beta(p);
    let io = InOut::new(support::input(), support::output());
    support::finish(Kernels::detect().batch_norm_inference(&bn, shape, io).is_ok())
}
