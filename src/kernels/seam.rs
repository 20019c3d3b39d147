//! The seam between kernels and memory. Every activation a kernel reads comes through a
//! [`Source`], every output it writes goes through a [`Sink`], and each normalized vector
//! passes an [`Epilogue`] on its way to the sink.
//!
//! An element type ([`Values`] of f32, f16 or bf16, which widen and narrow as they load and
//! store),
//! a second input stream (`x + residual`, a `Source` that also writes the sum) or an activation
//! after the normalization (an `Epilogue`) is each one type implementing one trait: no kernel,
//! table or signature changes for it. Parameters (gamma, beta, running statistics) and the
//! kernels' own scratch arrays stay f32 and are not read through here.
//!
//! Constants that depend on memory are in bytes ([`LINE_BYTES`]); a kernel converts them to
//! elements with its source's or sink's `ELEMENT_BYTES`.

use crate::activation::{Activation, ActivationKind};
use crate::element::{Element, ElementKind};
use crate::simd::{Vector, math};

/// Bytes in a cache line.
pub(crate) const LINE_BYTES: usize = 64;

/// Where a kernel reads activations: `lanes` elements at an element offset, as f32 lanes.
pub(crate) trait Source: Copy {
    /// Bytes per element in memory.
    const ELEMENT_BYTES: usize;

    /// The source `n` elements further on. Only computes an address: nothing is read.
    fn offset(self, n: usize) -> Self;

    /// The `lanes` elements at `at`, widened to f32, with 0 in the lanes past them. `lanes ==
    /// V::LANES` is a constant in the hot loops, and the partial branch folds away there.
    ///
    /// # Safety
    /// `1 <= lanes <= V::LANES`, elements `at..at + lanes` are readable, and `V`'s instruction
    /// set is available.
    unsafe fn load<V: Vector>(self, at: usize, lanes: usize) -> V;

    /// Asks for the cache line of element `at` ahead of its use. A hint: it never faults.
    ///
    /// # Safety
    /// `V`'s instruction set is available.
    unsafe fn prefetch<V: Vector>(self, at: usize);

    /// As [`Source::load`], in the pass that writes the output from these values: a source
    /// that computes its values (a residual sum) writes them out here, once.
    ///
    /// # Safety
    /// As [`Source::load`].
    #[inline(always)]
    unsafe fn load_final<V: Vector>(self, at: usize, lanes: usize) -> V {
        // SAFETY: forwarded from the caller.
        unsafe { self.load(at, lanes) }
    }

    /// Each lane rounded to this source's element type (ties to even), as f32.
    ///
    /// # Safety
    /// `V`'s instruction set is available.
    unsafe fn round<V: Vector>(v: V) -> V;
}

/// Where a kernel writes its outputs: `lanes` f32 lanes narrowed to elements at an offset.
pub(crate) trait Sink: Copy {
    /// Bytes per element in memory.
    const ELEMENT_BYTES: usize;

    /// The sink `n` elements further on. Only computes an address: nothing is written.
    fn offset(self, n: usize) -> Self;

    /// Stores the first `lanes` lanes of `v` at `at`, writing nothing past them.
    ///
    /// # Safety
    /// `1 <= lanes <= V::LANES`, elements `at..at + lanes` are writable (and not read through
    /// any live reference), and `V`'s instruction set is available.
    unsafe fn store<V: Vector>(self, at: usize, v: V, lanes: usize);

    /// Stores a whole vector at `at` without reading its line into the cache first, where the
    /// instruction set can ([`Vector::STREAMS`]); [`Vector::fence`] orders such stores.
    ///
    /// # Safety
    /// As [`Sink::store`] with `lanes = V::LANES`, and the output at `at` is aligned to a
    /// whole vector ([`Sink::aligned_head`]).
    unsafe fn store_stream<V: Vector>(self, at: usize, v: V);

    /// Asks for the cache line of element `at` ahead of a store to it. A hint: it never
    /// faults, so `at` may lie past the output.
    ///
    /// # Safety
    /// `V`'s instruction set is available.
    unsafe fn prefetch<V: Vector>(self, at: usize);

    /// Elements before the output is aligned to a whole vector of `V` (0 when it is), at
    /// most `len`.
    fn aligned_head<V: Vector>(self, len: usize) -> usize;
}

/// What is applied to each normalized vector before it is stored (an activation, or nothing).
pub(crate) trait Epilogue: Copy {
    /// # Safety
    /// `V`'s instruction set is available.
    unsafe fn apply<V: Vector>(self, v: V) -> V;
}

/// The normalized value as it is.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Identity;

impl Epilogue for Identity {
    #[inline(always)]
    unsafe fn apply<V: Vector>(self, v: V) -> V {
        v
    }
}

/// A public [`Activation`] as an epilogue (its kind is a constant: the match folds away).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Activate<A>(pub A);

impl<A: Activation> Epilogue for Activate<A> {
    #[inline(always)]
    unsafe fn apply<V: Vector>(self, v: V) -> V {
        // SAFETY: forwarded from the caller.
        unsafe {
            match A::KIND {
                ActivationKind::None => v,
                ActivationKind::Relu => math::relu(v),
                ActivationKind::Silu => math::silu(v),
                ActivationKind::Gelu => math::gelu(v),
                ActivationKind::GeluTanh => math::gelu_tanh(v),
            }
        }
    }
}

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

/// A residual add as a source: `s = (x + skip) + bias[j]`, each addition in f32, rounded to
/// the element type, so that the statistics and the output see exactly the sum an unfused
/// add would have stored. The normalize pass ([`Source::load_final`]) also writes `s` to
/// `sum`, where the caller wants it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sum<S, D> {
    pub x: S,
    pub skip: S,
    /// Per element of a row (`at`), not moved by [`Source::offset`]; null for none.
    pub bias: *const f32,
    pub sum: Option<D>,
}

impl<S: Source, D: Sink> Source for Sum<S, D> {
    const ELEMENT_BYTES: usize = S::ELEMENT_BYTES;

    #[inline(always)]
    fn offset(self, n: usize) -> Self {
        Sum {
            x: self.x.offset(n),
            skip: self.skip.offset(n),
            sum: self.sum.map(|d| d.offset(n)),
            ..self
        }
    }

    #[inline(always)]
    unsafe fn load<V: Vector>(self, at: usize, lanes: usize) -> V {
        // SAFETY: the caller guarantees `at..at + lanes` is readable in both inputs (and the
        // bias, which holds a row's values), and the set available.
        unsafe {
            let s = self
                .x
                .load::<V>(at, lanes)
                .add(self.skip.load::<V>(at, lanes));
            let s = if self.bias.is_null() {
                s
            } else {
                s.add(super::lanes::load_param::<V>(self.bias, at, lanes))
            };
            S::round(s)
        }
    }

    #[inline(always)]
    unsafe fn load_final<V: Vector>(self, at: usize, lanes: usize) -> V {
        // SAFETY: as `load`; the sum's output is writable where the inputs are readable.
        unsafe {
            let s = self.load::<V>(at, lanes);
            if let Some(sum) = self.sum {
                sum.store(at, s, lanes);
            }
            s
        }
    }

    #[inline(always)]
    unsafe fn prefetch<V: Vector>(self, at: usize) {
        // SAFETY: forwarded from the caller.
        unsafe {
            self.x.prefetch::<V>(at);
            self.skip.prefetch::<V>(at);
        }
    }

    #[inline(always)]
    unsafe fn round<V: Vector>(v: V) -> V {
        // SAFETY: forwarded from the caller.
        unsafe { S::round(v) }
    }
}

/// A kernel's input and output: values read from `src`, normalized, passed through
/// `epilogue` and written to `dst`, which may be the same memory (in place).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Io<S, D, E> {
    pub src: S,
    pub dst: D,
    pub epilogue: E,
    /// Store whole vectors non-temporally: the output is far larger than the caches and will
    /// not be read back from them, so its lines need not be read in before being overwritten.
    pub nontemporal: bool,
}

impl<S: Source, D: Sink, E: Epilogue> Io<S, D, E> {
    /// Input and output `n` elements further on.
    #[inline(always)]
    pub(crate) fn offset(self, n: usize) -> Self {
        Io {
            src: self.src.offset(n),
            dst: self.dst.offset(n),
            ..self
        }
    }
}
