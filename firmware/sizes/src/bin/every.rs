//! `_start` calls every operator (detect instruction set).

#![no_std]
#![no_main]

use normkern_fw_sizes::{calls, idle};

#[unsafe(no_mangle)]
pub extern "C" fn _start() -> ! {
    normkern_fw_sizes::every(core::hint::black_box(calls::detect()));
    idle()
}
