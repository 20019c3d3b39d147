//! `_start` calls only `mvn` (detect instruction set).

#![no_std]
#![no_main]

use normkern_fw_sizes::{calls, idle};

#[unsafe(no_mangle)]
pub extern "C" fn _start() -> ! {
    normkern_fw_sizes::mvn(core::hint::black_box(calls::detect()));
    idle()
}
