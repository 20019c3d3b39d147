//! The `floor` both benchmarks time beside each kernel.
//!
//! `copy_from_slice` is glibc's `memcpy`, which at the benchmarks' sizes runs `rep movsb`:
//! it writes whole cache lines without reading them first. A kernel's ordinary stores first
//! read each line they write (a read for ownership); where the bytes come from L3 that read
//! costs about as much as reading the input again. The floor is what `copy` would be if it
//! wrote like a kernel.

use normkern::{BatchNorm, InOut, Kernels, Shape};

/// One scale and shift of `x` into `y` (normkern's BatchNorm inference on a single channel):
/// a load, a fused multiply-add and a store per value, the least work a kernel that stores
/// through the cache does on these bytes.
pub fn floor(k: &Kernels, x: &[f32], y: &mut [f32]) {
    let one_channel = Shape::nchw(1, 1, 1, x.len());
    let affine = BatchNorm::new(&[3.0], &[2.25]).eps(1e-5);
    k.batch_norm_inference(&affine, one_channel, InOut::new(x, y))
        .expect("one channel of x.len() values fits y");
}
