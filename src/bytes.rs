//! Zero-copy views of raw tensor and weight bytes as `f32` (native byte order), for buffers
//! that come from files, memory maps or flash.

use crate::error::NormError;

fn bytes_error(len: usize) -> NormError {
    NormError::Bytes {
        len,
        misaligned: len.is_multiple_of(4),
    }
}

/// Views `bytes` as `f32` values without copying. Fails unless the length is a multiple of 4
/// and the start is 4-byte aligned.
pub fn as_f32(bytes: &[u8]) -> Result<&[f32], NormError> {
    bytemuck::try_cast_slice(bytes).map_err(|_| bytes_error(bytes.len()))
}

/// Mutable view of `bytes` as `f32` values; same conditions as [`as_f32`].
pub fn as_f32_mut(bytes: &mut [u8]) -> Result<&mut [f32], NormError> {
    let len = bytes.len();
    bytemuck::try_cast_slice_mut(bytes).map_err(|_| bytes_error(len))
}
