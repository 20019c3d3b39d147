//! Cortex-M4F on QEMU's `mps2-an386`: output and exit over semihosting, SysTick as the
//! instruction counter, the FPU's `vsqrt.f32`.
//!
//! Counting instructions: QEMU has no DWT cycle counter, and Debian's QEMU ships no TCG
//! plugins. Under `-icount shift=0` QEMU's virtual clock advances exactly 1 ns per guest
//! instruction, and SysTick, clocked from the board's 25 MHz system clock, counts that clock:
//! one tick every 40 instructions. The firmware calibrates the ratio with a loop of known
//! instruction count ([`crate::cpu::spin`]) and the checker converts ticks to instructions
//! with it.

use core::arch::asm;
use core::ptr::{read_volatile, write_volatile};
use cortex_m_semihosting::{debug, hio};

pub const NAME: &str = "cortex-m4f/mps2-an386";

const SYST_CSR: *mut u32 = 0xE000_E010 as *mut u32;
const SYST_RVR: *mut u32 = 0xE000_E014 as *mut u32;
const SYST_CVR: *mut u32 = 0xE000_E018 as *mut u32;

/// Where the firmware prints.
pub struct Port(Option<hio::HostStream>);

impl Port {
    pub fn open() -> Port {
        Port(hio::hstdout().ok())
    }

    pub fn write(&mut self, bytes: &[u8]) {
        if let Some(s) = self.0.as_mut() {
            let _ = s.write_all(bytes);
        }
    }
}

/// Starts SysTick from the processor clock, free-running over its 24 bits, no interrupt.
pub fn init() {
    // SAFETY: the SysTick registers of every Cortex-M; nothing else uses SysTick here.
    unsafe {
        write_volatile(SYST_CSR, 0);
        write_volatile(SYST_RVR, 0x00FF_FFFF);
        write_volatile(SYST_CVR, 0);
        write_volatile(SYST_CSR, 0b101); // ENABLE | CLKSOURCE = processor clock
    }
}

/// A timestamp in ticks; differences are taken modulo [`COUNTER_MASK`] + 1.
#[inline(always)]
pub fn now() -> u32 {
    // SysTick counts down; negate so that time goes up.
    // SAFETY: reading the SysTick current value register.
    let v = unsafe { read_volatile(SYST_CVR) };
    0x00FF_FFFF - v
}

pub const COUNTER_MASK: u32 = 0x00FF_FFFF;

/// The FPU's square root (`vsqrt.f32`). Stable Rust has no `f32::sqrt` without std and no
/// `sreg` operands on this target (the VFP target features are unstable), so the value goes
/// through a core register and `s0`, declared clobbered.
#[inline(always)]
pub fn sqrtf(x: f32) -> f32 {
    let r: u32;
    // SAFETY: FPU instructions on registers only; `s0` is declared clobbered.
    unsafe {
        asm!(
            "vmov s0, {x}",
            "vsqrt.f32 s0, s0",
            "vmov {r}, s0",
            x = in(reg) x.to_bits(),
            r = lateout(reg) r,
            out("s0") _,
            options(pure, nomem, nostack),
        )
    };
    f32::from_bits(r)
}

pub fn exit(ok: bool) -> ! {
    debug::exit(if ok {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    loop {
        core::hint::spin_loop();
    }
}
