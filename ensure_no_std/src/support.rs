//! What every size-budget binary shares: the entry point, which runs the binary's `run` (its
//! one operator call) and keeps the result, and the static buffers the operator reads and
//! writes (behind `black_box`, so nothing folds away).

use core::hint::black_box;
use normkern::Shape;

#[path = "bare.rs"]
mod bare;

/// Values in the buffers.
pub const LEN: usize = 64;

static X: [f32; LEN] = [0.5; LEN];
static PARAMS: [f32; LEN] = [1.5; LEN];
static mut Y: [f32; LEN] = [0.0; LEN];

/// The entry point the linker starts from (no runtime, no `main`): the binary's one call.
#[unsafe(no_mangle)]
pub extern "C" fn _start() -> ! {
    black_box(crate::run().is_ok());
    bare::idle()
}

/// The input, opaque to the optimizer.
pub fn input() -> &'static [f32] {
    black_box(&X[..])
}

/// `len` parameter values (gamma, beta, statistics), opaque to the optimizer.
pub fn params(len: usize) -> &'static [f32] {
    black_box(&PARAMS[..len])
}

/// The output, opaque to the optimizer. Called once per binary.
pub fn output() -> &'static mut [f32] {
    // SAFETY: called once, from the single thread a bare-metal `_start` runs on.
    black_box(unsafe { &mut *core::ptr::addr_of_mut!(Y) })
}

/// Rows of 16 values over the buffers (the row operators' shape), opaque to the optimizer.
#[allow(dead_code)] // size_batch_norm_inference's shape is a tensor
pub fn rows() -> Shape {
    black_box(Shape::rows(LEN / 16, 16))
}
