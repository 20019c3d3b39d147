//! Code-size budget: a firmware that calls only BatchNorm inference (`.ci/sizes`).
#![no_std]
#![no_main]

#[path = "../support.rs"]
mod support;

use core::hint::black_box;
use normkern::{BatchNorm, InOut, Kernels, NormError, Shape};

/// The one call, from `support::_start`.
fn run() -> Result<(), NormError> {
    let shape = black_box(Shape::nhwc(1, 4, 4, 4));
    let p = support::params(4);
    let bn = BatchNorm::new(p, p).gamma(p).beta(p);
    let io = InOut::new(support::input(), support::output());
    Kernels::detect().batch_norm_inference(&bn, shape, io)
}
