//! Probe: what the two passes of a row normalization cost on this CPU in plain AVX2 loops,
//! next to normkern's LayerNorm and RMSNorm in both `Schedule`s, the floor and a copy.
//! Interleaved medians of 31 rounds, each function over the same buffers. AVX2 and FMA only,
//! so it runs on every x86 machine the project has met (Zen 3 has no AVX-512).
//!
//! The hand loops (rows of a multiple of 32 values, gamma and beta from arrays, sums around
//! the row's first value as normkern's pivot, 4 accumulators):
//! - `hand_stats`: the statistics pass alone, every row (a pure read);
//! - `hand_norm`: the normalize pass alone, reading `x` from where it lies;
//! - `hand_separate`: each row summed, then normalized from L1 (normkern's `Separate`);
//! - `hand_overlapped`: row i normalized in the loop that sums row i + 1 (`Overlapped`).
use normkern::*;
use std::arch::x86_64::*;
use std::hint::black_box;
use std::time::Instant;

type Stats = (f32, f32); // (mean, 1 / std) or (0, 1 / rms)

/// Adds row `x`'s deviations from `p` and their squares (`MEAN`), or its squares, into
/// `s` and `q`, four vectors a step.
#[inline(always)]
unsafe fn sum_step<const MEAN: bool>(x: *const f32, p: __m256, s: &mut [__m256; 4], q: &mut [__m256; 4]) {
    unsafe {
        for u in 0..4 {
            let v = _mm256_loadu_ps(x.add(8 * u));
            if MEAN {
                let d = _mm256_sub_ps(v, p);
                s[u] = _mm256_add_ps(s[u], d);
                q[u] = _mm256_fmadd_ps(d, d, q[u]);
            } else {
                q[u] = _mm256_fmadd_ps(v, v, q[u]);
            }
        }
    }
}

#[inline(always)]
unsafe fn hsum(v: [__m256; 4]) -> f32 {
    unsafe {
        let t = _mm256_add_ps(_mm256_add_ps(v[0], v[1]), _mm256_add_ps(v[2], v[3]));
        let h = _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
        let h = _mm_add_ps(h, _mm_movehl_ps(h, h));
        _mm_cvtss_f32(_mm_add_ss(h, _mm_shuffle_ps(h, h, 1)))
    }
}

#[inline(always)]
unsafe fn finish<const MEAN: bool>(pivot: f32, s: [__m256; 4], q: [__m256; 4], n: usize) -> Stats {
    unsafe {
        let inv = 1.0 / n as f32;
        if MEAN {
            let m = hsum(s) * inv;
            let v = (hsum(q) * inv - m * m).max(0.0);
            (pivot + m, 1.0 / (v + 1e-5).sqrt())
        } else {
            (0.0, 1.0 / (hsum(q) * inv + 1e-5).sqrt())
        }
    }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn stats<const MEAN: bool>(x: *const f32, n: usize) -> Stats {
    unsafe {
        let pivot = if MEAN { *x } else { 0.0 };
        let p = _mm256_set1_ps(pivot);
        let (mut s, mut q) = ([_mm256_setzero_ps(); 4], [_mm256_setzero_ps(); 4]);
        for i in (0..n).step_by(32) {
            sum_step::<MEAN>(x.add(i), p, &mut s, &mut q);
        }
        finish::<MEAN>(pivot, s, q, n)
    }
}

/// `y = (x - mean) * r * g + b` over four vectors at `j`.
#[inline(always)]
unsafe fn norm_step<const MEAN: bool>(x: *const f32, y: *mut f32, g: *const f32, b: *const f32, m: __m256, r: __m256) {
    unsafe {
        for u in 0..4 {
            let v = _mm256_loadu_ps(x.add(8 * u));
            let out = if MEAN {
                let d = _mm256_mul_ps(_mm256_sub_ps(v, m), r);
                _mm256_fmadd_ps(d, _mm256_loadu_ps(g.add(8 * u)), _mm256_loadu_ps(b.add(8 * u)))
            } else {
                _mm256_mul_ps(_mm256_mul_ps(v, r), _mm256_loadu_ps(g.add(8 * u)))
            };
            _mm256_storeu_ps(y.add(8 * u), out);
        }
    }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn norm<const MEAN: bool>(x: *const f32, y: *mut f32, n: usize, g: *const f32, b: *const f32, (m, r): Stats) {
    unsafe {
        let (m, r) = (_mm256_set1_ps(m), _mm256_set1_ps(r));
        for i in (0..n).step_by(32) {
            norm_step::<MEAN>(x.add(i), y.add(i), g.add(i), b.add(i), m, r);
        }
    }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn hand_stats<const MEAN: bool>(x: &[f32], n: usize) -> f32 {
    x.chunks_exact(n).map(|r| unsafe { stats::<MEAN>(r.as_ptr(), n).1 }).sum()
}

#[target_feature(enable = "avx2,fma")]
unsafe fn hand_norm<const MEAN: bool>(x: &[f32], y: &mut [f32], n: usize, g: &[f32], b: &[f32]) {
    for (xr, yr) in x.chunks_exact(n).zip(y.chunks_exact_mut(n)) {
        unsafe { norm::<MEAN>(xr.as_ptr(), yr.as_mut_ptr(), n, g.as_ptr(), b.as_ptr(), (0.5, 1.1)) };
    }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn hand_separate<const MEAN: bool>(x: &[f32], y: &mut [f32], n: usize, g: &[f32], b: &[f32]) {
    for (xr, yr) in x.chunks_exact(n).zip(y.chunks_exact_mut(n)) {
        unsafe {
            let st = stats::<MEAN>(xr.as_ptr(), n);
            norm::<MEAN>(xr.as_ptr(), yr.as_mut_ptr(), n, g.as_ptr(), b.as_ptr(), st);
        }
    }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn hand_overlapped<const MEAN: bool>(x: &[f32], y: &mut [f32], n: usize, g: &[f32], b: &[f32]) {
    let rows = x.len() / n;
    let (xp, yp, gp, bp) = (x.as_ptr(), y.as_mut_ptr(), g.as_ptr(), b.as_ptr());
    unsafe {
        let mut st = stats::<MEAN>(xp, n);
        for i in 0..rows {
            let (xi, yi) = (xp.add(i * n), yp.add(i * n));
            let (m, r) = (_mm256_set1_ps(st.0), _mm256_set1_ps(st.1));
            if i + 1 == rows {
                norm::<MEAN>(xi, yi, n, gp, bp, st);
                break;
            }
            let next = xi.add(n);
            let pivot = if MEAN { *next } else { 0.0 };
            let p = _mm256_set1_ps(pivot);
            let (mut s, mut q) = ([_mm256_setzero_ps(); 4], [_mm256_setzero_ps(); 4]);
            for j in (0..n).step_by(32) {
                norm_step::<MEAN>(xi.add(j), yi.add(j), gp.add(j), bp.add(j), m, r);
                sum_step::<MEAN>(next.add(j), p, &mut s, &mut q);
            }
            st = finish::<MEAN>(pivot, s, q, n);
        }
    }
}

fn med(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    assert!(is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"));
    let args: Vec<usize> = std::env::args().skip(1).map(|a| a.parse().unwrap()).collect();
    let (rows, cols) = (args.first().copied().unwrap_or(128), args.get(1).copied().unwrap_or(4096));
    assert!(cols % 32 == 0, "cols must be a multiple of 32");
    let n = rows * cols;
    let x: Vec<f32> = (0..n).map(|i| ((i * 7919) % 1000) as f32 * 0.001 + 3.0).collect();
    let mut y = vec![0f32; n];
    let (g, b) = (vec![1.1f32; cols], vec![0.1f32; cols]);
    let k = Kernels::detect();
    let (sep, ovl) = (k.with_schedule(Schedule::Separate), k.with_schedule(Schedule::Overlapped));
    let ln = LayerNorm::new().gamma(&g).beta(&b);
    let rms = RmsNorm::new().gamma(&g);
    let (one_m, one_v) = ([0.1f32], [1.5f32]);
    let floor_bn = BatchNorm::new(&one_m, &one_v);
    let shape = Shape::rows(rows, cols);

    // The hand loops compute what normkern does, within f32 rounding.
    let mut z = vec![0f32; n];
    for (mean, want) in [(true, "ln"), (false, "rms")] {
        if mean {
            k.layer_norm(&ln, shape, InOut::new(&x, &mut y), None).unwrap();
        } else {
            k.rms_norm(&rms, shape, InOut::new(&x, &mut y), None).unwrap();
        }
        for f in [0, 1] {
            unsafe {
                match (mean, f) {
                    (true, 0) => hand_separate::<true>(&x, &mut z, cols, &g, &b),
                    (true, _) => hand_overlapped::<true>(&x, &mut z, cols, &g, &b),
                    (false, 0) => hand_separate::<false>(&x, &mut z, cols, &g, &b),
                    (false, _) => hand_overlapped::<false>(&x, &mut z, cols, &g, &b),
                }
            }
            let worst = y.iter().zip(&z).map(|(a, c)| (a - c).abs()).fold(0.0f32, f32::max);
            assert!(worst < 1e-3, "hand {want} loop {f} differs from normkern by {worst}");
        }
    }

    let names = [
        "copy", "floor",
        "ln_separate", "ln_overlapped", "hand_ln_stats", "hand_ln_norm", "hand_ln_separate", "hand_ln_overlapped",
        "rms_separate", "rms_overlapped", "hand_rms_stats", "hand_rms_norm", "hand_rms_separate", "hand_rms_overlapped",
    ];
    let reps = (20_000_000 / n).max(2);
    let mut t: Vec<Vec<f64>> = vec![vec![]; names.len()];
    for _ in 0..31 {
        for (f, tf) in t.iter_mut().enumerate() {
            let s = Instant::now();
            for _ in 0..reps {
                let x = black_box(&x[..]);
                unsafe {
                    match f {
                        0 => y.copy_from_slice(x),
                        1 => k.batch_norm_inference(&floor_bn, Shape::channels_first(1, 1, n), InOut::new(x, &mut y)).unwrap(),
                        2 => sep.layer_norm(&ln, shape, InOut::new(x, &mut y), None).unwrap(),
                        3 => ovl.layer_norm(&ln, shape, InOut::new(x, &mut y), None).unwrap(),
                        4 => { black_box(hand_stats::<true>(x, cols)); }
                        5 => hand_norm::<true>(x, &mut y, cols, &g, &b),
                        6 => hand_separate::<true>(x, &mut y, cols, &g, &b),
                        7 => hand_overlapped::<true>(x, &mut y, cols, &g, &b),
                        8 => sep.rms_norm(&rms, shape, InOut::new(x, &mut y), None).unwrap(),
                        9 => ovl.rms_norm(&rms, shape, InOut::new(x, &mut y), None).unwrap(),
                        10 => { black_box(hand_stats::<false>(x, cols)); }
                        11 => hand_norm::<false>(x, &mut y, cols, &g, &b),
                        12 => hand_separate::<false>(x, &mut y, cols, &g, &b),
                        _ => hand_overlapped::<false>(x, &mut y, cols, &g, &b),
                    }
                }
                black_box(&mut y);
            }
            tf.push(s.elapsed().as_secs_f64() / reps as f64);
        }
    }
    let m: Vec<f64> = t.into_iter().map(med).collect();
    println!("{rows}x{cols}, {:?}: median µs and × floor", k.isa());
    for (name, v) in names.iter().zip(&m) {
        println!("  {name:<20} {:>9.1} µs {:>6.2} x floor", v * 1e6, v / m[1]);
    }
}
