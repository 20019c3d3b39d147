//! The square root `core` lacks on stable Rust, in hardware where the target has one.
//!
//! A leaf: nothing else of the crate is used here.

/// `sqrt(x)`, correctly rounded (IEEE 754), as the hardware instruction where there is one.
///
/// A Cortex-M4F has `vsqrt.f32`, but `libm::sqrtf` would link a table-based software square
/// root there, so its hard-float ABI targets get the instruction directly.
#[cfg(all(target_arch = "arm", target_abi = "eabihf"))]
#[inline]
pub(crate) fn sqrt(x: f32) -> f32 {
    let mut bits = x.to_bits();
    // SAFETY: `vsqrt.f32` on the FPU every hard-float ABI target has; s0 is declared
    // clobbered, and nothing is read or written in memory.
    unsafe {
        core::arch::asm!(
            "vmov s0, {bits}",
            "vsqrt.f32 s0, s0",
            "vmov {bits}, s0",
            bits = inout(reg) bits,
            out("s0") _,
            options(pure, nomem, nostack),
        );
    }
    f32::from_bits(bits)
}

/// `sqrt(x)`, correctly rounded (IEEE 754), as SSE's `sqrtss`: written as an intrinsic, not
/// `libm`'s inline assembly, so that inside the AVX kernels it is compiled as the VEX form.
/// The legacy form there, after 512-bit code, stalled each row's statistics (bf16 LayerNorm
/// 8192x2048 spent about a sixth of its time on that one instruction).
#[cfg(target_arch = "x86_64")]
#[inline]
pub(crate) fn sqrt(x: f32) -> f32 {
    use core::arch::x86_64::{_mm_cvtss_f32, _mm_set_ss, _mm_sqrt_ss};
    // SAFETY: SSE is part of every x86_64 target.
    unsafe { _mm_cvtss_f32(_mm_sqrt_ss(_mm_set_ss(x))) }
}

/// `sqrt(x)`, correctly rounded (IEEE 754): `libm` uses the hardware instruction on aarch64
/// and wasm.
#[cfg(not(any(
    all(target_arch = "arm", target_abi = "eabihf"),
    target_arch = "x86_64"
)))]
#[inline]
pub(crate) fn sqrt(x: f32) -> f32 {
    libm::sqrtf(x)
}

/// `1 / sqrt(x)`, the square root and the division each correctly rounded.
#[inline]
pub(crate) fn recip_sqrt(x: f32) -> f32 {
    1.0 / sqrt(x)
}
