//! What the row kernels ([`super::rows`], [`super::short_rows`]) share: the rows'
//! parameters and where their statistics go, one row's statistics from its sums, and the
//! normalize pass over consecutive rows with gamma and beta matched once.

use super::group::{group_stats, mean_square};
use super::lanes::load_param;
use super::map::{Lanewise, map, prefetch_output, prefetching};
use super::seam::{Epilogue, Io, Sink, Source};
use super::walk::{Runs, Statistic};
use crate::simd::{Piece, Vector};
use crate::stats::{Sums, deviation_scale};
use core::marker::PhantomData;

/// `rows` rows of `cols` values, normalized by their variance (LayerNorm) or mean square
/// (RMSNorm), then scaled by `gamma` and shifted by `beta` per element.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rows<'a> {
    pub rows: usize,
    pub cols: usize,
    pub eps: f32,
    /// `cols` values, or none (1).
    pub gamma: Option<&'a [f32]>,
    /// `cols` values, or none (0). Always none for RMSNorm.
    pub beta: Option<&'a [f32]>,
    /// A scale and shift per row instead (InstanceNorm's planes as rows), only where gamma
    /// and beta are none.
    pub per_row: RowAffine<'a>,
}

/// Row `i`'s scale and shift: entry `i % channels` of each array (none: 1 and 0).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct RowAffine<'a> {
    pub gamma: Option<&'a [f32]>,
    pub beta: Option<&'a [f32]>,
    pub channels: usize,
}

impl RowAffine<'_> {
    /// Row `i`'s parameters with its scale and shift folded in.
    #[inline(always)]
    pub(crate) fn fold(&self, i: usize, mut params: RowParams) -> RowParams {
        if self.channels > 0 {
            let c = i % self.channels;
            params.scale *= self.gamma.map_or(1.0, |g| g[c]);
            params.shift = self.beta.map_or(0.0, |b| b[c]);
        }
        params
    }
}

/// Where each row's mean and inverse standard deviation (or inverse root mean square) are
/// recorded, where asked for: one value per row.
#[derive(Debug, Default)]
pub(crate) struct Report<'a> {
    pub mean: Option<&'a mut [f32]>,
    pub inv_std: Option<&'a mut [f32]>,
}

impl Report<'_> {
    /// Records row `i`'s statistics.
    #[inline(always)]
    pub(crate) fn record(&mut self, i: usize, mean: f32, inv_std: f32) {
        if let Some(m) = &mut self.mean {
            m[i] = mean;
        }
        if let Some(v) = &mut self.inv_std {
            v[i] = inv_std;
        }
    }

    /// The statistics of rows `first..first + n` only, row `first` as its row 0.
    pub(crate) fn part(&mut self, first: usize, n: usize) -> Report<'_> {
        Report {
            mean: self.mean.as_deref_mut().map(|m| &mut m[first..first + n]),
            inv_std: self
                .inv_std
                .as_deref_mut()
                .map(|v| &mut v[first..first + n]),
        }
    }

    pub(crate) fn wanted(&self) -> bool {
        self.mean.is_some() || self.inv_std.is_some()
    }
}

/// The normalization of one row: `y = ((x - pivot) * scale - offset * scale) * gamma[j] +
/// beta[j]`, with `shift` in place of `beta[j]` where there is no beta (see [`RowOp`]).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct RowParams {
    pub pivot: f32,
    /// The mean minus the pivot (0 for RMSNorm).
    pub offset: f32,
    /// The inverse standard deviation (or root mean square), 0 for an exactly constant row
    /// with eps = 0 (see [`deviation_scale`]).
    pub scale: f32,
    /// Added where there is no beta (a per-row beta), else 0.
    pub shift: f32,
}

/// A row's statistics from its one-pass sums: how to normalize it, and the mean and inverse
/// std to report.
///
/// # Safety
/// `row` is valid for `p.cols` reads, and `V`'s instruction set is available.
#[inline(always)]
pub(crate) unsafe fn row_stats<V: Vector, St: Statistic, S: Source>(
    row: S,
    p: &Rows<'_>,
    sums: Sums,
) -> (RowParams, f32, f32) {
    let runs = Runs::row(p.cols);
    // SAFETY (both branches): forwarded from the caller.
    if St::CENTERED {
        let st = unsafe { group_stats::<V, S>(row, runs, sums) };
        let inv = st.var.inv_sqrt_plus(p.eps);
        let params = RowParams {
            pivot: st.moments.pivot(),
            offset: st.moments.mean_offset(),
            scale: deviation_scale(inv),
            shift: 0.0,
        };
        (params, st.mean, inv)
    } else {
        let ms = unsafe { mean_square::<V, S>(row, runs, sums, 1.0 / p.cols as f32) };
        let inv = ms.inv_sqrt_plus(p.eps);
        let params = RowParams {
            scale: deviation_scale(inv),
            ..RowParams::default()
        };
        (params, 0.0, inv)
    }
}

/// Per-element gamma and beta, known present or absent at compile time.
pub(crate) trait AffineKind {
    const GAMMA: bool;
    const BETA: bool;
    /// A scale and shift per row ([`Rows::per_row`]) instead.
    const PER_ROW: bool;
    /// Whether rows have a pivot to subtract: not RMSNorm's, which is always 0.
    const PIVOT: bool;
}

macro_rules! affine_kinds {
    ($($name:ident: $gamma:literal, $beta:literal, $per_row:literal, $pivot:literal;)*) => {$(
        /// Which of gamma, beta and the per-row affine are present, and whether rows have a
        /// pivot.
        pub(crate) struct $name;
        impl AffineKind for $name {
            const GAMMA: bool = $gamma;
            const BETA: bool = $beta;
            const PER_ROW: bool = $per_row;
            const PIVOT: bool = $pivot;
        }
    )*};
}

affine_kinds! {
    Neither: false, false, false, true;
    GammaOnly: true, false, false, true;
    BetaOnly: false, true, false, true;
    GammaBeta: true, true, false, true;
    PerRow: false, false, true, true;
    UnscaledMeanSquare: false, false, false, false;
    ScaledMeanSquare: true, false, false, false;
}

/// Code generic over which of gamma and beta are present, run with the kind `p` has.
pub(crate) trait WithAffine {
    type Output;
    /// # Safety
    /// As the implementing type documents.
    unsafe fn with<K: AffineKind>(self) -> Self::Output;
}

/// Runs `f` with the [`AffineKind`] of `p`. Each kind is a function of its own
/// ([`Vector::outline`]): call this outside the hot loops. Only the kinds that can occur are
/// instantiated: RMSNorm (`St` not centered) has no pivot, no beta and no per-row affine
/// (InstanceNorm alone takes that), and the compact sets, where InstanceNorm does not take the
/// row kernels, no per-row affine either, so their builds do not link those forms.
///
/// # Safety
/// As `f` documents, and `V`'s instruction set is available.
#[inline(always)]
pub(crate) unsafe fn with_affine_kind<V: Vector, St: Statistic, F: WithAffine>(
    p: &Rows<'_>,
    f: F,
) -> F::Output {
    // SAFETY: forwarded from the caller.
    unsafe {
        if !St::CENTERED {
            debug_assert!(p.beta.is_none() && p.per_row.channels == 0);
            return match p.gamma.is_some() {
                true => V::outline(OfKind::<F, ScaledMeanSquare>(f, PhantomData)),
                false => V::outline(OfKind::<F, UnscaledMeanSquare>(f, PhantomData)),
            };
        }
        if !V::COMPACT && p.per_row.channels > 0 {
            return V::outline(OfKind::<F, PerRow>(f, PhantomData));
        }
        match (p.gamma.is_some(), p.beta.is_some()) {
            (true, true) => V::outline(OfKind::<F, GammaBeta>(f, PhantomData)),
            (true, false) => V::outline(OfKind::<F, GammaOnly>(f, PhantomData)),
            (false, true) => V::outline(OfKind::<F, BetaOnly>(f, PhantomData)),
            (false, false) => V::outline(OfKind::<F, Neither>(f, PhantomData)),
        }
    }
}

/// A way through a kernel's rows (short rows by blocks, long rows pipelined, long rows by
/// blocks), written for a known affine kind.
pub(crate) trait RowPath {
    /// # Safety
    /// `io` is valid for `p.rows * p.cols` reads and writes, gamma and beta hold `p.cols`
    /// values, `K` is `p`'s kind, the rows suit the path, and `V`'s instruction set is
    /// available.
    unsafe fn rows<V: Vector, St: Statistic, K: AffineKind, S: Source, D: Sink, E: Epilogue>(
        io: Io<S, D, E>,
        p: &Rows<'_>,
        report: &mut Report<'_>,
    );
}

/// Runs path `P` over all of `p`'s rows with `p`'s affine kind, picked once: one function per
/// kind, with the kind known in every loop.
///
/// # Safety
/// As [`RowPath::rows`], but for `K`.
#[inline(always)]
pub(crate) unsafe fn by_kind<
    P: RowPath,
    V: Vector,
    St: Statistic,
    S: Source,
    D: Sink,
    E: Epilogue,
>(
    io: Io<S, D, E>,
    p: &Rows<'_>,
    report: &mut Report<'_>,
) {
    let args = PathArgs::<P, V, St, S, D, E> {
        io,
        p,
        report,
        marker: PhantomData,
    };
    // SAFETY: forwarded from the caller.
    unsafe { with_affine_kind::<V, St, _>(p, args) }
}

/// A [`RowPath`]'s arguments, waiting for the affine kind.
struct PathArgs<'a, 'p, 'r, P, V, St, S, D, E> {
    io: Io<S, D, E>,
    p: &'a Rows<'p>,
    report: &'a mut Report<'r>,
    marker: PhantomData<(P, V, St)>,
}

impl<P: RowPath, V: Vector, St: Statistic, S: Source, D: Sink, E: Epilogue> WithAffine
    for PathArgs<'_, '_, '_, P, V, St, S, D, E>
{
    type Output = ();

    #[inline(always)]
    unsafe fn with<K: AffineKind>(self) {
        // SAFETY: forwarded from `by_kind`'s caller.
        unsafe { P::rows::<V, St, K, S, D, E>(self.io, self.p, self.report) }
    }
}

/// `F` with the affine kind `K`, as a piece of its own.
struct OfKind<F, K>(F, PhantomData<K>);

impl<F: WithAffine, K: AffineKind> Piece for OfKind<F, K> {
    type Output = F::Output;

    #[inline(always)]
    unsafe fn run(self) -> F::Output {
        // SAFETY: forwarded from `with_affine_kind`'s caller.
        unsafe { self.0.with::<K>() }
    }
}

/// Consecutive rows of `cols` values from row `first`, row `first + i` with `params[i]`
/// (taken as statistic `St`).
///
/// # Safety
/// `io` is valid for `params.len() * cols` reads and writes, gamma and beta hold `cols`
/// values, and `V`'s instruction set is available.
#[inline(always)]
pub(crate) unsafe fn normalize_rows_of<
    V: Vector,
    St: Statistic,
    S: Source,
    D: Sink,
    E: Epilogue,
>(
    io: Io<S, D, E>,
    cols: usize,
    first: usize,
    params: &[RowParams],
    p: &Rows<'_>,
) {
    let block = NormalizeBlock::<V, S, D, E>::new(io, cols, 0, first, params, p);
    // SAFETY: forwarded from the caller.
    unsafe { with_affine_kind::<V, St, _>(p, block) }
}

/// [`normalize_rows_of`] with the affine kind `K` known, inlined: for callers that picked
/// the kind outside their loop. `vectors` is the rows' width in whole vectors where it is a
/// compile-time constant (the loops then hold gamma and beta in registers), else 0.
///
/// # Safety
/// As [`normalize_rows_of`], `K` is `p`'s kind, and `vectors` is 0 or `cols / V::LANES`
/// with `cols` a whole number of vectors.
#[inline(always)]
pub(crate) unsafe fn normalize_rows_as<
    V: Vector,
    K: AffineKind,
    S: Source,
    D: Sink,
    E: Epilogue,
>(
    io: Io<S, D, E>,
    cols: usize,
    vectors: usize,
    first: usize,
    params: &[RowParams],
    p: &Rows<'_>,
) {
    let block = NormalizeBlock::<V, S, D, E>::new(io, cols, vectors, first, params, p);
    // SAFETY: forwarded from the caller.
    unsafe { block.with::<K>() }
}

/// Rows up to this many whole vectors can be normalized with their gamma and beta held in
/// registers (where the set has at least twice the registers they take).
const HELD_VECTORS: usize = 8;

/// Whether rows of `vectors` whole vectors (0: a width not known at compile time) are
/// normalized with their gamma and beta held in registers, on the set `V` and for `io`'s
/// stores.
fn holds_params<V: Vector, S: Source, D: Sink, E: Epilogue>(
    io: &Io<S, D, E>,
    vectors: usize,
) -> bool {
    // Streaming stores want aligned outputs, which only `map` arranges.
    let streaming = io.nontemporal && V::STREAMS;
    (1..=HELD_VECTORS).contains(&vectors) && 4 * vectors <= V::REGISTERS && !streaming
}

/// [`normalize_rows_of`] with the affine kind known.
struct NormalizeBlock<'a, 'p, V, S, D, E> {
    io: Io<S, D, E>,
    cols: usize,
    /// `cols` in whole vectors where known at compile time, else 0 (see [`holds_params`]).
    vectors: usize,
    first: usize,
    params: &'a [RowParams],
    p: &'a Rows<'p>,
    vector: PhantomData<V>,
}

impl<'a, 'p, V: Vector, S, D, E> NormalizeBlock<'a, 'p, V, S, D, E> {
    #[inline(always)]
    fn new(
        io: Io<S, D, E>,
        cols: usize,
        vectors: usize,
        first: usize,
        params: &'a [RowParams],
        p: &'a Rows<'p>,
    ) -> Self {
        debug_assert!(vectors == 0 || cols == vectors * V::LANES);
        NormalizeBlock {
            io,
            cols,
            vectors,
            first,
            params,
            p,
            vector: PhantomData,
        }
    }
}

impl<V: Vector, S: Source, D: Sink, E: Epilogue> WithAffine for NormalizeBlock<'_, '_, V, S, D, E> {
    type Output = ();
    #[inline(always)]
    unsafe fn with<K: AffineKind>(self) {
        if holds_params::<V, S, D, E>(&self.io, self.vectors) {
            // SAFETY: the caller's contract, and the rows are `self.vectors` whole vectors.
            // One form of the loop with the prefetch and one without (see `prefetch_output`).
            return unsafe {
                if prefetching::<V, _, _, _>(&self.io) {
                    self.held::<K, true>()
                } else {
                    self.held::<K, false>()
                }
            };
        }
        for (i, &params) in self.params.iter().enumerate() {
            // SAFETY: row `i` lies in the block (the caller's contract).
            unsafe {
                let op = RowOp::<V, K>::new(params, self.p, self.first + i);
                map::<V, S, D, E>(self.io.offset(i * self.cols), self.cols, &op);
            }
        }
    }
}

impl<V: Vector, S: Source, D: Sink, E: Epilogue> NormalizeBlock<'_, '_, V, S, D, E> {
    /// The block with gamma and beta loaded into registers once for all its rows. Through
    /// `map`, every output vector also loads its gamma and beta (a store may overwrite them,
    /// for all LLVM knows), and every row pays `map`'s setup: on an Emerald Rapids Xeon that
    /// cost LayerNorm 4096x64 a sixth of its time. Each output line is asked for ahead where
    /// `PREFETCH`.
    ///
    /// # Safety
    /// As [`normalize_rows_as`], `K` is `p`'s kind, and
    /// [`holds_params`]`::<V, S, D, E>(&self.io, self.vectors)`.
    #[inline(always)]
    unsafe fn held<K: AffineKind, const PREFETCH: bool>(self) {
        let (vectors, p) = (self.vectors, self.p);
        // SAFETY: gamma and beta hold `cols` values, the block's rows lie in both buffers, and
        // every offset below is a whole vector inside a row (the caller's contract).
        unsafe {
            let mut gamma = [V::splat(0.0); HELD_VECTORS];
            let mut beta = gamma;
            for j in 0..vectors {
                if let (true, Some(g)) = (K::GAMMA, p.gamma) {
                    gamma[j] = V::load(g.as_ptr().add(j * V::LANES));
                }
                if let (true, Some(b)) = (K::BETA, p.beta) {
                    beta[j] = V::load(b.as_ptr().add(j * V::LANES));
                }
            }
            for (i, &params) in self.params.iter().enumerate() {
                let op = RowOp::<V, K>::new(params, p, self.first + i);
                let row = self.io.offset(i * self.cols);
                for j in 0..vectors {
                    let at = j * V::LANES;
                    prefetch_output::<V, _, PREFETCH>(row.dst, at);
                    let x = row.src.load_final::<V>(at, V::LANES);
                    let y = row.epilogue.apply(op.with_params(x, gamma[j], beta[j]));
                    row.dst.store(at, y, V::LANES);
                }
            }
        }
    }
}

/// A row's normalization, parameters splatted once, gamma and beta of kind `K`: the
/// normalized value `t = (x - pivot) · scale - offset · scale` first (one fused rounding where
/// the set has FMA), then `gamma · t + beta`. Three operations a value with gamma and beta
/// where `((x - pivot) - offset) · (scale · gamma) + beta` took four; RMSNorm's rows
/// (`K::PIVOT` false) skip the subtraction of their pivot, always 0 (`x - 0` is `x`: the same
/// bits). `offset · scale` is at most a quarter (of `|gamma|` where a per-row gamma is folded
/// into `scale`): the pivot lies within a quarter of a standard deviation of the mean, or the
/// second pass centered the row. So rounding it adds at most 2⁻²⁷ to `t`.
pub(crate) struct RowOp<V, K> {
    pivot: V,
    scale: V,
    /// `offset · scale`, less the per-row shift under [`AffineKind::PER_ROW`].
    scaled_offset: V,
    gamma: *const f32,
    beta: *const f32,
    kind: PhantomData<K>,
}

impl<V: Vector, K: AffineKind> RowOp<V, K> {
    /// Row `row` of `p` normalized with `params` (and its per-row scale and shift).
    ///
    /// # Safety
    /// `V`'s instruction set is available.
    #[inline(always)]
    pub(crate) unsafe fn new(params: RowParams, p: &Rows<'_>, row: usize) -> Self {
        let params = if K::PER_ROW {
            p.per_row.fold(row, params)
        } else {
            params
        };
        // A per-row shift is taken off with the offset: no add per value.
        let shift = if K::PER_ROW { params.shift } else { 0.0 };
        let scaled_offset = params.offset * params.scale - shift;
        // SAFETY: forwarded from the caller.
        unsafe {
            RowOp {
                pivot: V::splat(params.pivot),
                scale: V::splat(params.scale),
                scaled_offset: V::splat(scaled_offset),
                gamma: p.gamma.map_or(core::ptr::null(), |g| g.as_ptr()),
                beta: p.beta.map_or(core::ptr::null(), |b| b.as_ptr()),
                kind: PhantomData,
            }
        }
    }
}

impl<V: Vector, K: AffineKind> RowOp<V, K> {
    /// The outputs for `x`, given the lanes of gamma and beta that go with it (read only
    /// where `K` has them).
    ///
    /// # Safety
    /// `V`'s instruction set is available.
    #[inline(always)]
    unsafe fn with_params(&self, x: V, gamma: V, beta: V) -> V {
        // SAFETY: register arithmetic only.
        unsafe {
            let centered = if K::PIVOT { x.sub(self.pivot) } else { x };
            let t = centered.mul_sub(self.scale, self.scaled_offset);
            match (K::GAMMA, K::BETA) {
                (true, true) => t.mul_add(gamma, beta),
                (true, false) => t.mul(gamma),
                (false, true) => t.add(beta),
                (false, false) => t,
            }
        }
    }
}

impl<V: Vector, K: AffineKind> Lanewise<V> for RowOp<V, K> {
    #[inline(always)]
    unsafe fn at(&self, x: V, i: usize, lanes: usize) -> V {
        // SAFETY: `i..i + lanes` lies in the row, and gamma and beta hold a row's values.
        unsafe {
            let unused = V::splat(0.0);
            let gamma = if K::GAMMA {
                load_param::<V>(self.gamma, i, lanes)
            } else {
                unused
            };
            let beta = if K::BETA {
                load_param::<V>(self.beta, i, lanes)
            } else {
                unused
            };
            self.with_params(x, gamma, beta)
        }
    }
}
