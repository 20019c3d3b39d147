//! Activations in memory as kernel sources and sinks: f32, f16 or bf16 elements, contiguous
//! ([`Values`], [`ValuesMut`]) or `stride` apart ([`StridedValues`], [`StridedValuesMut`], for
//! the compact set). Loads widen exactly, stores round to nearest even, each with the register
//! set's own conversion instructions where it has them.

use super::seam::{Sink, Source};
use crate::element::{Element, ElementKind};
use crate::simd::Vector;

/// `lanes` elements at `src`, widened to f32 (0 past them).
///
/// # Safety
/// `1 <= lanes <= V::LANES`, `src` is valid for `lanes` reads, `V`'s set is available.
#[inline(always)]
unsafe fn load_elements<T: Element, V: Vector>(src: *const T, lanes: usize) -> V {
    let whole = lanes == V::LANES;
    // SAFETY: forwarded from the caller; `T::KIND` says what `T` is.
    unsafe {
        match T::KIND {
            ElementKind::F32 if whole => V::load(src.cast()),
            ElementKind::F32 => V::load_partial(src.cast(), lanes),
            ElementKind::F16 if whole => V::load_f16(src.cast()),
            ElementKind::F16 => V::load_f16_partial(src.cast(), lanes),
            ElementKind::Bf16 if whole => V::load_bf16(src.cast()),
            ElementKind::Bf16 => V::load_bf16_partial(src.cast(), lanes),
        }
    }
}

/// The first `lanes` lanes of `v`, rounded to `T` (nearest even), stored at `dst`.
///
/// # Safety
/// `1 <= lanes <= V::LANES`, `dst` is valid for `lanes` writes, `V`'s set is available.
#[inline(always)]
unsafe fn store_elements<T: Element, V: Vector>(dst: *mut T, v: V, lanes: usize) {
    let whole = lanes == V::LANES;
    // SAFETY: forwarded from the caller; `T::KIND` says what `T` is.
    unsafe {
        match T::KIND {
            ElementKind::F32 if whole => v.store(dst.cast()),
            ElementKind::F32 => v.store_partial(dst.cast(), lanes),
            ElementKind::F16 if whole => v.store_f16(dst.cast()),
            ElementKind::F16 => v.store_f16_partial(dst.cast(), lanes),
            ElementKind::Bf16 if whole => v.store_bf16(dst.cast()),
            ElementKind::Bf16 => v.store_bf16_partial(dst.cast(), lanes),
        }
    }
}

/// Each lane rounded to the nearest `T` (ties to even), as f32.
///
/// # Safety
/// `V`'s instruction set is available.
#[inline(always)]
unsafe fn round_to<T: Element, V: Vector>(v: V) -> V {
    // SAFETY: forwarded from the caller.
    unsafe {
        match T::KIND {
            ElementKind::F32 => v,
            ElementKind::F16 => v.round_f16(),
            ElementKind::Bf16 => v.round_bf16(),
        }
    }
}

/// Activations of type `T`, contiguous in memory.
#[derive(Debug)]
pub(crate) struct Values<T>(pub *const T);

impl<T> Clone for Values<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Values<T> {}

impl<T: Element> Source for Values<T> {
    const ELEMENT_BYTES: usize = size_of::<T>();

    #[inline(always)]
    fn offset(self, n: usize) -> Self {
        Values(self.0.wrapping_add(n))
    }

    #[inline(always)]
    unsafe fn load<V: Vector>(self, at: usize, lanes: usize) -> V {
        // SAFETY: the caller guarantees `at..at + lanes` is readable and the set available.
        unsafe { load_elements::<T, V>(self.0.add(at), lanes) }
    }

    #[inline(always)]
    unsafe fn prefetch<V: Vector>(self, at: usize) {
        // SAFETY: a prefetch never faults; the caller guarantees the set is available.
        unsafe { V::prefetch(self.0.wrapping_add(at).cast()) }
    }

    #[inline(always)]
    unsafe fn round<V: Vector>(v: V) -> V {
        // SAFETY: forwarded from the caller.
        unsafe { round_to::<T, V>(v) }
    }
}

/// Outputs of type `T`, contiguous in memory.
#[derive(Debug)]
pub(crate) struct ValuesMut<T>(pub *mut T);

impl<T> Clone for ValuesMut<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for ValuesMut<T> {}

impl<T: Element> Sink for ValuesMut<T> {
    const ELEMENT_BYTES: usize = size_of::<T>();
    const ROUNDS_BF16: bool = matches!(T::KIND, ElementKind::Bf16);

    #[inline(always)]
    fn offset(self, n: usize) -> Self {
        ValuesMut(self.0.wrapping_add(n))
    }

    #[inline(always)]
    unsafe fn store<V: Vector>(self, at: usize, v: V, lanes: usize) {
        // SAFETY: the caller guarantees `at..at + lanes` is writable and the set available.
        unsafe { store_elements::<T, V>(self.0.add(at), v, lanes) }
    }

    #[inline(always)]
    unsafe fn store_rounded<V: Vector>(self, at: usize, v: V, lanes: usize) -> V {
        // SAFETY: as `store`; the elements just stored are readable.
        unsafe {
            self.store(at, v, lanes);
            match T::KIND {
                ElementKind::F32 => v,
                _ => load_elements::<T, V>(self.0.add(at), lanes),
            }
        }
    }

    #[inline(always)]
    unsafe fn store_stream<V: Vector>(self, at: usize, v: V) {
        // SAFETY: the caller guarantees a writable, vector-aligned output. Only f32 has a
        // non-temporal store of whole vectors; the narrow types store as usual.
        unsafe {
            match T::KIND {
                ElementKind::F32 => v.store_stream(self.0.add(at).cast()),
                _ => self.store(at, v, V::LANES),
            }
        }
    }

    #[inline(always)]
    unsafe fn prefetch<V: Vector>(self, at: usize) {
        // SAFETY: a prefetch never faults; the caller guarantees the set is available.
        unsafe { V::prefetch(self.0.wrapping_add(at).cast_const().cast()) }
    }

    #[inline(always)]
    fn aligned_head<V: Vector>(self, len: usize) -> usize {
        let align = V::LANES * Self::ELEMENT_BYTES;
        let misalignment = self.0 as usize % align;
        ((align - misalignment) % align / Self::ELEMENT_BYTES).min(len)
    }
}

/// Activations of type `T` `stride` elements apart: one position's channels in a
/// channels-first tensor, read by the compact set's kernels (a core without caches pays
/// nothing for the stride). Loads an element at a time.
#[derive(Debug)]
pub(crate) struct StridedValues<T> {
    pub ptr: *const T,
    pub stride: usize,
}

impl<T> Clone for StridedValues<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for StridedValues<T> {}

impl<T: Element> Source for StridedValues<T> {
    const ELEMENT_BYTES: usize = size_of::<T>();

    #[inline(always)]
    fn offset(self, n: usize) -> Self {
        StridedValues {
            ptr: self.ptr.wrapping_add(n * self.stride),
            ..self
        }
    }

    #[inline(always)]
    unsafe fn load<V: Vector>(self, at: usize, lanes: usize) -> V {
        let mut values = [0.0f32; crate::simd::MAX_LANES];
        for (lane, value) in values.iter_mut().enumerate().take(lanes) {
            // SAFETY: the caller guarantees elements `at..at + lanes` are readable.
            *value = unsafe { load_elements::<T, f32>(self.ptr.add((at + lane) * self.stride), 1) };
        }
        // SAFETY: `values` holds MAX_LANES >= LANES values; the set is available.
        unsafe { V::load(values.as_ptr()) }
    }

    #[inline(always)]
    unsafe fn prefetch<V: Vector>(self, _: usize) {}

    #[inline(always)]
    unsafe fn round<V: Vector>(v: V) -> V {
        // SAFETY: forwarded from the caller.
        unsafe { round_to::<T, V>(v) }
    }
}

/// Outputs of type `T` `stride` elements apart (see [`StridedValues`]).
#[derive(Debug)]
pub(crate) struct StridedValuesMut<T> {
    pub ptr: *mut T,
    pub stride: usize,
}

impl<T> Clone for StridedValuesMut<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for StridedValuesMut<T> {}

impl<T: Element> Sink for StridedValuesMut<T> {
    const ELEMENT_BYTES: usize = size_of::<T>();
    const ROUNDS_BF16: bool = matches!(T::KIND, ElementKind::Bf16);

    #[inline(always)]
    fn offset(self, n: usize) -> Self {
        StridedValuesMut {
            ptr: self.ptr.wrapping_add(n * self.stride),
            ..self
        }
    }

    #[inline(always)]
    unsafe fn store<V: Vector>(self, at: usize, v: V, lanes: usize) {
        let mut values = [0.0f32; crate::simd::MAX_LANES];
        // SAFETY: `values` holds MAX_LANES >= LANES values; the caller guarantees elements
        // `at..at + lanes` are writable.
        unsafe {
            v.store(values.as_mut_ptr());
            for (lane, &value) in values.iter().enumerate().take(lanes) {
                store_elements::<T, f32>(self.ptr.add((at + lane) * self.stride), value, 1);
            }
        }
    }

    #[inline(always)]
    unsafe fn store_rounded<V: Vector>(self, at: usize, v: V, lanes: usize) -> V {
        // SAFETY: forwarded from the caller.
        unsafe {
            let rounded = round_to::<T, V>(v);
            self.store(at, rounded, lanes);
            rounded
        }
    }

    #[inline(always)]
    unsafe fn store_stream<V: Vector>(self, at: usize, v: V) {
        // SAFETY: forwarded from the caller.
        unsafe { self.store(at, v, V::LANES) }
    }

    #[inline(always)]
    unsafe fn prefetch<V: Vector>(self, _: usize) {}

    #[inline(always)]
    fn aligned_head<V: Vector>(self, _: usize) -> usize {
        0
    }
}
