//! `_start` calls only `batch_norm_inference` (detect instruction set).

#![no_std]
#![no_main]

use normkern_fw_sizes::{calls, idle};

#[unsafe(no_mangle)]
pub extern "C" fn _start() -> ! {
    normkern_fw_sizes::batch_norm_inference(core::hint::black_box(calls::detect()));
    idle()
}
