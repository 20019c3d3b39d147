//! The seam between kernels and memory. Every activation a kernel reads comes through a
//! [`Source`], every output it writes goes through a [`Sink`], and each normalized vector
//! passes an [`Epilogue`] on its way to the sink.
//!
//! An element type (f32 here; f16 and bf16 are a `Source` and a `Sink` that widen and narrow),
//! a second input stream (`x + residual`, a `Source` that also writes the sum) or an activation
//! after the normalization (an `Epilogue`) is each one type implementing one trait: no kernel,
//! table or signature changes for it. Parameters (gamma, beta, running statistics) and the
//! kernels' own scratch arrays stay f32 and are not read through here.
//!
//! Constants that depend on memory are in bytes ([`LINE_BYTES`]); a kernel converts them to
//! elements with its source's or sink's `ELEMENT_BYTES`.

use crate::simd::Vector;

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

/// `f32` activations read from memory.
#[derive(Clone, Copy, Debug)]
pub(crate) struct F32Source(pub *const f32);

impl Source for F32Source {
    const ELEMENT_BYTES: usize = size_of::<f32>();

    #[inline(always)]
    fn offset(self, n: usize) -> Self {
        F32Source(self.0.wrapping_add(n))
    }

    #[inline(always)]
    unsafe fn load<V: Vector>(self, at: usize, lanes: usize) -> V {
        // SAFETY: the caller guarantees `at..at + lanes` is readable and the set available.
        unsafe {
            let src = self.0.add(at);
            if lanes == V::LANES {
                V::load(src)
            } else {
                V::load_partial(src, lanes)
            }
        }
    }

    #[inline(always)]
    unsafe fn prefetch<V: Vector>(self, at: usize) {
        // SAFETY: a prefetch never faults; the caller guarantees the set is available.
        unsafe { V::prefetch(self.0.wrapping_add(at)) }
    }
}

/// `f32` outputs written to memory.
#[derive(Clone, Copy, Debug)]
pub(crate) struct F32Sink(pub *mut f32);

impl Sink for F32Sink {
    const ELEMENT_BYTES: usize = size_of::<f32>();

    #[inline(always)]
    fn offset(self, n: usize) -> Self {
        F32Sink(self.0.wrapping_add(n))
    }

    #[inline(always)]
    unsafe fn store<V: Vector>(self, at: usize, v: V, lanes: usize) {
        // SAFETY: the caller guarantees `at..at + lanes` is writable and the set available.
        unsafe {
            let dst = self.0.add(at);
            if lanes == V::LANES {
                v.store(dst)
            } else {
                v.store_partial(dst, lanes)
            }
        }
    }

    #[inline(always)]
    unsafe fn store_stream<V: Vector>(self, at: usize, v: V) {
        // SAFETY: the caller guarantees a writable, vector-aligned output.
        unsafe { v.store_stream(self.0.add(at)) }
    }

    #[inline(always)]
    unsafe fn prefetch<V: Vector>(self, at: usize) {
        // SAFETY: a prefetch never faults; the caller guarantees the set is available.
        unsafe { V::prefetch(self.0.wrapping_add(at).cast_const()) }
    }

    #[inline(always)]
    fn aligned_head<V: Vector>(self, len: usize) -> usize {
        let align = V::LANES * Self::ELEMENT_BYTES;
        let misalignment = self.0 as usize % align;
        ((align - misalignment) % align / Self::ELEMENT_BYTES).min(len)
    }
}

/// `f32` activations `stride` values apart: one position's channels in a channels-first
/// tensor, read by the compact set's row kernel (a core without caches pays nothing for the
/// stride). Loads a value at a time.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StridedSource {
    pub ptr: *const f32,
    pub stride: usize,
}

impl Source for StridedSource {
    const ELEMENT_BYTES: usize = size_of::<f32>();

    #[inline(always)]
    fn offset(self, n: usize) -> Self {
        StridedSource {
            ptr: self.ptr.wrapping_add(n * self.stride),
            ..self
        }
    }

    #[inline(always)]
    unsafe fn load<V: Vector>(self, at: usize, lanes: usize) -> V {
        let mut values = [0.0f32; crate::simd::MAX_LANES];
        for (lane, value) in values.iter_mut().enumerate().take(lanes) {
            // SAFETY: the caller guarantees elements `at..at + lanes` are readable.
            *value = unsafe { self.ptr.add((at + lane) * self.stride).read() };
        }
        // SAFETY: `values` holds MAX_LANES >= LANES values; the set is available.
        unsafe { V::load(values.as_ptr()) }
    }

    #[inline(always)]
    unsafe fn prefetch<V: Vector>(self, _: usize) {}
}

/// `f32` outputs `stride` values apart (see [`StridedSource`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct StridedSink {
    pub ptr: *mut f32,
    pub stride: usize,
}

impl Sink for StridedSink {
    const ELEMENT_BYTES: usize = size_of::<f32>();

    #[inline(always)]
    fn offset(self, n: usize) -> Self {
        StridedSink {
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
                self.ptr.add((at + lane) * self.stride).write(value);
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
