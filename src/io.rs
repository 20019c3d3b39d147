//! The input and output of an operator: two buffers, or one overwritten in place.

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
pub struct InOut<'a> {
    src: *const f32,
    dst: *mut f32,
    src_len: usize,
    dst_len: usize,
    _buffers: PhantomData<&'a mut [f32]>,
}

// SAFETY: an `InOut` stands for a `&'a [f32]` and a `&'a mut [f32]` (or one `&'a mut [f32]`
// in place), which may be sent to another thread. Shared, it only reads: its writes take
// `&mut self`.
unsafe impl Send for InOut<'_> {}
// SAFETY: see `Send`; through `&InOut` nothing is written.
unsafe impl Sync for InOut<'_> {}

impl core::fmt::Debug for InOut<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("InOut")
            .field("in_place", &core::ptr::eq(self.src, self.dst))
            .field("input_len", &self.src_len)
            .field("output_len", &self.dst_len)
            .finish()
    }
}

impl<'a> InOut<'a> {
    /// Read `x`, write `y`.
    ///
    /// ```
    /// let (x, mut y) = ([1.0f32; 4], [0.0f32; 4]);
    /// let io = normkern::InOut::new(&x, &mut y);
    /// assert_eq!((io.input_len(), io.output_len()), (4, 4));
    /// ```
    pub fn new(x: &'a [f32], y: &'a mut [f32]) -> Self {
        InOut {
            src: x.as_ptr(),
            dst: y.as_mut_ptr(),
            src_len: x.len(),
            dst_len: y.len(),
            _buffers: PhantomData,
        }
    }

    /// Read and overwrite `xy`.
    ///
    /// ```
    /// let mut xy = [1.0f32; 4];
    /// assert_eq!(normkern::InOut::in_place(&mut xy).input_len(), 4);
    /// ```
    pub fn in_place(xy: &'a mut [f32]) -> Self {
        let dst = xy.as_mut_ptr();
        InOut {
            src: dst,
            dst,
            src_len: xy.len(),
            dst_len: xy.len(),
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
        self.dst_len.saturating_mul(size_of::<f32>()) >= STREAM_BYTES
    }

    fn check(&self, start: usize, len: usize, limit: usize) {
        assert!(start.checked_add(len).is_some_and(|end| end <= limit));
    }

    /// The input values `start..start + len` as they are now. Nothing is written while the
    /// returned borrow of `self` lives.
    pub(crate) fn input(&self, start: usize, len: usize) -> &[f32] {
        self.check(start, len, self.src_len);
        // SAFETY: in bounds (checked); writes need `&mut self`, so none happen meanwhile.
        unsafe { core::slice::from_raw_parts(self.src.add(start), len) }
    }

    pub(crate) fn input_ptr(&self, start: usize, len: usize) -> *const f32 {
        self.check(start, len, self.src_len);
        // SAFETY: in bounds (checked).
        unsafe { self.src.add(start) }
    }

    pub(crate) fn ptrs(&mut self, start: usize, len: usize) -> (*const f32, *mut f32) {
        self.check(start, len, self.src_len.min(self.dst_len));
        // SAFETY: in bounds of both buffers (checked).
        unsafe { (self.src.add(start), self.dst.add(start)) }
    }
}
