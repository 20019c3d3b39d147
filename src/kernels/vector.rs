//! The few lane-wise operations the generic kernels are written against.
//!
//! Each instruction set implements [`Vector`] for its register type; the algorithms in
//! [`super::generic`] are written once over the trait and instantiated per instruction set
//! inside a `#[target_feature]` function, so every call here inlines into native code.

/// A register of `LANES` f32 values.
///
/// # Safety
/// Every method is `unsafe` because the x86 implementations are only valid on a CPU that has
/// their instruction set; callers guarantee that, and that pointers are valid for `LANES` values.
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
    unsafe fn abs(self) -> Self;
    /// Lane-wise maximum (which operand wins on NaN is unspecified).
    unsafe fn max(self, rhs: Self) -> Self;
    /// `1 / sqrt(self)`, the square root and the division each correctly rounded (the same
    /// bits as the scalar expression; no reciprocal-square-root approximation).
    unsafe fn recip_sqrt(self) -> Self;
    /// Sum of the lanes.
    unsafe fn reduce_add(self) -> f32;
    /// Largest lane.
    unsafe fn reduce_max(self) -> f32;

    /// Loads the first `n < LANES` values from `src` (reading nothing past them); the other
    /// lanes are 0.
    #[inline(always)]
    unsafe fn load_partial(src: *const f32, n: usize) -> Self {
        let mut buffer = [0.0f32; MAX_LANES];
        unsafe {
            core::ptr::copy_nonoverlapping(src, buffer.as_mut_ptr(), n);
            Self::load(buffer.as_ptr())
        }
    }

    /// Stores the first `n < LANES` lanes to `dst` (writing nothing past them).
    #[inline(always)]
    unsafe fn store_partial(self, dst: *mut f32, n: usize) {
        let mut buffer = [0.0f32; MAX_LANES];
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
        core::array::from_fn(|r| unsafe { v[r].reduce_add() })
    }

    /// Asks for the cache line holding `src` to be brought into L1 ahead of its use. A hint: it
    /// never faults, and it changes no result.
    #[inline(always)]
    unsafe fn prefetch(_src: *const f32) {}

    /// Whether hot loops get extra copies specialized to common lengths: worth its code size
    /// on the runtime-selected x86 sets, not in a microcontroller's flash.
    const SPECIALIZE: bool = false;

    /// Whether `store_stream` bypasses the cache (x86 non-temporal stores).
    const STREAMS: bool = false;

    /// Stores to `dst`, aligned to `LANES * 4` bytes, without reading the line into the cache
    /// first where the instruction set can; [`Vector::fence`] orders such stores.
    #[inline(always)]
    unsafe fn store_stream(self, dst: *mut f32) {
        unsafe { self.store(dst) }
    }

    /// Makes streaming stores visible to other threads' ordinary synchronization.
    #[inline(always)]
    unsafe fn fence() {}

    /// 1.0 in the first `n` lanes, 0.0 in the others.
    #[inline(always)]
    unsafe fn mask(n: usize) -> Self {
        const ONES: [f32; MAX_LANES] = [1.0; MAX_LANES];
        unsafe { Self::load_partial(ONES.as_ptr(), n) }
    }
}

/// The widest register any implementation uses, in lanes (AVX-512).
pub(crate) const MAX_LANES: usize = 16;

/// Vectors [`Vector::reduce_add_rows`] reduces at once: one per row of a block of short rows.
pub(crate) const ROWS: usize = 16;

/// Plain `f32`: the scalar reference path.
impl Vector for f32 {
    const LANES: usize = 1;

    #[inline(always)]
    unsafe fn splat(value: f32) -> Self {
        value
    }
    #[inline(always)]
    unsafe fn load(src: *const f32) -> Self {
        unsafe { src.read() }
    }
    #[inline(always)]
    unsafe fn store(self, dst: *mut f32) {
        unsafe { dst.write(self) }
    }
    #[inline(always)]
    unsafe fn add(self, rhs: Self) -> Self {
        self + rhs
    }
    #[inline(always)]
    unsafe fn sub(self, rhs: Self) -> Self {
        self - rhs
    }
    #[inline(always)]
    unsafe fn mul(self, rhs: Self) -> Self {
        self * rhs
    }
    // Unfused on purpose: a software `fmaf` on targets without FMA costs tens of cycles.
    #[inline(always)]
    unsafe fn mul_add(self, a: Self, b: Self) -> Self {
        self * a + b
    }
    #[inline(always)]
    unsafe fn mul_sub(self, a: Self, b: Self) -> Self {
        self * a - b
    }
    #[inline(always)]
    unsafe fn abs(self) -> Self {
        f32::abs(self)
    }
    #[inline(always)]
    unsafe fn max(self, rhs: Self) -> Self {
        f32::max(self, rhs)
    }
    #[inline(always)]
    unsafe fn recip_sqrt(self) -> Self {
        1.0 / libm::sqrtf(self)
    }
    #[inline(always)]
    unsafe fn reduce_add(self) -> f32 {
        self
    }
    #[inline(always)]
    unsafe fn reduce_max(self) -> f32 {
        self
    }
}
