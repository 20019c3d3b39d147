//! Kernel layer: the hot loops over contiguous `f32`, one module per instruction set, and the
//! dispatch that picks one. Kernels know nothing of layouts or operators.

mod generic;
pub(crate) use generic::one_pass_accepted;
mod portable;
mod scalar;
mod vector;
#[cfg(target_arch = "x86_64")]
mod x86;

use crate::error::NormError;
use crate::io::InOut;
use crate::moments::{Moments, pivot_from};
use core::fmt;
use core::sync::atomic::{AtomicU8, Ordering};

pub(crate) use vector::MAX_LANES;

/// An instruction set the kernels can run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Isa {
    /// Plain `f32` code: the fallback everywhere, and the path the others are checked against.
    Scalar,
    /// `wide::f32x8`, fixed at compile time: NEON on aarch64, simd128 on wasm, SSE2 on a default
    /// x86_64 build.
    Portable,
    /// x86_64 AVX2 + FMA, selected at run time.
    Avx2,
    /// x86_64 AVX-512F, selected at run time.
    Avx512,
}

impl Isa {
    /// Every instruction set, slowest first.
    pub const ALL: [Isa; 4] = [Isa::Scalar, Isa::Portable, Isa::Avx2, Isa::Avx512];

    /// Whether this CPU (or, without `std`, this build's target features) can run the set.
    pub fn is_available(self) -> bool {
        match self {
            Isa::Scalar | Isa::Portable => true,
            Isa::Avx2 => has_avx2_fma(),
            Isa::Avx512 => has_avx512f(),
        }
    }

    /// The instruction sets this CPU can run, slowest first.
    pub fn available() -> impl Iterator<Item = Isa> {
        Isa::ALL.into_iter().filter(|isa| isa.is_available())
    }

    /// The fastest available set, detected once and cached.
    pub fn best() -> Isa {
        static BEST: AtomicU8 = AtomicU8::new(u8::MAX);
        match BEST.load(Ordering::Relaxed) {
            u8::MAX => {
                let best = Isa::available().last().unwrap_or(Isa::Scalar);
                BEST.store(best as u8, Ordering::Relaxed);
                best
            }
            cached => Isa::ALL[usize::from(cached) % Isa::ALL.len()],
        }
    }

    /// A short lowercase name: `scalar`, `portable`, `avx2`, `avx512`.
    pub const fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Portable => "portable",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
        }
    }

    fn kernel_set(self) -> &'static KernelSet {
        match self {
            Isa::Scalar => &scalar::SCALAR,
            Isa::Portable => &portable::PORTABLE,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => &x86::avx2::AVX2,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => &x86::avx512::AVX512,
            #[cfg(not(target_arch = "x86_64"))]
            Isa::Avx2 | Isa::Avx512 => &scalar::SCALAR,
        }
    }
}

impl fmt::Display for Isa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(all(target_arch = "x86_64", feature = "std"))]
fn has_avx2_fma() -> bool {
    std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
}
#[cfg(all(target_arch = "x86_64", feature = "std"))]
fn has_avx512f() -> bool {
    std::is_x86_feature_detected!("avx512f") && has_avx2_fma()
}
#[cfg(not(all(target_arch = "x86_64", feature = "std")))]
fn has_avx2_fma() -> bool {
    cfg!(all(
        target_arch = "x86_64",
        target_feature = "avx2",
        target_feature = "fma"
    ))
}
#[cfg(not(all(target_arch = "x86_64", feature = "std")))]
fn has_avx512f() -> bool {
    cfg!(all(target_arch = "x86_64", target_feature = "avx512f")) && has_avx2_fma()
}

/// A non-negative statistic held as `value / scale²` for a power of two `scale`, so that it
/// keeps full precision where it would be subnormal (|x| around 1e-20).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Scaled {
    pub value: f32,
    pub scale: f32,
}

impl Scaled {
    /// `sqrt(value) / scale`: the standard deviation, representable even where the variance
    /// is not.
    pub(crate) fn sqrt(self) -> f32 {
        libm::sqrtf(self.value) / self.scale
    }

    /// `1 / sqrt(value / scale² + eps)`, through f64 only when a scale is in play (rare data).
    pub(crate) fn inv_sqrt_plus(self, eps: f32) -> f32 {
        if self.scale == 1.0 {
            1.0 / libm::sqrtf(self.value + eps)
        } else {
            let scale = f64::from(self.scale);
            let unscaled = f64::from(self.value) / (scale * scale);
            (1.0 / libm::sqrt(unscaled + f64::from(eps))) as f32
        }
    }
}

/// Statistics of one normalized group, with the variance also kept scaled (see [`Scaled`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct GroupStats {
    /// Pivot, offset and variance, for normalizing as `((x - pivot) - offset) * ...`.
    pub moments: Moments,
    pub var: Scaled,
    /// The mean, rounded once from `pivot + offset` formed in f64 (what an operator reports).
    pub mean: f32,
}

impl GroupStats {
    /// From an f64 mean and variance: the pivot is the mean rounded to f32 and the offset the
    /// rest, and a variance outside f32's comfortable range is kept scaled.
    pub(crate) fn from_wide(count: u64, mean: f64, var: f64) -> Self {
        let pivot = pivot_from(mean as f32);
        let offset = (mean - f64::from(pivot)) as f32;
        let scale = variance_scale(var);
        let scaled = var * f64::from(scale) * f64::from(scale);
        let moments = Moments::from_parts(count, pivot, offset, var as f32);
        GroupStats {
            moments,
            var: Scaled {
                value: scaled as f32,
                scale,
            },
            mean: mean as f32,
        }
    }

    pub(crate) fn unscaled(moments: Moments) -> Self {
        let var = Scaled {
            value: moments.var_raw(),
            scale: 1.0,
        };
        let mean = f64::from(moments.pivot()) + f64::from(moments.mean_offset());
        GroupStats {
            moments,
            var,
            mean: mean as f32,
        }
    }
}

/// LayerNorm (`center`) or RMSNorm over `rows` rows of `cols` values.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rows<'a> {
    pub rows: usize,
    pub cols: usize,
    pub eps: f32,
    pub center: bool,
    pub gamma: Option<&'a [f32]>,
    pub beta: Option<&'a [f32]>,
}

/// Where a row kernel writes each row's mean and inverse std, if anywhere.
pub(crate) type StatsOut<'a> = Option<(&'a mut [f32], &'a mut [f32])>;

/// The factor deviations are multiplied by: `inv_std`, except that an exactly constant group
/// with eps = 0 (inv_std = inf, deviations exactly 0) gets 0, so its output is exactly beta
/// rather than `0 * inf = NaN`.
pub(crate) fn deviation_scale(inv_std: f32) -> f32 {
    if inv_std == f32::INFINITY {
        0.0
    } else {
        inv_std
    }
}

/// The corrected two-pass result: the offset of the mean from the pivot (first-pass `offset`
/// plus the mean of the second pass's deviations) and the scaled variance, from the second
/// pass's `(sum(d), sum(d²), scale)` over `n` values (`inv_n = 1 / n`).
#[inline(always)]
pub(crate) fn corrected(
    inv_n: f64,
    offset: f32,
    (deviations, squares, s): (f64, f64, f32),
) -> (f64, f64) {
    // The first pass's mean was off by mean(d); its square inflated the variance. (No
    // correction where the mean is already infinite or NaN; a NaN variance stays NaN.)
    let correction = if offset.is_finite() {
        deviations * inv_n
    } else {
        0.0
    };
    let scaled_var = squares * inv_n - correction * correction;
    let scaled_var = if scaled_var < 0.0 { 0.0 } else { scaled_var };
    (f64::from(offset) + correction / f64::from(s), scaled_var)
}

/// A power of two `s` that brings `var * s²` near 1 when `var` lies outside [2^-100, 2^100]
/// (where f32 holds it only imprecisely, or not at all), else 1.
fn variance_scale(var: f64) -> f32 {
    const LOW: f64 = 1.0 / (1u128 << 100) as f64;
    const HIGH: f64 = (1u128 << 100) as f64;
    if !var.is_finite() || var == 0.0 || (LOW..=HIGH).contains(&var) {
        return 1.0;
    }
    let exponent = ((var.to_bits() >> 52) & 0x7ff) as i32 - 1023;
    f32::from_bits(((127 - exponent / 2).clamp(1, 254) as u32) << 23)
}

/// One-pass sums of a group around a pivot: `sum(x - pivot)` and `sum((x - pivot)²)`, each
/// vector lane summed in f32 and folded into f64 every few hundred values.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Sums {
    pub pivot: f32,
    pub deviations: f64,
    pub squares: f64,
}

/// `count` runs of `len` values, `stride` apart: a row (`count` 1), the planes of a channel
/// across the batch, or a group's contiguous planes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Runs {
    pub count: usize,
    pub len: usize,
    pub stride: usize,
}

impl Runs {
    pub(crate) fn row(len: usize) -> Runs {
        Runs {
            count: 1,
            len,
            stride: len,
        }
    }

    /// Values spanned from the first to the last one.
    fn span(self) -> usize {
        match self.count {
            0 => 0,
            count => (count - 1) * self.stride + self.len,
        }
    }
}

/// `y = (x - pivot) * scale + shift` over a run of values.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Affine {
    pub pivot: f32,
    pub scale: f32,
    pub shift: f32,
}

/// `y = ((x - pivot) - mean) * inv_std * gamma[i] + beta[i]` over a row.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RowNormalize<'a> {
    pub pivot: f32,
    pub mean: f32,
    pub inv_std: f32,
    pub gamma: Option<&'a [f32]>,
    pub beta: Option<&'a [f32]>,
}

/// `rows` runs of `width` values, `stride` apart.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ColumnGeometry {
    pub rows: usize,
    pub width: usize,
    pub stride: usize,
}

impl ColumnGeometry {
    /// Values spanned from the first to the last one touched.
    fn span(self) -> usize {
        match self.rows {
            0 => 0,
            rows => (rows - 1) * self.stride + self.width,
        }
    }
}

/// Per-column state of `column_stats`: pivots in, then the first pass's mean offsets and the
/// second pass's sums of deviations and of squares, with each column's scale.
#[derive(Debug)]
pub(crate) struct ColumnStats<'a> {
    pub pivot: &'a mut [f32],
    pub offset: &'a mut [f32],
    pub dev: &'a mut [f32],
    pub sq: &'a mut [f32],
    pub scale: &'a mut [f32],
}

/// Per-column state of `column_sums`: pivots in, f32 scratch for a block's sums, and the f64
/// totals of `x - pivot` and of its square the block's sums are added to.
#[derive(Debug)]
pub(crate) struct ColumnSums<'a> {
    pub pivot: &'a [f32],
    pub dev32: &'a mut [f32],
    pub sq32: &'a mut [f32],
    pub dev: &'a mut [f64],
    pub sq: &'a mut [f64],
}

/// Per-column `y = (x - pivot[j]) * scale[j] + shift[j]`, then per row
/// `y = y * row_scale[r] + row_shift[r]` (absent: 1 and 0).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ColumnAffine<'a> {
    pub pivot: &'a [f32],
    pub scale: &'a [f32],
    pub shift: &'a [f32],
    pub row_scale: Option<&'a [f32]>,
    pub row_shift: Option<&'a [f32]>,
}

/// `generic::apply_runs`: a group's runs written with per-run affines, the next group's sums
/// taken in the same stream.
type ApplyRuns = unsafe fn(
    *const f32,
    *mut f32,
    Runs,
    &dyn Fn(usize) -> Affine,
    Option<*const f32>,
    bool,
) -> Option<Sums>;

/// One instruction set's kernels. Each is `unsafe`: the set must be available on this CPU and
/// the pointers valid; [`Kernels`] guarantees both.
pub(crate) struct KernelSet {
    moments: unsafe fn(&[f32], f32) -> Moments,
    group_sums: unsafe fn(*const f32, Runs) -> Sums,
    group_stats: unsafe fn(*const f32, Runs, Sums) -> GroupStats,
    apply_runs: ApplyRuns,
    normalize_rows: unsafe fn(*const f32, *mut f32, &Rows<'_>, StatsOut<'_>, bool),
    column_stats: unsafe fn(*const f32, ColumnGeometry, bool, &mut ColumnStats<'_>),
    column_sums: unsafe fn(*const f32, ColumnGeometry, &mut ColumnSums<'_>),
    column_affine: unsafe fn(*const f32, *mut f32, ColumnGeometry, &ColumnAffine<'_>, bool),
}

/// Instantiates the generic kernels for one vector type, inside `#[target_feature]` wrappers
/// when the instruction set needs them. The second type runs the passes that only stream
/// values through (affine maps, channels-last normalize): 512-bit vectors gain nothing there
/// and measured slower than 256-bit ones (BatchNorm inference NHWC 1.40 vs 1.09 x copy), while
/// the statistics passes gain from them (channels-last column sums on a Cascade Lake Xeon:
/// GroupNorm NHWC 0.96x the time with 256-bit ones, alternating in one process).
macro_rules! kernel_set {
    ($name:ident, $vector:ty, $stream:ty $(, $features:literal)?) => {
        use $crate::kernels::{Affine, ColumnAffine, ColumnGeometry, KernelSet, Runs, Sums};
        use $crate::moments::Moments;

        $(#[target_feature(enable = $features)])?
        unsafe fn moments(x: &[f32], pivot: f32) -> Moments {
            unsafe { $crate::kernels::generic::moments::<$vector>(x, pivot) }
        }
        $(#[target_feature(enable = $features)])?
        unsafe fn group_sums(src: *const f32, runs: Runs) -> Sums {
            unsafe { $crate::kernels::generic::group_sums::<$vector>(src, runs) }
        }
        $(#[target_feature(enable = $features)])?
        unsafe fn group_stats(
            src: *const f32,
            runs: Runs,
            sums: Sums,
        ) -> $crate::kernels::GroupStats {
            unsafe { $crate::kernels::generic::group_stats::<$vector>(src, runs, sums) }
        }
        $(#[target_feature(enable = $features)])?
        unsafe fn apply_runs(
            src: *const f32,
            dst: *mut f32,
            runs: Runs,
            affine: &dyn Fn(usize) -> Affine,
            next: Option<*const f32>,
            stream: bool,
        ) -> Option<Sums> {
            unsafe {
                $crate::kernels::generic::apply_runs::<$vector, $stream>(
                    src, dst, runs, affine, next, stream,
                )
            }
        }
        $(#[target_feature(enable = $features)])?
        unsafe fn normalize_rows(
            src: *const f32,
            dst: *mut f32,
            p: &$crate::kernels::Rows<'_>,
            stats: $crate::kernels::StatsOut<'_>,
            stream: bool,
        ) {
            unsafe { $crate::kernels::generic::normalize_rows::<$vector>(src, dst, p, stats, stream) }
        }
        $(#[target_feature(enable = $features)])?
        unsafe fn column_stats(
            src: *const f32,
            g: ColumnGeometry,
            center: bool,
            a: &mut $crate::kernels::ColumnStats<'_>,
        ) {
            unsafe { $crate::kernels::generic::column_stats::<$vector>(src, g, center, a) }
        }
        $(#[target_feature(enable = $features)])?
        unsafe fn column_sums(
            src: *const f32,
            g: ColumnGeometry,
            s: &mut $crate::kernels::ColumnSums<'_>,
        ) {
            unsafe { $crate::kernels::generic::column_sums::<$vector>(src, g, s) }
        }
        $(#[target_feature(enable = $features)])?
        unsafe fn column_affine(
            src: *const f32,
            dst: *mut f32,
            g: ColumnGeometry,
            p: &ColumnAffine<'_>,
            stream: bool,
        ) {
            unsafe { $crate::kernels::generic::column_affine::<$stream>(src, dst, g, p, stream) }
        }

        pub(crate) static $name: KernelSet = KernelSet {
            moments,
            group_sums,
            group_stats,
            apply_runs,
            normalize_rows,
            column_stats,
            column_sums,
            column_affine,
        };
    };
}
pub(crate) use kernel_set;

/// A handle on one instruction set's kernels: every operator is a method on it.
///
/// [`Kernels::detect`] picks the fastest set this CPU has (cached after the first call);
/// [`Kernels::new`] forces one, so tests, fuzzers and benchmarks can run every path.
#[derive(Clone, Copy)]
pub struct Kernels {
    isa: Isa,
    set: &'static KernelSet,
}

impl Kernels {
    /// The fastest instruction set available.
    pub fn detect() -> Kernels {
        let isa = Isa::best();
        Kernels {
            isa,
            set: isa.kernel_set(),
        }
    }

    /// A specific instruction set, or [`NormError::IsaUnavailable`] if this CPU lacks it.
    pub fn new(isa: Isa) -> Result<Kernels, NormError> {
        if isa.is_available() {
            Ok(Kernels {
                isa,
                set: isa.kernel_set(),
            })
        } else {
            Err(NormError::IsaUnavailable(isa))
        }
    }

    /// The instruction set these kernels run on.
    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// One-pass moments of `x`, pivoted on its first value.
    pub fn moments(&self, x: &[f32]) -> Moments {
        match x.first() {
            Some(&first) => self.moments_around(x, pivot_from(first)),
            None => Moments::new(),
        }
    }

    pub(crate) fn moments_around(&self, x: &[f32], pivot: f32) -> Moments {
        // SAFETY: the set is available (checked when `self` was built); `x` is a valid slice.
        unsafe { (self.set.moments)(x, pivot) }
    }

    /// One-pass sums of the group of runs at `start`, which is normalized right after.
    pub(crate) fn group_sums(&self, io: &InOut<'_>, start: usize, runs: Runs) -> Sums {
        let src = io.input_ptr(start, runs.span());
        // SAFETY: the set is available; every run lies inside the input (span checked).
        unsafe { (self.set.group_sums)(src, runs) }
    }

    /// The statistics of the group of runs at `start` from its sums (see
    /// `generic::group_stats`: a second pass over the group only where the sums fall short).
    pub(crate) fn group_stats(
        &self,
        io: &InOut<'_>,
        start: usize,
        runs: Runs,
        sums: Sums,
    ) -> GroupStats {
        let src = io.input_ptr(start, runs.span());
        // SAFETY: the set is available; every run lies inside the input (span checked).
        unsafe { (self.set.group_stats)(src, runs, sums) }
    }

    /// Writes `y = (x - pivot) * scale + shift` over each run `r` of the group at `start`
    /// with `affine(r)`; with `next` (the start of a group of the same geometry), returns that
    /// group's sums, taken in the same pass.
    pub(crate) fn apply_runs(
        &self,
        io: &mut InOut<'_>,
        start: usize,
        runs: Runs,
        affine: &dyn Fn(usize) -> Affine,
        next: Option<usize>,
    ) -> Option<Sums> {
        let stream = io.streams();
        let next = next.map(|at| io.input_ptr(at, runs.span()));
        let (src, dst) = io.ptrs(start, runs.span());
        // SAFETY: the set is available; both groups lie inside the buffers (spans checked),
        // and the caller's groups are disjoint, so the reads of `next` see input values.
        unsafe { (self.set.apply_runs)(src, dst, runs, affine, next, stream) }
    }

    /// LayerNorm or RMSNorm of every row of `io`, which holds exactly `rows * cols` values.
    pub(crate) fn normalize_rows(&self, io: &mut InOut<'_>, p: &Rows<'_>, stats: StatsOut<'_>) {
        let len = p.rows * p.cols;
        assert!(p.gamma.is_none_or(|g| g.len() == p.cols));
        assert!(p.beta.is_none_or(|b| b.len() == p.cols));
        assert!(
            stats
                .as_ref()
                .is_none_or(|(m, i)| m.len() >= p.rows && i.len() >= p.rows)
        );
        let stream = io.streams();
        let (src, dst) = io.ptrs(0, len);
        // SAFETY: every row, parameter and statistic lies in bounds (checked above).
        unsafe { (self.set.normalize_rows)(src, dst, p, stats, stream) }
    }

    pub(crate) fn column_stats(
        &self,
        io: &InOut<'_>,
        start: usize,
        g: ColumnGeometry,
        center: bool,
        a: &mut ColumnStats<'_>,
    ) {
        let padded = g.width.next_multiple_of(MAX_LANES);
        assert!(g.width <= g.stride || g.rows <= 1);
        assert!(a.pivot.len() >= padded && a.offset.len() >= padded && a.dev.len() >= padded);
        assert!(a.sq.len() >= padded && a.scale.len() >= padded);
        let src = io.input_ptr(start, g.span());
        // SAFETY: the span and the padded column arrays were checked above.
        unsafe { (self.set.column_stats)(src, g, center, a) }
    }

    pub(crate) fn column_sums(
        &self,
        io: &InOut<'_>,
        start: usize,
        g: ColumnGeometry,
        s: &mut ColumnSums<'_>,
    ) {
        let padded = g.width.next_multiple_of(MAX_LANES);
        assert!(g.width <= g.stride || g.rows <= 1);
        assert!(s.pivot.len() >= padded && s.dev32.len() >= padded && s.sq32.len() >= padded);
        assert!(s.dev.len() >= g.width && s.sq.len() >= g.width);
        let src = io.input_ptr(start, g.span());
        // SAFETY: the span and the column arrays were checked above.
        unsafe { (self.set.column_sums)(src, g, s) }
    }

    pub(crate) fn column_affine(
        &self,
        io: &mut InOut<'_>,
        start: usize,
        g: ColumnGeometry,
        p: &ColumnAffine<'_>,
    ) {
        let padded = g.width.next_multiple_of(MAX_LANES);
        assert!(g.width <= g.stride || g.rows <= 1);
        assert!(p.pivot.len() >= padded && p.scale.len() >= padded && p.shift.len() >= padded);
        assert!(p.row_scale.is_none_or(|s| s.len() >= g.rows));
        assert!(p.row_shift.is_none_or(|b| b.len() >= g.rows));
        let stream = io.streams();
        let (src, dst) = io.ptrs(start, g.span());
        // SAFETY: the span, the padded column arrays and the row arrays were checked above.
        unsafe { (self.set.column_affine)(src, dst, g, p, stream) }
    }
}

impl Default for Kernels {
    fn default() -> Self {
        Kernels::detect()
    }
}

impl fmt::Debug for Kernels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Kernels").field("isa", &self.isa).finish()
    }
}
