//! LayerNorm on a Cortex-M4F: two tokens of eight features, normalized with gamma and beta,
//! printed over semihosting.
//!
//! ```sh
//! cargo run --release    # needs qemu-system-arm and `rustup target add thumbv7em-none-eabihf`
//! ```

#![no_std]
#![no_main]

use cortex_m as _; // its critical-section implementation, for hprintln!
use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};
use normkern::{InOut, Kernels, LayerNorm, SavedStats, Shape};

const COLS: usize = 8;

#[entry]
fn main() -> ! {
    let x: [f32; 2 * COLS] = [
        0.5, -1.25, 2.0, 0.0, 3.5, -0.75, 1.0, 4.25, // token 0
        1000.5, 1001.0, 999.25, 1000.0, 1002.5, 998.75, 1000.25,
        1001.75, // token 1: offset 1e3
    ];
    let gamma = [1.0f32, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0];
    let beta = [0.0f32, 0.0, 0.0, 0.0, 0.5, 0.5, 0.5, 0.5];
    let mut y = [0.0f32; 2 * COLS];
    let (mut mean, mut inv_std) = ([0.0f32; 2], [0.0f32; 2]);

    // Without std the instruction set is fixed when the crate is compiled: on a core without
    // SIMD floats (Cortex-M, RV32) the plain scalar set is the only one built, and
    // `Kernels::detect()` returns it too.
    const K: Kernels = Kernels::scalar();
    let ln = LayerNorm::new().eps(1e-5).gamma(&gamma).beta(&beta);
    let saved = SavedStats::new(&mut mean, &mut inv_std);
    match K.layer_norm(
        &ln,
        Shape::rows(2, COLS),
        InOut::new(&x, &mut y),
        Some(saved),
    ) {
        Ok(()) => {
            hprintln!("layer_norm ok ({} set)", K.isa().name());
            for (t, row) in y.chunks(COLS).enumerate() {
                hprintln!(
                    "token {}: mean {} inv_std {} -> {:?}",
                    t,
                    mean[t],
                    inv_std[t],
                    row
                );
            }
            debug::exit(debug::EXIT_SUCCESS);
        }
        Err(e) => {
            hprintln!("layer_norm failed: {}", e);
            debug::exit(debug::EXIT_FAILURE);
        }
    }
    loop {
        cortex_m::asm::wfi(); // not reached: semihosting ended the run
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    hprintln!("panic: {}", info);
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi(); // not reached: semihosting ended the run
    }
}
