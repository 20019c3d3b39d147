//! RV32IMAC on QEMU's `virt` board: output on its 16550 UART, exit through its test device,
//! `instret` as the instruction counter (under `-icount`, QEMU derives it from the exact
//! instruction count; the firmware calibrates it like SysTick on the Cortex-M). No FPU:
//! every f32 operation is a library call, and so is the square root.

use core::arch::asm;
use core::ptr::write_volatile;

pub const NAME: &str = "rv32imac/virt";

const UART_THR: *mut u8 = 0x1000_0000 as *mut u8;
const TEST_DEVICE: *mut u32 = 0x0010_0000 as *mut u32;

pub struct Port;

impl Port {
    pub fn open() -> Port {
        Port
    }

    pub fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            // SAFETY: the virt board's UART transmit register; QEMU's UART is always ready.
            unsafe { write_volatile(UART_THR, b) };
        }
    }
}

pub fn init() {}

#[inline(always)]
pub fn now() -> u32 {
    let v: u32;
    // SAFETY: reads a counter CSR.
    unsafe { asm!("csrr {}, instret", out(reg) v, options(nomem, nostack)) };
    v
}

pub const COUNTER_MASK: u32 = u32::MAX;

#[inline(always)]
pub fn sqrtf(x: f32) -> f32 {
    libm::sqrtf(x)
}

pub fn exit(ok: bool) -> ! {
    // SiFive test finisher: 0x5555 passes, (code << 16) | 0x3333 fails with `code`.
    let v = if ok { 0x5555 } else { (1 << 16) | 0x3333 };
    // SAFETY: the virt board's test device.
    unsafe { write_volatile(TEST_DEVICE, v) };
    loop {
        core::hint::spin_loop();
    }
}
