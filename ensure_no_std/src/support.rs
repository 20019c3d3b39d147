//! What every size-budget binary shares: no runtime, a panic handler that spins, and the
//! static buffers the operator reads and writes (behind `black_box`, so nothing folds away).

use core::hint::black_box;
use core::panic::PanicInfo;

#[panic_handler]
fn panic(_: &PanicInfo<'_>) -> ! {
    loop {
        core::hint::spin_loop();
    }
}

/// Values in the buffers.
pub const LEN: usize = 64;

static X: [f32; LEN] = [0.5; LEN];
static PARAMS: [f32; LEN] = [1.5; LEN];
static mut Y: [f32; LEN] = [0.0; LEN];

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

/// Keeps `ok` alive and never returns.
pub fn finish(ok: bool) -> ! {
    black_box(ok);
    loop {
        core::hint::spin_loop();
    }
}
