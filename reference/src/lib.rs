//! Float64 reference for every normkern operator: the textbook definitions (ONNX / PyTorch
//! semantics), computed two-pass in f64 on the exact f32 inputs, with Neumaier-compensated sums.
//! No cleverness, so they can be trusted. It shares no code with normkern (it does not depend on
//! it): tensors are described by its own [`Dims`], conventions by its own [`MvnAxes`] and
//! [`Momentum`].
//!
//! Used by normkern's tests, its fuzz oracle and its benchmarks' correctness checks; each of
//! them keeps its own tolerances.
//!
//! Every normalizing reference returns an [`Expected`]: besides `y`, a per-element *magnitude*
//! `mag`, the size of the quantities whose f32 rounding the output inherits (a checker's
//! tolerance is a multiple of it), and per-group mean / biased variance / inverse std.
//!
//! Semantics pinned here:
//! - normalization uses the biased (population) variance: `(x - mean) / sqrt(var + eps)`;
//! - a group whose values are all equal, with `eps = 0`, has `0 / 0`; normkern defines its
//!   output as exactly beta (deviation 0), and so does this reference;
//! - RMSNorm: `x / sqrt(mean(x²) + eps) * gamma` (an all-zero row with eps 0 gives 0);
//! - MVN: `(x - mean) / (sqrt(var) + 1e-9)`, no affine;
//! - BatchNorm running statistics: PyTorch `running = (1 - m) running + m batch` with the
//!   unbiased variance (also for the cumulative average, `m = 1 / batches`); ONNX
//!   `running = m running + (1 - m) batch` with the biased variance.
//!
//! ```
//! use normkern_reference::{Dims, layer_norm};
//! let want = layer_norm(&[1.0, 2.0, 3.0, 4.0], 2, 0.0, None, None);
//! assert_eq!(want.y, [-1.0, 1.0, -1.0, 1.0]);
//! assert_eq!(want.mean(), [1.5, 3.5]);
//! assert_eq!(Dims::channels_last(1, 2, 3).index(0, 2, 1), 5);
//! ```

mod activation;
mod batch_norm;
mod dims;
mod layers;
mod normalize;
mod signal;
mod stats;

pub use activation::Activation;
pub use batch_norm::{
    Momentum, Running, affine_at, batch_norm_inference, batch_norm_training, bn_scale_shift,
    running_update,
};
pub use dims::Dims;
pub use layers::{Conv, fold_weights, linear};
pub use normalize::{
    Expected, Formula, Grouping, MvnAxes, channels, group_norm, layer_norm, mvn, normalize,
    rms_norm,
};
pub use signal::signal;
pub use stats::{Stats, Sum};
