//! The seam between kernels and memory. Every activation a kernel reads comes through a
//! [`Source`], every output it writes goes through a [`Sink`], and each normalized vector
//! passes an [`Epilogue`] on its way to the sink.
//!
//! An element type (`elements::Values` of f32, f16 or bf16, which widen and narrow as they
//! load and store), a second input stream (`residual::Sum`, `x + residual`, a `Source` that
//! also writes the sum) or an activation after the normalization ([`Activate`], an
//! `Epilogue`) is each one type implementing one trait: no kernel, table or signature changes
//! for it. Parameters (gamma, beta, running statistics) and the
//! kernels' own scratch arrays stay f32 and are not read through here.
//!
//! Constants that depend on memory are in bytes ([`LINE_BYTES`]); a kernel converts them to
//! elements with its source's or sink's `ELEMENT_BYTES`.

use crate::activation::{Activation, AnyActivation};
use crate::simd::{Vector, math};

/// Bytes in a cache line.
pub(crate) const LINE_BYTES: usize = 64;

/// Where a kernel reads activations: `lanes` elements at an element offset, as f32 lanes.
pub(crate) trait Source: Copy {
    /// Bytes per element in memory.
    const ELEMENT_BYTES: usize;

    /// Whether reading rounds values to bfloat16 (a residual sum of bf16 values).
    const ROUNDS_BF16: bool = false;

    /// The source `n` elements further on. Only computes an address: nothing is read.
    fn offset(self, n: usize) -> Self;

    /// The source `n` elements further along the same row: as [`Source::offset`], and what a
    /// source indexes within a row (a residual's bias) moves too.
    #[inline(always)]
    fn offset_in_row(self, n: usize) -> Self {
        self.offset(n)
    }

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

    /// Whether storing rounds values to bfloat16.
    const ROUNDS_BF16: bool;

    /// The sink `n` elements further on. Only computes an address: nothing is written.
    fn offset(self, n: usize) -> Self;

    /// Stores the first `lanes` lanes of `v` at `at`, writing nothing past them.
    ///
    /// # Safety
    /// `1 <= lanes <= V::LANES`, elements `at..at + lanes` are writable (and not read through
    /// any live reference), and `V`'s instruction set is available.
    unsafe fn store<V: Vector>(self, at: usize, v: V, lanes: usize);

    /// As [`Sink::store`], and returns the stored lanes widened back: `v` rounded to the
    /// element type, at the cost of one rounding (a store and a load) rather than two.
    ///
    /// # Safety
    /// As [`Sink::store`]; the elements stored may be read back.
    unsafe fn store_rounded<V: Vector>(self, at: usize, v: V, lanes: usize) -> V;

    /// Stores a whole vector at `at` without reading its line into the cache first, where the
    /// instruction set can ([`Vector::STREAMS`]); the dispatch fences such stores once, as the
    /// kernel returns.
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
    /// Whether the epilogue costs more than the memory traffic it rides on: the streaming
    /// passes then run in the set's widest vectors rather than its streaming ones.
    const COMPUTE_BOUND: bool = false;

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

/// A public [`Activation`] as an epilogue (for the unit types the kind is a constant and the
/// match folds away; for [`AnyActivation`] it is one predictable branch per vector).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Activate<A>(pub A);

impl<A: Activation> Epilogue for Activate<A> {
    const COMPUTE_BOUND: bool = A::COMPUTE_BOUND;

    #[inline(always)]
    unsafe fn apply<V: Vector>(self, v: V) -> V {
        // SAFETY: forwarded from the caller.
        unsafe {
            match self.0.kind() {
                AnyActivation::None => v,
                AnyActivation::Relu => math::relu(v),
                AnyActivation::Silu => math::silu(v),
                AnyActivation::Gelu => math::gelu(v),
                AnyActivation::GeluTanh => math::gelu_tanh(v),
            }
        }
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
    /// Ask for each output line ahead of its stores ([`Kernels::output_prefetch`]).
    ///
    /// [`Kernels::output_prefetch`]: crate::Kernels::output_prefetch
    pub prefetch: bool,
}

impl<S: Source, D: Sink, E: Epilogue> Io<S, D, E> {
    /// Whether reading or writing rounds values to bfloat16 (see `Kernel::ROUNDS_BF16`).
    pub(crate) const ROUNDS_BF16: bool = S::ROUNDS_BF16 || D::ROUNDS_BF16;

    /// Whether a pass streaming these buffers runs in the set's widest vectors rather than
    /// its streaming ones (`Arch::Stream`, which suit plain memory traffic better): where the
    /// epilogue costs more than that traffic, or where rounding to bfloat16 does (nine
    /// operations a register without AVX-512 BF16; with it a conversion and a check for
    /// subnormals). On an Intel Xeon family 6 model 167, 512-bit bf16 passes took 0.87x the
    /// time of 256-bit ones in add_rms_norm's add pass and 0.89x in GroupNorm NHWC's
    /// normalize pass with AVX-512 BF16, 0.77-0.80x, 0.65x and (BatchNorm NCHW) 0.52x without it.
    pub(crate) const WIDE_PASS: bool = E::COMPUTE_BOUND || Self::ROUNDS_BF16;

    /// Input and output `n` elements further on.
    #[inline(always)]
    pub(crate) fn offset(self, n: usize) -> Self {
        Io {
            src: self.src.offset(n),
            dst: self.dst.offset(n),
            ..self
        }
    }

    /// Input and output `n` elements further along the same row (see
    /// [`Source::offset_in_row`]).
    #[inline(always)]
    pub(crate) fn offset_in_row(self, n: usize) -> Self {
        Io {
            src: self.src.offset_in_row(n),
            dst: self.dst.offset(n),
            ..self
        }
    }
}
