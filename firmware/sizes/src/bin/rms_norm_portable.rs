//! `_start` calls only `rms_norm` (portable instruction set).

#![no_std]
#![no_main]

use normkern_fw_sizes::{calls, idle};

#[unsafe(no_mangle)]
pub extern "C" fn _start() -> ! {
    normkern_fw_sizes::rms_norm(core::hint::black_box(calls::portable()));
    idle()
}
