//! The calibration loop and the stack probe's bounds: the same on both boards but for the
//! instructions (Thumb-2 on the Cortex-M4F, RV32 on the RISC-V core).

use core::arch::asm;

/// `2 n` instructions (plus the loop's setup): the calibration loop.
#[inline(never)]
pub fn spin(n: u32) {
    // SAFETY: a register-only countdown loop.
    unsafe {
        #[cfg(target_arch = "arm")]
        asm!("2:", "subs {0}, {0}, #1", "bne 2b", inout(reg) n => _, options(nomem, nostack));
        #[cfg(target_arch = "riscv32")]
        asm!("2:", "addi {0}, {0}, -1", "bnez {0}, 2b", inout(reg) n => _, options(nomem, nostack));
    }
}

/// The stack pointer of the caller.
#[inline(always)]
pub fn sp() -> usize {
    let sp: usize;
    // SAFETY: reads a register.
    unsafe {
        #[cfg(target_arch = "arm")]
        asm!("mov {}, sp", out(reg) sp, options(nomem, nostack, preserves_flags));
        #[cfg(target_arch = "riscv32")]
        asm!("mv {}, sp", out(reg) sp, options(nomem, nostack, preserves_flags));
    }
    sp
}

/// The lowest address the stack may grow to: the end of `.bss` / `.uninit` (`__sheap`, which
/// both runtimes' linker scripts define).
pub fn stack_floor() -> usize {
    unsafe extern "C" {
        static __sheap: u8;
    }
    &raw const __sheap as usize
}
