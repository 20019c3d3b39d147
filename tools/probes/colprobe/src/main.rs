//! Probe: where BatchNorm training channels-last (`[rows, cols]`, statistics down the columns)
//! spends its time on this CPU: normkern against hand-written passes over the same bytes.
//! Interleaved medians, each as a ratio to the one-channel floor of the same round.
//! The hand loops run on AVX-512 (16 lanes) where the CPU has it, else on AVX2 + FMA (the same
//! loops 8 lanes wide, `mod avx2`: Zen 3), chosen at run time; the columns and output are the same.
use normkern::split::Part;
use normkern::*;
use std::arch::x86_64::*;
use std::hint::black_box;
use std::time::Instant;

/// One read of every value (the bound of a pass that only reads).
#[target_feature(enable = "avx512f")]
unsafe fn read_all(x: &[f32]) -> f32 {
    // SAFETY: the caller provides AVX-512 and FMA and in-bounds slices.
    unsafe {
        let p = x.as_ptr();
        let mut a = [_mm512_setzero_ps(); 4];
        let mut i = 0;
        while i + 64 <= x.len() {
            for (k, acc) in a.iter_mut().enumerate() {
                *acc = _mm512_add_ps(*acc, _mm512_loadu_ps(p.add(i + 16 * k)));
            }
            i += 64;
        }
        _mm512_reduce_add_ps(_mm512_add_ps(
            _mm512_add_ps(a[0], a[1]),
            _mm512_add_ps(a[2], a[3]),
        ))
    }
}

/// Column sums of `x - k[j]` and its square over `rows` rows `stride` apart, four rows per
/// accumulator load and store (as normkern's `ColumnSums`).
#[target_feature(enable = "avx512f,fma")]
unsafe fn column_sums(
    x: *const f32,
    rows: usize,
    cols: usize,
    stride: usize,
    k: &[f32],
    s: &mut [f32],
    q: &mut [f32],
) {
    // SAFETY: the caller provides AVX-512 and FMA and in-bounds slices.
    unsafe {
        let mut r = 0;
        while r < rows {
            let step = if rows - r >= 4 { 4 } else { 1 };
            let mut j = 0;
            while j < cols {
                let kv = _mm512_loadu_ps(k.as_ptr().add(j));
                let mut sv = _mm512_loadu_ps(s.as_ptr().add(j));
                let mut qv = _mm512_loadu_ps(q.as_ptr().add(j));
                for i in 0..step {
                    let d = _mm512_sub_ps(_mm512_loadu_ps(x.add((r + i) * stride + j)), kv);
                    sv = _mm512_add_ps(sv, d);
                    qv = _mm512_fmadd_ps(d, d, qv);
                }
                _mm512_storeu_ps(s.as_mut_ptr().add(j), sv);
                _mm512_storeu_ps(q.as_mut_ptr().add(j), qv);
                j += 16;
            }
            r += step;
        }
    }
}

/// What normkern's statistics pass reads, by hand: column sums over `PIVOT_ROWS` rows spread
/// over the block (the pivot sample), then over every row.
///
/// # Safety
/// As [`Isa::column_sums`], for a `[rows, cols]` block with `rows >= PIVOT_ROWS`.
unsafe fn hand_stats(
    isa: Isa,
    x: &[f32],
    rows: usize,
    cols: usize,
    k: &[f32],
    s: &mut [f32],
    q: &mut [f32],
) {
    let spread = cols * (rows / PIVOT_ROWS);
    // SAFETY: forwarded from the caller.
    unsafe {
        isa.column_sums(x.as_ptr(), PIVOT_ROWS, cols, spread, k, s, q);
        isa.column_sums(x.as_ptr(), rows, cols, cols, k, s, q);
    }
}

/// Rows in normkern's pivot sample (`ops/columns.rs`).
const PIVOT_ROWS: usize = 256;

/// `y = (x - k[j]) * a[j] + b[j]` row by row.
#[target_feature(enable = "avx512f,fma")]
unsafe fn column_affine(x: &[f32], y: &mut [f32], cols: usize, k: &[f32], a: &[f32], b: &[f32]) {
    // SAFETY: the caller provides AVX-512 and FMA and in-bounds slices.
    unsafe {
        for r in 0..x.len() / cols {
            let (xp, yp) = (x.as_ptr().add(r * cols), y.as_mut_ptr().add(r * cols));
            let mut j = 0;
            while j < cols {
                let v = _mm512_sub_ps(
                    _mm512_loadu_ps(xp.add(j)),
                    _mm512_loadu_ps(k.as_ptr().add(j)),
                );
                let v = _mm512_fmadd_ps(
                    v,
                    _mm512_loadu_ps(a.as_ptr().add(j)),
                    _mm512_loadu_ps(b.as_ptr().add(j)),
                );
                _mm512_storeu_ps(yp.add(j), v);
                j += 16;
            }
        }
    }
}

/// The AVX2 + FMA forms of the hand loops, 8 lanes wide (for CPUs without AVX-512: Zen 3): the
/// same loops over the same values as the AVX-512 forms above. With `cols` a multiple of 16 (as
/// `main` asserts) every row is whole 8-lane vectors, so no loop needs a masked tail.
mod avx2 {
    use std::arch::x86_64::*;

    /// The sum of the lanes.
    #[target_feature(enable = "avx2")]
    fn reduce(v: __m256) -> f32 {
        let h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        let h = _mm_add_ps(h, _mm_movehl_ps(h, h));
        _mm_cvtss_f32(_mm_add_ss(h, _mm_shuffle_ps(h, h, 1)))
    }

    /// [`super::read_all`]: 64 values a step (values past the last whole step unread, as there),
    /// into eight 8-lane accumulators.
    #[target_feature(enable = "avx2")]
    pub unsafe fn read_all(x: &[f32]) -> f32 {
        // SAFETY: the caller provides AVX2; every load lies below `i + 64 <= x.len()`.
        unsafe {
            let p = x.as_ptr();
            let mut a = [_mm256_setzero_ps(); 8];
            let mut i = 0;
            while i + 64 <= x.len() {
                for (k, acc) in a.iter_mut().enumerate() {
                    *acc = _mm256_add_ps(*acc, _mm256_loadu_ps(p.add(i + 8 * k)));
                }
                i += 64;
            }
            let h = [
                _mm256_add_ps(a[0], a[1]),
                _mm256_add_ps(a[2], a[3]),
                _mm256_add_ps(a[4], a[5]),
                _mm256_add_ps(a[6], a[7]),
            ];
            reduce(_mm256_add_ps(
                _mm256_add_ps(h[0], h[1]),
                _mm256_add_ps(h[2], h[3]),
            ))
        }
    }

    /// [`super::column_sums`], 8 columns a vector: four rows per accumulator load and store.
    ///
    /// # Safety
    /// AVX2 and FMA; `cols` a multiple of 8 with `k`, `s`, `q` at least `cols` long, and rows
    /// `0..rows` of `cols` values `stride` apart readable from `x`.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn column_sums(
        x: *const f32,
        rows: usize,
        cols: usize,
        stride: usize,
        k: &[f32],
        s: &mut [f32],
        q: &mut [f32],
    ) {
        // SAFETY: the caller provides AVX2 and FMA and in-bounds slices.
        unsafe {
            let mut r = 0;
            while r < rows {
                let step = if rows - r >= 4 { 4 } else { 1 };
                let mut j = 0;
                while j < cols {
                    let kv = _mm256_loadu_ps(k.as_ptr().add(j));
                    let mut sv = _mm256_loadu_ps(s.as_ptr().add(j));
                    let mut qv = _mm256_loadu_ps(q.as_ptr().add(j));
                    for i in 0..step {
                        let d = _mm256_sub_ps(_mm256_loadu_ps(x.add((r + i) * stride + j)), kv);
                        sv = _mm256_add_ps(sv, d);
                        qv = _mm256_fmadd_ps(d, d, qv);
                    }
                    _mm256_storeu_ps(s.as_mut_ptr().add(j), sv);
                    _mm256_storeu_ps(q.as_mut_ptr().add(j), qv);
                    j += 8;
                }
                r += step;
            }
        }
    }

    /// [`super::column_affine`], 8 columns a vector.
    ///
    /// # Safety
    /// AVX2 and FMA; `cols` a multiple of 8, `y` at least as long as `x`, and `k`, `a`, `b` at
    /// least `cols` long.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn column_affine(
        x: &[f32],
        y: &mut [f32],
        cols: usize,
        k: &[f32],
        a: &[f32],
        b: &[f32],
    ) {
        // SAFETY: the caller provides AVX2 and FMA and in-bounds slices.
        unsafe {
            for r in 0..x.len() / cols {
                let (xp, yp) = (x.as_ptr().add(r * cols), y.as_mut_ptr().add(r * cols));
                let mut j = 0;
                while j < cols {
                    let v = _mm256_sub_ps(
                        _mm256_loadu_ps(xp.add(j)),
                        _mm256_loadu_ps(k.as_ptr().add(j)),
                    );
                    let v = _mm256_fmadd_ps(
                        v,
                        _mm256_loadu_ps(a.as_ptr().add(j)),
                        _mm256_loadu_ps(b.as_ptr().add(j)),
                    );
                    _mm256_storeu_ps(yp.add(j), v);
                    j += 8;
                }
            }
        }
    }
}

/// Which form of the hand loops runs: the widest this CPU has.
#[derive(Clone, Copy, Debug)]
enum Isa {
    Avx512,
    Avx2,
}

impl Isa {
    fn detect() -> Self {
        if is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("fma") {
            Isa::Avx512
        } else if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            Isa::Avx2
        } else {
            panic!("colprobe's hand loops need AVX-512 or AVX2 + FMA");
        }
    }

    /// [`read_all`] in this form.
    fn read_all(self, x: &[f32]) -> f32 {
        // SAFETY: `detect` found this form's instruction set; the loops read only within `x`.
        unsafe {
            match self {
                Isa::Avx512 => read_all(x),
                Isa::Avx2 => avx2::read_all(x),
            }
        }
    }

    /// [`column_sums`] in this form.
    ///
    /// # Safety
    /// `cols` a multiple of 16 with `k`, `s`, `q` at least `cols` long, and rows `0..rows` of
    /// `cols` values `stride` apart readable from `x`.
    #[allow(clippy::too_many_arguments)]
    unsafe fn column_sums(
        self,
        x: *const f32,
        rows: usize,
        cols: usize,
        stride: usize,
        k: &[f32],
        s: &mut [f32],
        q: &mut [f32],
    ) {
        // SAFETY: `detect` found this form's instruction set; the rest is the caller's.
        unsafe {
            match self {
                Isa::Avx512 => column_sums(x, rows, cols, stride, k, s, q),
                Isa::Avx2 => avx2::column_sums(x, rows, cols, stride, k, s, q),
            }
        }
    }

    /// [`column_affine`] in this form.
    ///
    /// # Safety
    /// `cols` a multiple of 16, `y` at least as long as `x`, and `k`, `a`, `b` at least `cols`
    /// long.
    unsafe fn column_affine(
        self,
        x: &[f32],
        y: &mut [f32],
        cols: usize,
        k: &[f32],
        a: &[f32],
        b: &[f32],
    ) {
        // SAFETY: `detect` found this form's instruction set; the rest is the caller's.
        unsafe {
            match self {
                Isa::Avx512 => column_affine(x, y, cols, k, a, b),
                Isa::Avx2 => avx2::column_affine(x, y, cols, k, a, b),
            }
        }
    }
}

fn med(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().unwrap())
        .collect();
    let (rows, cols) = (
        args.first().copied().unwrap_or(4096),
        args.get(1).copied().unwrap_or(768),
    );
    assert_eq!(cols % 16, 0);
    let isa = Isa::detect();
    eprintln!("colprobe: hand loops {isa:?}");
    let n = rows * cols;
    let mut seed = 0x2545F4914F6CDD1Du64;
    let x: Vec<f32> = (0..n)
        .map(|i| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0 + (i % cols) as f32 * 0.01
        })
        .collect();
    let mut y = vec![0f32; n];
    let (g, bb) = (vec![1.1f32; cols], vec![0.1f32; cols]);
    let (mean, var) = (vec![0.2f32; cols], vec![1.5f32; cols]);
    let k = Kernels::detect();
    let train = BatchNormTraining::new().gamma(&g).beta(&bb);
    let infer = BatchNorm::new(&mean, &var).gamma(&g).beta(&bb);
    let (one_m, one_v) = ([0.1f32], [1.5f32]);
    let floor_bn = BatchNorm::new(&one_m, &one_v);
    let shape = Shape::ntc(1, rows, cols);
    let (mut s, mut q) = (vec![0f32; cols], vec![0f32; cols]);
    let pivot = vec![0.3f32; cols];
    let mut partial = vec![Moments::default(); cols];
    let reps = (50_000_000 / n).max(2);
    let names = [
        "copy",
        "floor",
        "normkern_train",
        "normkern_infer",
        "hand_read",
        "hand_colsums",
        "hand_pivot256",
        "hand_affine",
        "hand_total",
        "normkern_stats",
        "nk_stats+infer",
        "hand_sums+infer",
    ];
    let mut t: Vec<Vec<f64>> = vec![vec![]; names.len()];
    for _ in 0..31 {
        for (f, tf) in t.iter_mut().enumerate() {
            let start = Instant::now();
            for _ in 0..reps {
                let x = black_box(&x[..]);
                // SAFETY (hand passes): `isa` is a detected form; `cols % 16 == 0`, slices sized above.
                unsafe {
                    match f {
                        0 => y.copy_from_slice(x),
                        1 => k
                            .batch_norm_inference(
                                &floor_bn,
                                Shape::channels_first(1, 1, n),
                                InOut::new(x, &mut y),
                            )
                            .unwrap(),
                        2 => k
                            .batch_norm_training(&train, shape, InOut::new(x, &mut y), None, None)
                            .unwrap(),
                        3 => k
                            .batch_norm_inference(&infer, shape, InOut::new(x, &mut y))
                            .unwrap(),
                        4 => {
                            black_box(isa.read_all(x));
                        }
                        5 => isa.column_sums(x.as_ptr(), rows, cols, cols, &pivot, &mut s, &mut q),
                        6 => {
                            let spread = cols * (rows / PIVOT_ROWS);
                            isa.column_sums(
                                x.as_ptr(),
                                PIVOT_ROWS,
                                cols,
                                spread,
                                &pivot,
                                &mut s,
                                &mut q,
                            )
                        }
                        7 => isa.column_affine(x, &mut y, cols, &pivot, &g, &bb),
                        9 => k
                            .batch_norm_training_stats(shape, Part::whole(&shape), x, &mut partial)
                            .unwrap(),
                        10 => {
                            k.batch_norm_training_stats(
                                shape,
                                Part::whole(&shape),
                                x,
                                &mut partial,
                            )
                            .unwrap();
                            k.batch_norm_inference(&infer, shape, InOut::new(x, &mut y))
                                .unwrap();
                        }
                        11 => {
                            hand_stats(isa, x, rows, cols, &pivot, &mut s, &mut q);
                            k.batch_norm_inference(&infer, shape, InOut::new(x, &mut y))
                                .unwrap();
                        }
                        _ => {
                            hand_stats(isa, x, rows, cols, &pivot, &mut s, &mut q);
                            isa.column_affine(x, &mut y, cols, &pivot, &g, &bb);
                        }
                    }
                }
                black_box(&mut y);
                black_box(&mut s);
            }
            tf.push(start.elapsed().as_secs_f64() / reps as f64);
        }
    }
    let m: Vec<f64> = t.into_iter().map(med).collect();
    print!("{rows}x{cols}:");
    for (name, v) in names.iter().zip(&m) {
        print!(" {name} {:.0}us ({:.2}xfloor)", v * 1e6, v / m[1]);
    }
    println!();
}
