//! The input and output of an operator: two buffers, or one overwritten in place, of any
//! element type; and the residual input of the fused add.

use crate::element::Element;
use crate::kernels::Runs;
use crate::window::Window;
use core::marker::PhantomData;

/// Where an operator reads `x` and writes `y`: two separate slices ([`InOut::new`]) or one slice
/// normalized in place ([`InOut::in_place`]). Operators check both lengths against the shape
/// before touching anything. `Send` and `Sync`: an engine can hand each of its threads an
/// `InOut` over its own part of a tensor.
///
/// ```
/// use normkern::{InOut, Kernels, RmsNorm, Shape};
/// let mut h = vec![2.0f32; 4 * 64];
/// let k = Kernels::detect();
/// std::thread::scope(|s| {
///     for part in h.chunks_mut(2 * 64) {
///         s.spawn(move || {
///             k.rms_norm(&RmsNorm::new(), Shape::rows(2, 64), InOut::in_place(part), None)
///         });
///     }
/// });
/// assert!(h.iter().all(|&v| (v - 1.0).abs() < 1e-5));
/// ```
///
/// Internally reads and writes go through raw pointers so the two may alias; every access is
/// bounds-checked.
pub struct InOut<'a, T: Element = f32> {
    src: *const T,
    dst: *mut T,
    src_len: usize,
    dst_len: usize,
    /// The values this `InOut` may touch: all but in a part of a channel cut (`parallel`).
    window: Window,
    _buffers: PhantomData<&'a mut [T]>,
}

// SAFETY: an `InOut` stands for a `&'a [f32]` and a `&'a mut [f32]` (or one `&'a mut [f32]`
// in place), which may be sent to another thread; or, from `interleaved`, for the values of
// its window of those, disjoint from every other window's (every access is checked against
// it). Shared, it only reads: its writes take `&mut self`.
unsafe impl<T: Element> Send for InOut<'_, T> {}
// SAFETY: see `Send`; through `&InOut` nothing is written.
unsafe impl<T: Element> Sync for InOut<'_, T> {}

impl<T: Element> core::fmt::Debug for InOut<'_, T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("InOut")
            .field("in_place", &core::ptr::eq(self.src, self.dst))
            .field("input_len", &self.src_len)
            .field("output_len", &self.dst_len)
            .finish()
    }
}

impl<'a, T: Element> InOut<'a, T> {
    /// Read `x`, write `y`.
    ///
    /// ```
    /// let (x, mut y) = ([1.0f32; 4], [0.0f32; 4]);
    /// let io = normkern::InOut::new(&x, &mut y);
    /// assert_eq!((io.input_len(), io.output_len()), (4, 4));
    /// ```
    pub fn new(x: &'a [T], y: &'a mut [T]) -> Self {
        InOut {
            src: x.as_ptr(),
            dst: y.as_mut_ptr(),
            src_len: x.len(),
            dst_len: y.len(),
            window: Window::ALL,
            _buffers: PhantomData,
        }
    }

    /// Read and overwrite `xy`.
    ///
    /// ```
    /// let mut xy = [1.0f32; 4];
    /// assert_eq!(normkern::InOut::in_place(&mut xy).input_len(), 4);
    /// ```
    pub fn in_place(xy: &'a mut [T]) -> Self {
        let dst = xy.as_mut_ptr();
        InOut {
            src: dst,
            dst,
            src_len: xy.len(),
            dst_len: xy.len(),
            window: Window::ALL,
            _buffers: PhantomData,
        }
    }

    /// Length of the input.
    pub fn input_len(&self) -> usize {
        self.src_len
    }

    /// Length of the output.
    pub fn output_len(&self) -> usize {
        self.dst_len
    }

    /// Whether the output is so large (16 MiB and up, half a typical L3) that it will not stay
    /// cached for whoever reads it next: then the kernels store it non-temporally, sparing the
    /// read of every output line that an ordinary store costs (as `memcpy` does at this size).
    pub(crate) fn streams(&self) -> bool {
        const STREAM_BYTES: usize = 16 << 20;
        self.output_bytes() >= STREAM_BYTES
    }

    /// Whether the output is so large (8 MiB and up, a quarter of a typical L3) that its lines
    /// come mostly from memory when it is written through the cache: then the kernels ask
    /// for them ahead of their stores on every CPU. (A Zen 3 EPYC, which is picked without
    /// for smaller outputs, ran BatchNorm training 32x128x768 channels-last, 12 MiB, 1.10x
    /// as long without; GroupNorm NHWC 1x64x64x320, 5 MiB, 0.97x.)
    pub(crate) fn output_from_memory(&self) -> bool {
        const FROM_MEMORY_BYTES: usize = 8 << 20;
        self.output_bytes() >= FROM_MEMORY_BYTES
    }

    /// The output's size in bytes (saturating: only compared against thresholds).
    fn output_bytes(&self) -> usize {
        self.dst_len.saturating_mul(size_of::<T>())
    }

    /// Panics unless the `len` values at `start` lie in the first `limit` and the window.
    fn check(&self, start: usize, len: usize, limit: usize) {
        assert!(start.checked_add(len).is_some_and(|end| end <= limit));
        assert!(self.window.holds(start, len));
    }

    /// Panics unless every value of the group of `runs` at `start` lies in the first `limit`
    /// and the window.
    fn check_runs(&self, start: usize, runs: Runs, limit: usize) {
        assert!(
            start
                .checked_add(runs.span())
                .is_some_and(|end| end <= limit)
        );
        assert!(
            self.window
                .holds_runs(start, runs.count, runs.len, runs.stride)
        );
    }

    /// The input of the group of `runs` at `start` (bounds-checked), to read its runs only.
    pub(crate) fn runs_input_ptr(&self, start: usize, runs: Runs) -> *const T {
        self.check_runs(start, runs, self.src_len);
        // SAFETY: in bounds (checked).
        unsafe { self.src.add(start) }
    }

    /// The input and output of the group of `runs` at `start` (bounds-checked), to read and
    /// write its runs only.
    pub(crate) fn runs_ptrs(&mut self, start: usize, runs: Runs) -> (*const T, *mut T) {
        self.check_runs(start, runs, self.src_len.min(self.dst_len));
        // SAFETY: in bounds of both buffers (checked).
        unsafe { (self.src.add(start), self.dst.add(start)) }
    }

    /// The input values `start..start + len` as they are now. Nothing is written while the
    /// returned borrow of `self` lives.
    pub(crate) fn input(&self, start: usize, len: usize) -> &[T] {
        self.check(start, len, self.src_len);
        // SAFETY: in bounds (checked); writes need `&mut self`, so none happen meanwhile.
        unsafe { core::slice::from_raw_parts(self.src.add(start), len) }
    }

    pub(crate) fn input_ptr(&self, start: usize, len: usize) -> *const T {
        self.check(start, len, self.src_len);
        // SAFETY: in bounds (checked).
        unsafe { self.src.add(start) }
    }

    /// The values `..mid` and `mid..` as two `InOut`s (for the threads of `parallel`);
    /// `None` where `mid` lies past either buffer.
    #[cfg(feature = "rayon")]
    pub(crate) fn split_at(self, mid: usize) -> Option<(Self, Self)> {
        assert!(self.window.is_all());
        if mid > self.src_len || mid > self.dst_len {
            return None;
        }
        let tail = InOut {
            // SAFETY: `mid` is within both buffers (checked).
            src: unsafe { self.src.add(mid) },
            // SAFETY: as above.
            dst: unsafe { self.dst.add(mid) },
            src_len: self.src_len - mid,
            dst_len: self.dst_len - mid,
            window: Window::ALL,
            _buffers: PhantomData,
        };
        let head = InOut {
            src_len: mid,
            dst_len: mid,
            ..self
        };
        Some((head, tail))
    }

    /// One `InOut` over the same buffers per range of `ranges` (disjoint, within `period`):
    /// the one for `lo..hi` may touch only the values `lo..hi` of every `period` (for the
    /// threads of `parallel`, which write each its own channels of every sample).
    #[cfg(feature = "rayon")]
    pub(crate) fn interleaved(
        self,
        period: usize,
        ranges: impl Iterator<Item = core::ops::Range<usize>>,
    ) -> std::vec::Vec<Self> {
        assert!(self.window.is_all());
        let mut end = 0;
        ranges
            .map(|range| {
                // Disjoint windows: each thread's writes (and, in place, reads) are its own.
                assert!(range.start >= end);
                end = range.end;
                InOut {
                    window: Window::periodic(period, range),
                    ..self
                }
            })
            .collect()
    }

    pub(crate) fn ptrs(&mut self, start: usize, len: usize) -> (*const T, *mut T) {
        self.check(start, len, self.src_len.min(self.dst_len));
        // SAFETY: in bounds of both buffers (checked).
        unsafe { (self.src.add(start), self.dst.add(start)) }
    }
}

/// The second input of a fused residual add, `s = (x + skip) + bias` (each addition in f32,
/// the sum rounded to the element type), and where that sum goes: nowhere, over the residual
/// itself ([`Residual::accumulate`], vLLM's `fused_add_rms_norm`), or to a buffer of its own
/// ([`Residual::sum_to`], onnxruntime's `input_skip_bias_sum`). The norm is taken of the
/// rounded sum, so the fused call equals the unfused add followed by the norm.
///
/// ```
/// use normkern::{InOut, Kernels, Residual, RmsNorm, Shape};
/// let mut hidden = vec![1.0f32; 2 * 64];
/// let mut residual = vec![2.0f32; 2 * 64];
/// let rms = RmsNorm::new().eps(0.0);
/// let k = Kernels::detect();
/// // residual += hidden; hidden = rms_norm(residual)
/// k.add_rms_norm(&rms, Shape::rows(2, 64), InOut::in_place(&mut hidden), Residual::accumulate(&mut residual), None)?;
/// assert!(residual.iter().all(|&v| v == 3.0) && hidden.iter().all(|&v| v == 1.0));
/// # Ok::<(), normkern::NormError>(())
/// ```
pub struct Residual<'a, T: Element = f32> {
    skip: *const T,
    skip_len: usize,
    /// Null where the sum is not written.
    sum: *mut T,
    sum_len: usize,
    bias: Option<&'a [f32]>,
    _buffers: PhantomData<&'a mut [T]>,
}

// SAFETY: a `Residual` stands for a `&'a [T]` and an optional `&'a mut [T]` (or one
// `&'a mut [T]`), which may be sent to another thread; shared, nothing is written through it.
unsafe impl<T: Element> Send for Residual<'_, T> {}
// SAFETY: see `Send`.
unsafe impl<T: Element> Sync for Residual<'_, T> {}

impl<T: Element> core::fmt::Debug for Residual<'_, T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Residual")
            .field("skip_len", &self.skip_len)
            .field("writes_sum", &!self.sum.is_null())
            .field("in_place", &core::ptr::eq(self.skip, self.sum))
            .field("bias", &self.bias.map(<[f32]>::len))
            .finish()
    }
}

impl<'a, T: Element> Residual<'a, T> {
    /// Read `skip`; the sum is not written anywhere.
    ///
    /// ```
    /// let skip = [0.5f32; 8];
    /// let residual = normkern::Residual::new(&skip);
    /// # let _ = residual;
    /// ```
    pub fn new(skip: &'a [T]) -> Self {
        Residual {
            skip: skip.as_ptr(),
            skip_len: skip.len(),
            sum: core::ptr::null_mut(),
            sum_len: 0,
            bias: None,
            _buffers: PhantomData,
        }
    }

    /// Read `residual` and overwrite it with the sum: `residual += x (+ bias)`.
    ///
    /// ```
    /// let mut residual = [0.5f32; 8];
    /// let r = normkern::Residual::accumulate(&mut residual);
    /// # let _ = r;
    /// ```
    pub fn accumulate(residual: &'a mut [T]) -> Self {
        let len = residual.len();
        let ptr = residual.as_mut_ptr();
        Residual {
            skip: ptr,
            skip_len: len,
            sum: ptr,
            sum_len: len,
            bias: None,
            _buffers: PhantomData,
        }
    }

    /// Write the sum to `sum` (instead of wherever it went before).
    ///
    /// ```
    /// let (skip, mut sum) = ([0.5f32; 8], [0.0f32; 8]);
    /// let r = normkern::Residual::new(&skip).sum_to(&mut sum);
    /// # let _ = r;
    /// ```
    pub fn sum_to(self, sum: &'a mut [T]) -> Self {
        Residual {
            sum: sum.as_mut_ptr(),
            sum_len: sum.len(),
            ..self
        }
    }

    /// Add `bias` (one value per channel) to every position's sum.
    ///
    /// ```
    /// let (skip, bias) = ([0.5f32; 8], [0.25f32; 4]);
    /// let r = normkern::Residual::new(&skip).bias(&bias);
    /// # let _ = r;
    /// ```
    pub fn bias(self, bias: &'a [f32]) -> Self {
        Residual {
            bias: Some(bias),
            ..self
        }
    }

    pub(crate) fn skip_len(&self) -> usize {
        self.skip_len
    }

    /// The sum's buffer length, if it is written.
    pub(crate) fn sum_len(&self) -> Option<usize> {
        (!self.sum.is_null()).then_some(self.sum_len)
    }

    pub(crate) fn bias_values(&self) -> Option<&'a [f32]> {
        self.bias
    }

    /// The skip input and the sum's output at `start..start + len` (bounds-checked).
    pub(crate) fn ptrs(&mut self, start: usize, len: usize) -> (*const T, Option<*mut T>) {
        assert!(
            start
                .checked_add(len)
                .is_some_and(|end| end <= self.skip_len)
        );
        let sum = (!self.sum.is_null()).then(|| {
            assert!(start + len <= self.sum_len);
            // SAFETY: in bounds of the sum's buffer (checked).
            unsafe { self.sum.add(start) }
        });
        // SAFETY: in bounds of the skip buffer (checked).
        (unsafe { self.skip.add(start) }, sum)
    }
}
