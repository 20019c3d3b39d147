//! Registers: the few lane-wise operations the kernels are written against, one
//! implementation per instruction set.
//!
//! Each instruction set implements [`Vector`] for its register type and names the types it
//! runs kernels with ([`Arch`]); the algorithms in `crate::kernels` are written once over the
//! trait and instantiated per instruction set inside a `#[target_feature]` function, so every
//! call here inlines into native code. Nothing here knows of kernels or operators.

/// `Vector` methods that are one function of their registers, `name(operands) => function`:
/// `Newtype: ...` where the register wraps the function's type (the x86 sets), the bare list
/// where it is that type.
macro_rules! lanewise {
    ($wrap:ident: $($name:ident($($rhs:ident),*) => $f:path),* $(,)?) => {$(
        #[inline(always)]
        unsafe fn $name(self $(, $rhs: Self)*) -> Self {
            // SAFETY: the `Vector` contract: this CPU has the register's instruction set.
            $wrap(unsafe { $f(self.0 $(, $rhs.0)*) })
        }
    )*};
    ($($name:ident($($rhs:ident),*) => $f:path),* $(,)?) => {$(
        #[inline(always)]
        unsafe fn $name(self $(, $rhs: Self)*) -> Self {
            $f(self $(, $rhs)*)
        }
    )*};
}

mod convert;
pub(crate) mod math;
mod portable;
mod scalar;
#[cfg(target_arch = "x86_64")]
pub(crate) mod x86;

pub(crate) use portable::Portable;
pub(crate) use scalar::Scalar;

/// The vector types one instruction set runs kernels with.
pub(crate) trait Arch {
    /// For the statistics passes, which gain from the widest registers.
    type Wide: Vector;
    /// For the passes that only stream values through (affine maps, channels-last normalize):
    /// 512-bit vectors gain nothing there and measured slower than 256-bit ones, except where
    /// the pass does arithmetic of its own (`Io::WIDE_PASS`).
    type Stream: Vector;
}

/// A part of a kernel that [`Vector::outline`] compiles as a function of its own.
pub(crate) trait Piece {
    type Output;

    /// Implementations are `#[inline(always)]`, so the whole piece compiles inside the
    /// outlining function, with its instruction set.
    ///
    /// # Safety
    /// As the implementing type documents.
    unsafe fn run(self) -> Self::Output;
}

/// A register of `LANES` f32 values.
///
/// # Safety
/// Every method is `unsafe`: the x86 implementations are only valid on a CPU that has their
/// instruction set, and the loads and stores read or write `LANES` values (or the `n` given)
/// through raw pointers. Callers guarantee both.
pub(crate) trait Vector: Copy {
    const LANES: usize;

    unsafe fn splat(value: f32) -> Self;
    /// Unaligned load of `LANES` values.
    unsafe fn load(src: *const f32) -> Self;
    /// Unaligned store of `LANES` values.
    unsafe fn store(self, dst: *mut f32);
    unsafe fn add(self, rhs: Self) -> Self;
    unsafe fn sub(self, rhs: Self) -> Self;
    unsafe fn mul(self, rhs: Self) -> Self;
    /// `self * a + b`, fused where the instruction set has FMA.
    unsafe fn mul_add(self, a: Self, b: Self) -> Self;
    /// `self * a - b`, fused where the instruction set has FMA.
    unsafe fn mul_sub(self, a: Self, b: Self) -> Self;
    /// Whether `mul_add` and `mul_sub` are fused (rounded once) on this set, so that
    /// `a.mul_sub(b, a * b)` is the exact error of the product. Only a speed-up: without it the
    /// same values come from splitting the operands.
    const FUSED: bool = false;
    unsafe fn abs(self) -> Self;
    /// Lane-wise `self > rhs ? self : rhs`: the second operand where either is NaN (as x86's
    /// `maxps`).
    unsafe fn max(self, rhs: Self) -> Self;
    /// Lane-wise `self < rhs ? self : rhs`: the second operand where either is NaN (as x86's
    /// `minps`).
    unsafe fn min(self, rhs: Self) -> Self;
    /// `1 / sqrt(self)`, the square root and the division each correctly rounded (the same
    /// bits as the scalar expression; no reciprocal-square-root approximation).
    unsafe fn recip_sqrt(self) -> Self;
    /// `self / rhs`, correctly rounded.
    unsafe fn div(self, rhs: Self) -> Self;
    /// Whether the activations' quotients come faster from [`Vector::recip_estimate`] (an
    /// estimate instruction: x86's `rcpps`, `vrcp14ps`) refined by fused multiply-adds than
    /// from the division (see `math::div_bounded`): a measured choice per set.
    const DIVIDE_BY_ESTIMATE: bool = false;
    /// `1 / self` within 2^-11 relative for normal `self` whose reciprocal is normal: the
    /// set's estimate instruction where it has one, else the correctly rounded division.
    #[inline(always)]
    unsafe fn recip_estimate(self) -> Self {
        // SAFETY: the trait's contract.
        unsafe { Self::splat(1.0).div(self) }
    }
    /// `2^self`, for lanes that hold integers in `-126..=127` (a NaN lane gives some value,
    /// never undefined behavior: the activations let a NaN input's lanes run through).
    unsafe fn pow2i(self) -> Self;
    /// `a` in the lanes where `self` is negative (its sign bit set, or less than zero), `b`
    /// in the others: a branch-free choice.
    unsafe fn select_negative(self, a: Self, b: Self) -> Self;
    /// Sum of the lanes.
    unsafe fn reduce_add(self) -> f32;
    /// Largest lane.
    unsafe fn reduce_max(self) -> f32;

    /// Loads the first `n < LANES` values from `src` (reading nothing past them); the other
    /// lanes are 0.
    #[inline(always)]
    unsafe fn load_partial(src: *const f32, n: usize) -> Self {
        let mut buffer = [0.0f32; MAX_LANES];
        // SAFETY: `src` is valid for `n < LANES <= MAX_LANES` reads (the trait's contract).
        unsafe {
            core::ptr::copy_nonoverlapping(src, buffer.as_mut_ptr(), n);
            Self::load(buffer.as_ptr())
        }
    }

    /// Stores the first `n < LANES` lanes to `dst` (writing nothing past them).
    #[inline(always)]
    unsafe fn store_partial(self, dst: *mut f32, n: usize) {
        let mut buffer = [0.0f32; MAX_LANES];
        // SAFETY: `dst` is valid for `n < LANES <= MAX_LANES` writes (the trait's contract).
        unsafe {
            self.store(buffer.as_mut_ptr());
            core::ptr::copy_nonoverlapping(buffer.as_ptr(), dst, n);
        }
    }

    /// The lane sums of `ROWS` vectors, `sums[r] = v[r].reduce_add()`, where lanes are summed
    /// in the same order for every `r` (so no sum depends on the other vectors). Wide sets
    /// override it with a transposing add tree: a fraction of the shuffles of sixteen
    /// reductions, and one chain of latency instead of sixteen.
    #[inline(always)]
    unsafe fn reduce_add_rows(v: &[Self; ROWS]) -> [f32; ROWS] {
        // SAFETY: the trait's contract (the instruction set is available).
        core::array::from_fn(|r| unsafe { v[r].reduce_add() })
    }

    /// Asks for the cache line holding `src` to be brought into L1 ahead of its use. A hint: it
    /// never faults, and it changes no result.
    #[inline(always)]
    unsafe fn prefetch(_src: *const f32) {}

    /// Whether hot loops get extra copies specialized to common lengths: worth its code size
    /// on the runtime-selected x86 sets, not in a microcontroller's flash.
    const SPECIALIZE: bool = false;

    /// Whether the kernels take their compact form with this register (the scalar set, which
    /// microcontrollers run): one plain loop per pass with one accumulator, without the
    /// unrolling, blocking and pipelining that hide latency on large cores and cost flash and
    /// stack on small ones.
    const COMPACT: bool = false;

    /// Whether `store_stream` bypasses the cache (x86 non-temporal stores).
    const STREAMS: bool = false;

    /// Vector registers the instruction set names: what a loop can hold across iterations
    /// before LLVM spills to the stack.
    const REGISTERS: usize = 16;

    /// Runs `piece` as a function of its own, compiled for this register's instruction set,
    /// rather than inlined into the caller. A kernel outlines the variants it picks between at
    /// run time (one per affine kind, say): each kernel inlined whole made functions of 100k+
    /// LLVM lines, which took minutes each to optimize. Call it outside the hot loops: it is
    /// a call. The scalar set inlines it, as microcontroller builds hold one variant.
    ///
    /// # Safety
    /// This register's instruction set is available, and `piece`'s own contract holds.
    #[inline(always)]
    unsafe fn outline<P: Piece>(piece: P) -> P::Output {
        // SAFETY: forwarded from the caller.
        unsafe { piece.run() }
    }

    /// Stores to `dst`, aligned to `LANES * 4` bytes, without reading the line into the cache
    /// first where the instruction set can. Such stores are weakly ordered: the x86 dispatch
    /// (`Kernels::run`) fences them once, as the kernel returns.
    #[inline(always)]
    unsafe fn store_stream(self, dst: *mut f32) {
        // SAFETY: the trait's contract.
        unsafe { self.store(dst) }
    }

    /// `LANES` IEEE binary16 values, widened exactly.
    #[inline(always)]
    unsafe fn load_f16(src: *const u16) -> Self {
        // SAFETY: forwarded from the caller.
        unsafe { convert::load_with(src, Self::LANES, convert::f16_to_f32) }
    }

    /// The first `n <= LANES` binary16 values (reading nothing past them), widened exactly;
    /// the other lanes are 0.
    #[inline(always)]
    unsafe fn load_f16_partial(src: *const u16, n: usize) -> Self {
        // SAFETY: `src` is valid for `n` reads; the buffer holds MAX_LANES >= LANES values.
        unsafe { Self::load_f16(convert::first(src, n).as_ptr()) }
    }

    /// The lanes rounded to binary16, to nearest even.
    #[inline(always)]
    unsafe fn store_f16(self, dst: *mut u16) {
        // SAFETY: forwarded from the caller.
        unsafe { convert::store_with(self, dst, Self::LANES, convert::f32_to_f16) }
    }

    /// The first `n <= LANES` lanes rounded to binary16 (writing nothing past them).
    #[inline(always)]
    unsafe fn store_f16_partial(self, dst: *mut u16, n: usize) {
        let mut bits = [0u16; MAX_LANES];
        // SAFETY: `bits` holds MAX_LANES >= LANES values; `dst` is valid for `n` writes.
        unsafe {
            self.store_f16(bits.as_mut_ptr());
            core::ptr::copy_nonoverlapping(bits.as_ptr(), dst, n);
        }
    }

    /// `LANES` bfloat16 values, widened exactly.
    #[inline(always)]
    unsafe fn load_bf16(src: *const u16) -> Self {
        // SAFETY: forwarded from the caller.
        unsafe { convert::load_with(src, Self::LANES, convert::bf16_to_f32) }
    }

    /// The first `n <= LANES` bfloat16 values, widened exactly; the other lanes are 0.
    #[inline(always)]
    unsafe fn load_bf16_partial(src: *const u16, n: usize) -> Self {
        // SAFETY: `src` is valid for `n` reads; the buffer holds MAX_LANES >= LANES values.
        unsafe { Self::load_bf16(convert::first(src, n).as_ptr()) }
    }

    /// The lanes rounded to bfloat16, to nearest even.
    #[inline(always)]
    unsafe fn store_bf16(self, dst: *mut u16) {
        // SAFETY: forwarded from the caller.
        unsafe { convert::store_with(self, dst, Self::LANES, convert::f32_to_bf16) }
    }

    /// The first `n <= LANES` lanes rounded to bfloat16 (writing nothing past them).
    #[inline(always)]
    unsafe fn store_bf16_partial(self, dst: *mut u16, n: usize) {
        let mut bits = [0u16; MAX_LANES];
        // SAFETY: `bits` holds MAX_LANES >= LANES values; `dst` is valid for `n` writes.
        unsafe {
            self.store_bf16(bits.as_mut_ptr());
            core::ptr::copy_nonoverlapping(bits.as_ptr(), dst, n);
        }
    }

    /// Each lane rounded to the nearest binary16 value (ties to even) and widened back.
    #[inline(always)]
    unsafe fn round_f16(self) -> Self {
        let mut bits = [0u16; MAX_LANES];
        // SAFETY: `bits` holds MAX_LANES >= LANES values.
        unsafe {
            self.store_f16(bits.as_mut_ptr());
            Self::load_f16(bits.as_ptr())
        }
    }

    /// Each lane rounded to the nearest bfloat16 value (ties to even) and widened back.
    #[inline(always)]
    unsafe fn round_bf16(self) -> Self {
        let mut bits = [0u16; MAX_LANES];
        // SAFETY: `bits` holds MAX_LANES >= LANES values.
        unsafe {
            self.store_bf16(bits.as_mut_ptr());
            Self::load_bf16(bits.as_ptr())
        }
    }

    /// 1.0 in the first `n` lanes, 0.0 in the others.
    #[inline(always)]
    unsafe fn mask(n: usize) -> Self {
        const ONES: [f32; MAX_LANES] = [1.0; MAX_LANES];
        // SAFETY: ONES holds MAX_LANES >= n values.
        unsafe { Self::load_partial(ONES.as_ptr(), n) }
    }
}

/// The widest register any implementation uses, in lanes (AVX-512).
pub(crate) const MAX_LANES: usize = 16;

/// Vectors [`Vector::reduce_add_rows`] reduces at once: one per row of a block of short rows.
pub(crate) const ROWS: usize = 16;
