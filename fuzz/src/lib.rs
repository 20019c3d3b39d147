//! Shared code of the normkern fuzz targets: structured input generators ([`input`]), the float64
//! reference and its tolerances ([`reference`]), and the oracle harness ([`check`]).

pub mod check;
pub mod input;
pub mod reference;

/// Inputs that trigger bugs already reported against the crate, skipped so that the other
/// properties keep being fuzzed. Each returns `true` when the input must be skipped; set
/// `NORMKERN_FUZZ_STRICT=1` to fuzz them anyway (and delete the gate once the bug is fixed).
pub mod known {
    use normkern::Shape;
    use std::sync::OnceLock;

    fn strict() -> bool {
        static STRICT: OnceLock<bool> = OnceLock::new();
        *STRICT.get_or_init(|| std::env::var_os("NORMKERN_FUZZ_STRICT").is_some_and(|v| v == "1"))
    }

    /// Shapes to skip before anything is built.
    pub fn skip_shape(shape: &Shape) -> bool {
        zero_shape_partial_overflow(shape)
    }

    /// Inputs to skip once `x` is built: an empty tensor that may pass validation.
    pub fn skip_empty(shape: &Shape, x: &[f32]) -> bool {
        x.is_empty() && empty_tensor_loop(shape)
    }

    /// `Shape::len` refuses `[n, c, 0]` with `ShapeOverflow` when `n * c` overflows, although
    /// the tensor holds 0 values (`ShapeOverflow` is documented as "the product of the shape's
    /// dimensions does not fit in usize"). Either the code or the documentation should change;
    /// until then such shapes are skipped.
    pub fn zero_shape_partial_overflow(shape: &Shape) -> bool {
        !strict() && shape.spatial == 0 && shape.n.checked_mul(shape.c).is_none()
    }

    /// Channels-last `batch_norm_inference` on an empty tensor (`n * spatial = 0`) with more
    /// channels than one column window (1024 with `std`, 128 without) panics: the second
    /// window's `column_affine` asks for offset `w0 = 1024` of a 0-value buffer
    /// (src/io.rs `check`: "assertion failed: start.checked_add(len)...").
    pub fn bn_inference_empty_wide(shape: &Shape) -> bool {
        !strict()
            && shape.layout == normkern::Layout::ChannelsLast
            && (shape.n == 0 || shape.spatial == 0)
            && shape.c > 128
    }

    /// Channels-first `mean_variance_norm` with the default axes (`BatchAndSpatial`) on an
    /// empty batch (`n = 0`, `c >= 2`, `spatial >= 1`) panics: channel 1's planes start at
    /// offset `spatial` of a 0-value buffer (src/io.rs `check`).
    pub fn mvn_empty_batch(shape: &Shape) -> bool {
        !strict()
            && shape.layout == normkern::Layout::ChannelsFirst
            && shape.n == 0
            && shape.c >= 2
            && shape.spatial >= 1
    }

    /// Operators walk the dimensions of an empty tensor: with one dimension 0 the others may
    /// be huge (the shape is valid, 0 values), and e.g. channels-first BatchNorm inference
    /// calls the affine kernel n·c times, LayerNorm/RMSNorm over channels and MVN run the
    /// engines n times, channels-last InstanceNorm/MVN with c = 0 run the columns engine n
    /// times, each call paying ~2 µs of set-up (n = 2^24 takes 30-40 s for channels-last
    /// InstanceNorm with c = 0 and channels-first LayerNorm over channels with spatial = 0;
    /// n = 2^40, hours). Skipped when a dimension exceeds 2^12 and `x` is empty (with any other
    /// length validation fails first, so those cases are still fuzzed).
    pub fn empty_tensor_loop(shape: &Shape) -> bool {
        let dims = [shape.n, shape.c, shape.spatial];
        !strict() && dims.contains(&0) && dims.iter().any(|&d| d > 1 << 12)
    }
}
