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
use normkern::{InOut, Isa, Kernels, LayerNorm, SavedStats};

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

    // Without std the instruction set is fixed when the crate is compiled. On a core without
    // SIMD floats the plain scalar set is both the smaller and the faster one.
    let k = Kernels::new(Isa::Scalar).unwrap_or_else(|_| Kernels::detect());
    let ln = LayerNorm::new(COLS).eps(1e-5).gamma(&gamma).beta(&beta);
    let saved = SavedStats {
        mean: &mut mean,
        inv_std: &mut inv_std,
    };
    match k.layer_norm(&ln, InOut::new(&x, &mut y), Some(saved)) {
        Ok(()) => {
            hprintln!("layer_norm ok ({} set)", k.isa().name());
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
    loop {}
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    hprintln!("panic: {}", info);
    debug::exit(debug::EXIT_FAILURE);
    loop {}
}
