//! `_start` calls nothing: the baseline.

#![no_std]
#![no_main]

use normkern_fw_sizes::idle;

#[unsafe(no_mangle)]
pub extern "C" fn _start() -> ! {
    idle()
}
