//! Element conversions lane by lane, for the registers without conversion instructions:
//! `half`'s exact widening and nearest-even narrowing, through an `f32` buffer.

use super::{MAX_LANES, Vector};

pub(crate) fn f16_to_f32(bits: u16) -> f32 {
    half::f16::from_bits(bits).to_f32()
}

pub(crate) fn f32_to_f16(value: f32) -> u16 {
    half::f16::from_f32(value).to_bits()
}

pub(crate) fn bf16_to_f32(bits: u16) -> f32 {
    half::bf16::from_bits(bits).to_f32()
}

pub(crate) fn f32_to_bf16(value: f32) -> u16 {
    half::bf16::from_f32(value).to_bits()
}

/// The first `n <= MAX_LANES` 16-bit values at `src` in a buffer, 0 past them: what a
/// partial load reads in full.
///
/// # Safety
/// `src` is valid for `n` reads.
#[inline(always)]
pub(crate) unsafe fn first(src: *const u16, n: usize) -> [u16; MAX_LANES] {
    let mut bits = [0u16; MAX_LANES];
    // SAFETY: forwarded from the caller; `bits` holds MAX_LANES >= n values.
    unsafe { core::ptr::copy_nonoverlapping(src, bits.as_mut_ptr(), n) };
    bits
}

/// The first `n <= V::LANES` 16-bit values at `src`, widened by `widen`; 0 in the other lanes.
///
/// # Safety
/// `src` is valid for `n` reads, and `V`'s instruction set is available.
#[inline(always)]
pub(crate) unsafe fn load_with<V: Vector>(
    src: *const u16,
    n: usize,
    widen: impl Fn(u16) -> f32,
) -> V {
    let mut values = [0.0f32; MAX_LANES];
    for (i, value) in values.iter_mut().enumerate().take(n) {
        // SAFETY: `i < n`.
        *value = widen(unsafe { src.add(i).read_unaligned() });
    }
    // SAFETY: `values` holds MAX_LANES >= LANES values.
    unsafe { V::load(values.as_ptr()) }
}

/// Narrows the first `n <= V::LANES` lanes of `v` by `narrow` into `dst`.
///
/// # Safety
/// `dst` is valid for `n` writes, and `V`'s instruction set is available.
#[inline(always)]
pub(crate) unsafe fn store_with<V: Vector>(
    v: V,
    dst: *mut u16,
    n: usize,
    narrow: impl Fn(f32) -> u16,
) {
    let mut values = [0.0f32; MAX_LANES];
    // SAFETY: `values` holds MAX_LANES >= LANES values.
    unsafe { v.store(values.as_mut_ptr()) };
    for (i, &value) in values.iter().enumerate().take(n) {
        // SAFETY: `i < n`.
        unsafe { dst.add(i).write_unaligned(narrow(value)) };
    }
}
