//! The tensor sizes the every-operator binaries run on, here (`main.rs`) and in `firmware/sizes`
//! (included by path), so that both link the same calls on the same shapes. Each fills its
//! input in place: a shared input function changed the code the sizes measure.

/// Batch, channels and positions.
pub const N: usize = 2;
pub const C: usize = 6;
pub const S: usize = 10;
/// Values in the tensor.
pub const LEN: usize = N * C * S;
