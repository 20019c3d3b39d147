//! Channels-last statistics and normalize: down the columns of a row-major block, vectorized
//! across a window of adjacent columns instead of gathering strided values. Per-column state
//! lives in f32 arrays padded to a whole number of the widest vectors.

use super::Kernel;
use super::lanes::{load_param, once_per_line};
use super::map::{Lanewise, map};
use super::periodic::{period_vectors, periodic_affine};
use super::seam::{Epilogue, Io, Sink, Source};
use crate::simd::{Arch, MAX_LANES, Vector};
use crate::stats::{UNSCALED_MIN_F32, pivot_from, square_scale};

/// `rows` runs of `width` values, `stride` apart.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ColumnGeometry {
    pub rows: usize,
    pub width: usize,
    pub stride: usize,
}

impl ColumnGeometry {
    /// Values spanned from the first to the last one touched.
    pub(crate) fn span(self) -> usize {
        match self.rows {
            0 => 0,
            rows => (rows - 1) * self.stride + self.width,
        }
    }

    /// `width` rounded up to the widest vector: the length the column arrays must have.
    pub(crate) fn padded(self) -> usize {
        self.width.next_multiple_of(MAX_LANES)
    }
}

/// Per-column state of [`ColumnStats`]: pivots in, then the first pass's mean offsets and the
/// second pass's sums of deviations and of squares, with each column's scale.
#[derive(Debug)]
pub(crate) struct ColumnState<'a> {
    pub pivot: &'a mut [f32],
    pub offset: &'a mut [f32],
    pub dev: &'a mut [f32],
    pub sq: &'a mut [f32],
    pub scale: &'a mut [f32],
}

/// Corrected two-pass statistics down each column of a block that fits in cache: pass 1 sums
/// `x - pivot[j]` while reading memory; pass 2 sums the deviations `d` from that mean and `d²`
/// from cache, unscaled, and is redone with per-column power-of-two scales only where a
/// column's result overflowed or fell where f32 squares lose precision. Without `center` the
/// pivots and offsets are 0 and `sq` holds the sum of squares.
pub(crate) struct ColumnStats<'s, 'a, S> {
    /// Valid for reads over the geometry's span.
    pub src: S,
    pub g: ColumnGeometry,
    pub center: bool,
    /// Every array holds `g.padded()` values.
    pub state: &'s mut ColumnState<'a>,
}

impl<S: Source> Kernel for ColumnStats<'_, '_, S> {
    type Output = ();
    const ROUNDS_BF16: bool = S::ROUNDS_BF16;

    #[inline(always)]
    unsafe fn run<A: Arch>(self) {
        // SAFETY: the kernel's contract, forwarded.
        unsafe { column_stats::<A::Wide, S>(self.src, self.g, self.center, self.state) }
    }
}

/// What [`walk_columns`] does with each vector of a row.
trait Down<V> {
    /// The `lanes` values of columns `j..` (0 past them).
    ///
    /// # Safety
    /// Column `j` lies in the padded column arrays, and `V`'s instruction set is available.
    unsafe fn step(&self, x: V, j: usize);
}

/// Walks every row's `g.width` columns as vectors, the last vector of a row partial (0 past
/// the row's end; the column arrays are padded, so the padding lanes compute harmless values
/// into padding slots).
///
/// # Safety
/// `src` is valid for reads over `g`'s span, `down` may be called for every column of the
/// padded width, and `V`'s instruction set is available.
#[inline(always)]
unsafe fn walk_columns<V: Vector, S: Source>(src: S, g: ColumnGeometry, down: &impl Down<V>) {
    for r in 0..g.rows {
        let row = src.offset(r * g.stride);
        let mut j = 0;
        // SAFETY: every load lies in row `r`'s `width` values.
        unsafe {
            while j + V::LANES <= g.width {
                down.step(row.load::<V>(j, V::LANES), j);
                j += V::LANES;
            }
            if j < g.width {
                down.step(row.load::<V>(j, g.width - j), j);
            }
        }
    }
}

/// `acc[j] += x - pivot[j]`.
struct AddDeviation {
    pivot: *const f32,
    acc: *mut f32,
}

impl<V: Vector> Down<V> for AddDeviation {
    #[inline(always)]
    unsafe fn step(&self, x: V, j: usize) {
        // SAFETY: column `j` lies in the padded arrays (the step's contract).
        unsafe {
            let sum = V::load(self.acc.add(j)).add(x.sub(V::load(self.pivot.add(j))));
            sum.store(self.acc.add(j));
        }
    }
}

/// `acc[j] = max(acc[j], |x - pivot[j]|)` (`|x|` without `center`).
struct MaxDeviation {
    pivot: *const f32,
    acc: *mut f32,
    center: bool,
}

impl<V: Vector> Down<V> for MaxDeviation {
    #[inline(always)]
    unsafe fn step(&self, x: V, j: usize) {
        // SAFETY: column `j` lies in the padded arrays (the step's contract).
        unsafe {
            let z = if self.center {
                x.sub(V::load(self.pivot.add(j)))
            } else {
                x
            };
            V::load(self.acc.add(j)).max(z.abs()).store(self.acc.add(j));
        }
    }
}

/// `dev[j] += d`, `sq[j] += d²` for `d = (x - pivot[j]) * scale[j]` (`x * scale[j]`, and no
/// `dev`, without `center`).
struct AddSquares {
    pivot: *const f32,
    scale: *const f32,
    dev: *mut f32,
    sq: *mut f32,
    center: bool,
    scaled: bool,
}

impl<V: Vector> Down<V> for AddSquares {
    #[inline(always)]
    unsafe fn step(&self, x: V, j: usize) {
        // SAFETY: column `j` lies in the padded arrays (the step's contract).
        unsafe {
            let d = if self.center {
                x.sub(V::load(self.pivot.add(j)))
            } else {
                x
            };
            let d = if self.scaled {
                d.mul(V::load(self.scale.add(j)))
            } else {
                d
            };
            d.mul_add(d, V::load(self.sq.add(j))).store(self.sq.add(j));
            if self.center {
                V::load(self.dev.add(j)).add(d).store(self.dev.add(j));
            }
        }
    }
}

/// See [`ColumnStats`].
///
/// # Safety
/// As [`ColumnStats`], and `V`'s instruction set is available.
#[inline(always)]
unsafe fn column_stats<V: Vector, S: Source>(
    src: S,
    g: ColumnGeometry,
    center: bool,
    a: &mut ColumnState<'_>,
) {
    let width = g.padded();
    a.offset[..width].fill(0.0);
    a.dev[..width].fill(0.0);
    a.sq[..width].fill(0.0);
    a.scale[..width].fill(1.0);
    // Raw pointers from here on (the walks read and write through them), taken after the
    // fills: a write through the slices would invalidate them.
    let (k, off) = (a.pivot.as_mut_ptr(), a.offset.as_mut_ptr());
    let (dev, sq, scale) = (a.dev.as_mut_ptr(), a.sq.as_mut_ptr(), a.scale.as_mut_ptr());
    let inv_rows = 1.0 / g.rows as f32;
    // SAFETY: every array holds `width` values; the walks read the geometry's span.
    unsafe {
        if center {
            walk_columns::<V, S>(src, g, &AddDeviation { pivot: k, acc: off });
            // Pass 2 centers on the first pass's mean, rounded: x - mean is exact near it.
            for j in 0..width {
                *k.add(j) = pivot_from(*k.add(j) + *off.add(j) * inv_rows);
                *off.add(j) = 0.0;
            }
        }
        let mut squares = AddSquares {
            pivot: k,
            scale,
            dev,
            sq,
            center,
            scaled: false,
        };
        walk_columns::<V, S>(src, g, &squares);
        let in_range = |q: f32| q.is_finite() && q * inv_rows >= UNSCALED_MIN_F32;
        if (0..g.width).all(|j| in_range(*sq.add(j))) {
            return;
        }
        // Rare: extreme magnitudes. Scales from each column's largest |x - pivot|.
        for j in 0..width {
            *scale.add(j) = 0.0;
        }
        let max = MaxDeviation {
            pivot: k,
            acc: scale,
            center,
        };
        walk_columns::<V, S>(src, g, &max);
        for j in 0..width {
            *scale.add(j) = square_scale(*scale.add(j));
            (*dev.add(j), *sq.add(j)) = (0.0, 0.0);
        }
        squares.scaled = true;
        walk_columns::<V, S>(src, g, &squares);
    }
}

/// Per-column state of [`ColumnSums`]: pivots in, f32 scratch for a block's sums, and the f64
/// totals of `x - pivot` and of its square the block's sums are added to.
#[derive(Debug)]
pub(crate) struct ColumnTotals<'a> {
    pub pivot: &'a [f32],
    pub dev32: &'a mut [f32],
    pub sq32: &'a mut [f32],
    pub dev: &'a mut [f64],
    pub sq: &'a mut [f64],
}

/// One pass down each column of a block: adds `sum(x - pivot[j])` to `dev[j]` and
/// `sum((x - pivot[j])²)` to `sq[j]`, in f32 over at most `SUM_ROWS` rows at a time (four rows
/// per step, so each accumulator is loaded and stored once per four rows), folded into the f64
/// totals after each.
pub(crate) struct ColumnSums<'s, 'a, S> {
    /// Valid for reads over the geometry's span.
    pub src: S,
    pub g: ColumnGeometry,
    /// The f32 arrays hold `g.padded()` values, the f64 ones `g.width`.
    pub totals: &'s mut ColumnTotals<'a>,
}

/// How far ahead [`ColumnSums`] prefetches, in rows: the next step's four (eight or sixteen
/// measured no faster).
const PREFETCH_ROWS: usize = 4;

/// Rows summed in f32 before a column's sums are folded into f64.
const SUM_ROWS: usize = 64;

impl<S: Source> Kernel for ColumnSums<'_, '_, S> {
    type Output = ();
    const ROUNDS_BF16: bool = S::ROUNDS_BF16;

    #[inline(always)]
    unsafe fn run<A: Arch>(self) {
        type V<A> = <A as Arch>::Wide;
        let (g, s) = (self.g, self.totals);
        let width = g.padded();
        let k = s.pivot.as_ptr();
        let row = |r: usize| self.src.offset(r * g.stride);
        let mut r0 = 0;
        while r0 < g.rows {
            let rows = SUM_ROWS.min(g.rows - r0);
            s.dev32[..width].fill(0.0);
            s.sq32[..width].fill(0.0);
            // Raw pointers for the block's loop, taken after the fills.
            let (dev32, sq32) = (s.dev32.as_mut_ptr(), s.sq32.as_mut_ptr());
            let mut r = 0;
            while r < rows {
                let step = if rows - r >= 4 { 4 } else { 1 };
                let mut j = 0;
                while j < g.width {
                    // Padding lanes read nothing and sum `0 - pivot` into padding slots.
                    let lanes = (g.width - j).min(V::<A>::LANES);
                    // SAFETY: the rows `r0 + r..` read lie in the span (a prefetch past it
                    // never faults), and column `j` lies in the padded arrays.
                    unsafe {
                        // The rows PREFETCH_ROWS ahead, a line at a time among the loads: the
                        // hardware prefetchers fall behind four rows read side by side.
                        if once_per_line::<V<A>>(j, S::ELEMENT_BYTES) {
                            for i in 0..4 {
                                row(r0 + r + PREFETCH_ROWS + i).prefetch::<V<A>>(j);
                            }
                        }
                        let pivot = V::<A>::load(k.add(j));
                        let mut sum = V::<A>::load(dev32.add(j));
                        let mut squares = V::<A>::load(sq32.add(j));
                        let d0 = deviation(row(r0 + r), j, lanes, pivot);
                        if step == 4 {
                            let d1 = deviation(row(r0 + r + 1), j, lanes, pivot);
                            let d2 = deviation(row(r0 + r + 2), j, lanes, pivot);
                            let d3 = deviation(row(r0 + r + 3), j, lanes, pivot);
                            sum = sum.add(d0.add(d1).add(d2.add(d3)));
                            let q = d0.mul_add(d0, d1.mul(d1)).add(d2.mul_add(d2, d3.mul(d3)));
                            squares = squares.add(q);
                        } else {
                            sum = sum.add(d0);
                            squares = d0.mul_add(d0, squares);
                        }
                        sum.store(dev32.add(j));
                        squares.store(sq32.add(j));
                    }
                    j += lanes;
                }
                r += step;
            }
            // Zipped slices, free of bounds checks, so that the fold vectorizes: a scalar
            // fold every SUM_ROWS rows cost a fifth of the pass (768 columns, Emerald Rapids).
            fold_into(&mut s.dev[..g.width], &s.dev32[..g.width]);
            fold_into(&mut s.sq[..g.width], &s.sq32[..g.width]);
            r0 += rows;
        }
    }
}

/// `total[j] += part[j]`, widened to f64.
#[inline(always)]
fn fold_into(total: &mut [f64], part: &[f32]) {
    for (t, &p) in total.iter_mut().zip(part) {
        *t += f64::from(p);
    }
}

/// `x - pivot` for the `lanes` values at `at` (padding lanes hold `-pivot`).
///
/// # Safety
/// As [`Source::load`].
#[inline(always)]
unsafe fn deviation<V: Vector, S: Source>(src: S, at: usize, lanes: usize, pivot: V) -> V {
    // SAFETY: forwarded from the caller.
    unsafe { src.load::<V>(at, lanes).sub(pivot) }
}

/// Per-column `y = (x - pivot[j]) * scale[j] + shift[j]`, then per row
/// `y = y * row_scale[r] + row_shift[r]` (absent: 1 and 0).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ColumnParams<'a> {
    pub pivot: &'a [f32],
    pub scale: &'a [f32],
    pub shift: &'a [f32],
    pub row_scale: Option<&'a [f32]>,
    pub row_shift: Option<&'a [f32]>,
}

/// See [`ColumnParams`].
pub(crate) struct ColumnAffine<'a, S, D, E> {
    /// Valid for reads and writes over the geometry's span.
    pub io: Io<S, D, E>,
    pub g: ColumnGeometry,
    /// Column arrays of `g.padded()` values, row arrays of `g.rows`.
    pub params: ColumnParams<'a>,
}

impl<S: Source, D: Sink, E: Epilogue> Kernel for ColumnAffine<'_, S, D, E> {
    type Output = ();
    const ROUNDS_BF16: bool = Io::<S, D, E>::ROUNDS_BF16;

    fn streams(&self) -> bool {
        self.io.nontemporal
    }

    #[inline(always)]
    unsafe fn run<A: Arch>(self) {
        // SAFETY (every branch): the kernel's contract, forwarded.
        unsafe {
            if self.periodic::<A::Wide>() {
                return;
            }
            if Io::<S, D, E>::WIDE_PASS {
                self.rows::<A::Wide>();
            } else {
                self.rows::<A::Stream>();
            }
        }
    }
}

impl<S: Source, D: Sink, E: Epilogue> ColumnAffine<'_, S, D, E> {
    /// The whole block with the parameters in registers, where its rows are contiguous and
    /// a few whole vectors wide (see [`periodic_affine`]); false, with nothing written, where
    /// not.
    ///
    /// # Safety
    /// As [`Kernel::run`], for `V`'s instruction set.
    #[inline(always)]
    unsafe fn periodic<V: Vector>(&self) -> bool {
        let (g, p) = (self.g, &self.params);
        if !V::SPECIALIZE || p.row_scale.is_some() || p.row_shift.is_some() {
            return false;
        }
        // SAFETY: the rows are contiguous, so the block is `rows * width` values, and the
        // column arrays are padded past `width`.
        unsafe {
            match period_vectors::<V>(g.width, g.stride) {
                Some(1) => periodic_affine::<V, 1, S, D, E>(self.io, g.rows, p),
                Some(2) => periodic_affine::<V, 2, S, D, E>(self.io, g.rows, p),
                Some(3) => periodic_affine::<V, 3, S, D, E>(self.io, g.rows, p),
                Some(4) => periodic_affine::<V, 4, S, D, E>(self.io, g.rows, p),
                Some(5) => periodic_affine::<V, 5, S, D, E>(self.io, g.rows, p),
                Some(6) => periodic_affine::<V, 6, S, D, E>(self.io, g.rows, p),
                Some(7) => periodic_affine::<V, 7, S, D, E>(self.io, g.rows, p),
                Some(8) => periodic_affine::<V, 8, S, D, E>(self.io, g.rows, p),
                _ => false,
            }
        }
    }

    /// Every row, in vectors `V`.
    ///
    /// # Safety
    /// As [`Kernel::run`], for `V`'s instruction set.
    #[inline(always)]
    unsafe fn rows<V: Vector>(&self) {
        let (g, p) = (self.g, self.params);
        let column = ColumnOp(p.pivot.as_ptr(), p.scale.as_ptr(), p.shift.as_ptr());
        for r in 0..g.rows {
            let io = self.io.offset(r * g.stride);
            // SAFETY: row `r` lies in both buffers, the column arrays are padded.
            unsafe {
                if p.row_scale.is_none() && p.row_shift.is_none() {
                    map::<V, S, D, E>(io, g.width, &column);
                } else {
                    let rs = V::splat(p.row_scale.map_or(1.0, |v| v[r]));
                    let rb = V::splat(p.row_shift.map_or(0.0, |v| v[r]));
                    map::<V, S, D, E>(io, g.width, &RowScaled(&column, rs, rb));
                }
            }
        }
    }
}

/// `y = (x - pivot[j]) * scale[j] + shift[j]`, per column `j`. Parameters are loaded for
/// exactly the lanes stored: `map` may start a row with a partial vector (to align its
/// stores), so later vectors need not sit on multiples of `LANES` and a whole-vector load
/// could run past the arrays.
struct ColumnOp(*const f32, *const f32, *const f32);

impl<V: Vector> Lanewise<V> for ColumnOp {
    #[inline(always)]
    unsafe fn at(&self, x: V, j: usize, lanes: usize) -> V {
        // SAFETY: columns `j..j + lanes` lie in the arrays (the op's contract).
        unsafe {
            let pivot = load_param::<V>(self.0, j, lanes);
            let scale = load_param::<V>(self.1, j, lanes);
            let shift = load_param::<V>(self.2, j, lanes);
            x.sub(pivot).mul_add(scale, shift)
        }
    }
}

/// A column op, then `y * row_scale + row_shift`.
struct RowScaled<'a, V>(&'a ColumnOp, V, V);

impl<V: Vector> Lanewise<V> for RowScaled<'_, V> {
    #[inline(always)]
    unsafe fn at(&self, x: V, j: usize, lanes: usize) -> V {
        // SAFETY: as `ColumnOp::at`.
        unsafe { Lanewise::<V>::at(self.0, x, j, lanes).mul_add(self.1, self.2) }
    }
}
