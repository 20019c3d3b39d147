//! Zero-copy views of raw tensor and weight bytes as `f32` (native byte order), for buffers
//! that come from files, memory maps or flash.

use crate::error::{ErrorKind, NormError};

fn bytes_error(op: &'static str, len: usize) -> NormError {
    NormError::new(
        op,
        ErrorKind::Bytes {
            len,
            misaligned: len.is_multiple_of(4),
        },
    )
}

/// Views `bytes` as `f32` values without copying. Fails unless the length is a multiple of 4
/// and the start is 4-byte aligned.
///
/// ```
/// let values = [1.5f32, -2.0];
/// // Bytes as they come from a file or a memory map (here the values' own, so aligned).
/// let bytes: &[u8] = unsafe { core::slice::from_raw_parts(values.as_ptr().cast(), 8) };
/// assert_eq!(normkern::bytes::as_f32(bytes)?, &values);
/// assert!(normkern::bytes::as_f32(&bytes[..7]).is_err());
/// # Ok::<(), normkern::NormError>(())
/// ```
pub fn as_f32(bytes: &[u8]) -> Result<&[f32], NormError> {
    bytemuck::try_cast_slice(bytes).map_err(|_| bytes_error("bytes::as_f32", bytes.len()))
}

/// Mutable view of `bytes` as `f32` values; same conditions as [`as_f32`].
///
/// ```
/// let mut values = [0.0f32; 2];
/// let bytes: &mut [u8] = unsafe { core::slice::from_raw_parts_mut(values.as_mut_ptr().cast(), 8) };
/// normkern::bytes::as_f32_mut(bytes)?[1] = 2.0;
/// assert_eq!(values, [0.0, 2.0]);
/// # Ok::<(), normkern::NormError>(())
/// ```
pub fn as_f32_mut(bytes: &mut [u8]) -> Result<&mut [f32], NormError> {
    let len = bytes.len();
    bytemuck::try_cast_slice_mut(bytes).map_err(|_| bytes_error("bytes::as_f32_mut", len))
}
