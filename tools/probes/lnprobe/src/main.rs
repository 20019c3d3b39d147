//! Probe: where LayerNorm rows spend their time on this CPU. Interleaved medians.
use normkern::*;
use std::arch::x86_64::*;
use std::hint::black_box;
use std::time::Instant;

#[target_feature(enable = "avx512f")]
unsafe fn stats_row(x: *const f32, n: usize) -> (f32, f32) {
    unsafe {
        let p = _mm512_set1_ps(*x);
        let mut s = [_mm512_setzero_ps(); 4];
        let mut q = [_mm512_setzero_ps(); 4];
        let mut i = 0;
        while i < n {
            for u in 0..4 {
                let d = _mm512_sub_ps(_mm512_loadu_ps(x.add(i + 16 * u)), p);
                s[u] = _mm512_add_ps(s[u], d);
                q[u] = _mm512_fmadd_ps(d, d, q[u]);
            }
            i += 64;
        }
        let ss = _mm512_add_ps(_mm512_add_ps(s[0], s[1]), _mm512_add_ps(s[2], s[3]));
        let qq = _mm512_add_ps(_mm512_add_ps(q[0], q[1]), _mm512_add_ps(q[2], q[3]));
        let inv = 1.0 / n as f32;
        let m = _mm512_reduce_add_ps(ss) * inv;
        let v = _mm512_reduce_add_ps(qq) * inv - m * m;
        (*x + m, 1.0 / (v + 1e-5).sqrt())
    }
}

#[target_feature(enable = "avx512f")]
unsafe fn norm_row(x: *const f32, y: *mut f32, n: usize, g: *const f32, b: *const f32, mean: f32, r: f32) {
    unsafe {
        let m = _mm512_set1_ps(mean);
        let rv = _mm512_set1_ps(r);
        let mut i = 0;
        while i < n {
            for u in 0..4 {
                let j = i + 16 * u;
                let d = _mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(x.add(j)), m), rv);
                _mm512_storeu_ps(y.add(j), _mm512_fmadd_ps(d, _mm512_loadu_ps(g.add(j)), _mm512_loadu_ps(b.add(j))));
            }
            i += 64;
        }
    }
}

#[target_feature(enable = "avx512f")]
unsafe fn norm_rows4(x: *const f32, y: *mut f32, n: usize, g: *const f32, b: *const f32, mean: f32, r: f32) {
    unsafe {
        let m = _mm512_set1_ps(mean);
        let rv = _mm512_set1_ps(r);
        let mut i = 0;
        while i < n {
            let gv = _mm512_loadu_ps(g.add(i));
            let bv = _mm512_loadu_ps(b.add(i));
            for u in 0..4 {
                let j = i + n * u;
                let d = _mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(x.add(j)), m), rv);
                _mm512_storeu_ps(y.add(j), _mm512_fmadd_ps(d, gv, bv));
            }
            i += 16;
        }
    }
}
#[target_feature(enable = "avx512f")]
unsafe fn norm_row_nogb(x: *const f32, y: *mut f32, n: usize, mean: f32, r: f32) {
    unsafe {
        let m = _mm512_set1_ps(mean);
        let rv = _mm512_set1_ps(r);
        let gv = _mm512_set1_ps(1.1);
        let bv = _mm512_set1_ps(0.1);
        let mut i = 0;
        while i < n {
            for u in 0..4 {
                let j = i + 16 * u;
                let d = _mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(x.add(j)), m), rv);
                _mm512_storeu_ps(y.add(j), _mm512_fmadd_ps(d, gv, bv));
            }
            i += 64;
        }
    }
}
/// norm_row with non-temporal stores: a masked head up to a 64-byte line, streams, a masked tail.
#[target_feature(enable = "avx512f")]
unsafe fn norm_row_nt(x: *const f32, y: *mut f32, n: usize, g: *const f32, b: *const f32, mean: f32, r: f32) {
    unsafe {
        let m = _mm512_set1_ps(mean);
        let rv = _mm512_set1_ps(r);
        let one = |j: usize| _mm512_fmadd_ps(_mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(x.add(j)), m), rv), _mm512_loadu_ps(g.add(j)), _mm512_loadu_ps(b.add(j)));
        let head = ((64 - (y as usize % 64)) % 64 / 4).min(n);
        let mut i = 0;
        if head > 0 {
            let k: __mmask16 = ((1u32 << head) - 1) as u16;
            let d = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x), m), rv);
            _mm512_mask_storeu_ps(y, k, _mm512_fmadd_ps(d, _mm512_maskz_loadu_ps(k, g), _mm512_maskz_loadu_ps(k, b)));
            i = head;
        }
        while i + 16 <= n {
            _mm512_stream_ps(y.add(i), one(i));
            i += 16;
        }
        if i < n {
            let k: __mmask16 = ((1u32 << (n - i)) - 1) as u16;
            let d = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x.add(i)), m), rv);
            _mm512_mask_storeu_ps(y.add(i), k, _mm512_fmadd_ps(d, _mm512_maskz_loadu_ps(k, g.add(i)), _mm512_maskz_loadu_ps(k, b.add(i))));
        }
    }
}
fn two_pass_nt(x: &[f32], y: &mut [f32], cols: usize, g: &[f32], b: &[f32]) {
    for (xr, yr) in x.chunks_exact(cols).zip(y.chunks_exact_mut(cols)) {
        unsafe {
            let (m, r) = stats_row(xr.as_ptr(), cols);
            norm_row_nt(xr.as_ptr(), yr.as_mut_ptr(), cols, g.as_ptr(), b.as_ptr(), m, r);
        }
    }
    unsafe { _mm_sfence() };
}
fn norm_only_nt(x: &[f32], y: &mut [f32], cols: usize, g: &[f32], b: &[f32]) {
    for (xr, yr) in x.chunks_exact(cols).zip(y.chunks_exact_mut(cols)) {
        unsafe { norm_row_nt(xr.as_ptr(), yr.as_mut_ptr(), cols, g.as_ptr(), b.as_ptr(), 0.5, 1.1); }
    }
    unsafe { _mm_sfence() };
}
fn norm4_only(x: &[f32], y: &mut [f32], cols: usize, g: &[f32], b: &[f32]) {
    for (xr, yr) in x.chunks_exact(4 * cols).zip(y.chunks_exact_mut(4 * cols)) {
        unsafe { norm_rows4(xr.as_ptr(), yr.as_mut_ptr(), cols, g.as_ptr(), b.as_ptr(), 0.5, 1.1); }
    }
}
fn tiled_only(x: &[f32], y: &mut [f32], cols: usize, g: &[f32], b: &[f32], rows_per: usize, chunk: usize) {
    for (xr, yr) in x.chunks_exact(rows_per * cols).zip(y.chunks_exact_mut(rows_per * cols)) {
        let mut c0 = 0;
        while c0 < cols {
            let w = chunk.min(cols - c0);
            for r in 0..rows_per {
                unsafe { norm_row(xr.as_ptr().add(r * cols + c0), yr.as_mut_ptr().add(r * cols + c0), w, g.as_ptr().add(c0), b.as_ptr().add(c0), 0.5, 1.1); }
            }
            c0 += w;
        }
    }
}
fn two_pass_nogb(x: &[f32], y: &mut [f32], cols: usize) {
    for (xr, yr) in x.chunks_exact(cols).zip(y.chunks_exact_mut(cols)) {
        unsafe {
            let (m, r) = stats_row(xr.as_ptr(), cols);
            norm_row_nogb(xr.as_ptr(), yr.as_mut_ptr(), cols, m, r);
        }
    }
}
fn nogb_only(x: &[f32], y: &mut [f32], cols: usize) {
    for (xr, yr) in x.chunks_exact(cols).zip(y.chunks_exact_mut(cols)) {
        unsafe { norm_row_nogb(xr.as_ptr(), yr.as_mut_ptr(), cols, 0.5, 1.1); }
    }
}
fn two_pass(x: &[f32], y: &mut [f32], cols: usize, g: &[f32], b: &[f32]) {
    for (xr, yr) in x.chunks_exact(cols).zip(y.chunks_exact_mut(cols)) {
        unsafe {
            let (m, r) = stats_row(xr.as_ptr(), cols);
            norm_row(xr.as_ptr(), yr.as_mut_ptr(), cols, g.as_ptr(), b.as_ptr(), m, r);
        }
    }
}
fn stats_only(x: &[f32], cols: usize) -> f32 {
    let mut t = 0.0;
    for xr in x.chunks_exact(cols) { unsafe { t += stats_row(xr.as_ptr(), cols).0; } }
    t
}
fn norm_only(x: &[f32], y: &mut [f32], cols: usize, g: &[f32], b: &[f32]) {
    for (xr, yr) in x.chunks_exact(cols).zip(y.chunks_exact_mut(cols)) {
        unsafe { norm_row(xr.as_ptr(), yr.as_mut_ptr(), cols, g.as_ptr(), b.as_ptr(), 0.5, 1.1); }
    }
}

/// LayerNorm of 64-value rows held in registers, four rows at a time: one load per value,
/// gamma and beta in registers, the mean of each row as its pivot (what a 64-wide row can
/// cost when nothing is reloaded; no acceptance check, no fallback). Rows of exactly 64.
#[target_feature(enable = "avx512f,fma")]
unsafe fn regs64(x: &[f32], y: &mut [f32], g: &[f32], b: &[f32]) {
    unsafe {
        let gv: [__m512; 4] = core::array::from_fn(|k| _mm512_loadu_ps(g.as_ptr().add(16 * k)));
        let bv: [__m512; 4] = core::array::from_fn(|k| _mm512_loadu_ps(b.as_ptr().add(16 * k)));
        let inv_n = 1.0 / 64.0;
        for (xr, yr) in x.chunks_exact(64).zip(y.chunks_exact_mut(64)) {
            let v: [__m512; 4] = core::array::from_fn(|k| _mm512_loadu_ps(xr.as_ptr().add(16 * k)));
            let total = _mm512_add_ps(_mm512_add_ps(v[0], v[1]), _mm512_add_ps(v[2], v[3]));
            let pivot = _mm512_set1_ps(_mm512_reduce_add_ps(total) * inv_n);
            let d: [__m512; 4] = core::array::from_fn(|k| _mm512_sub_ps(v[k], pivot));
            let dev = _mm512_add_ps(_mm512_add_ps(d[0], d[1]), _mm512_add_ps(d[2], d[3]));
            let sq = _mm512_fmadd_ps(d[0], d[0], _mm512_mul_ps(d[1], d[1]));
            let sq = _mm512_fmadd_ps(d[2], d[2], _mm512_fmadd_ps(d[3], d[3], sq));
            let offset = _mm512_reduce_add_ps(dev) * inv_n;
            let var = (_mm512_reduce_add_ps(sq) * inv_n - offset * offset).max(0.0);
            let inv = _mm512_set1_ps(1.0 / (var + 1e-5).sqrt());
            let o = _mm512_set1_ps(offset);
            for k in 0..4 {
                let u = _mm512_sub_ps(d[k], o);
                let out = _mm512_fmadd_ps(u, _mm512_mul_ps(inv, gv[k]), bv[k]);
                _mm512_storeu_ps(yr.as_mut_ptr().add(16 * k), out);
            }
        }
    }
}

/// This core's clock in GHz, from a chain of dependent `imul`s (3 cycles each on the Intel and
/// AMD cores measured; a dependent `add` chain is not a clock there: Golden Cove folds
/// immediate adds at rename).
fn clock_ghz() -> f64 {
    let n = 200_000_000u64;
    let mut x = 3u64;
    let s = Instant::now();
    for _ in 0..n {
        // SAFETY: register arithmetic only.
        unsafe { std::arch::asm!("imul {0}, {0}", "imul {0}, {0}", "imul {0}, {0}", "imul {0}, {0}", inout(reg) x) };
    }
    black_box(x);
    (4 * 3 * n) as f64 / s.elapsed().as_secs_f64() / 1e9
}

fn med(mut v: Vec<f64>) -> f64 { v.sort_by(|a, b| a.partial_cmp(b).unwrap()); v[v.len() / 2] }

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).map(|a| a.parse().unwrap()).collect();
    let (rows, cols) = (args.first().copied().unwrap_or(128), args.get(1).copied().unwrap_or(4096));
    let n = rows * cols;
    let x: Vec<f32> = (0..n).map(|i| ((i * 7919) % 1000) as f32 * 0.001 + 3.0).collect();
    // The output starts LNPROBE_SHIFT floats into its allocation: it moves the output's
    // address modulo 4 KiB against the input's (a check for 4K aliasing of loads and stores).
    let shift: usize = std::env::var("LNPROBE_SHIFT").map_or(0, |s| s.parse().unwrap());
    let mut y_store = vec![0f32; n + shift];
    let y = &mut y_store[shift..];
    eprintln!("x at {:#x} (mod 4096: {}), y at {:#x} (mod 4096: {})", x.as_ptr() as usize, x.as_ptr() as usize % 4096, y.as_ptr() as usize, y.as_ptr() as usize % 4096);
    let g = vec![1.1f32; cols];
    let bb = vec![0.1f32; cols];
    let k = Kernels::detect();
    let ln = LayerNorm::new().gamma(&g).beta(&bb);
    let rms = RmsNorm::new().gamma(&g);
    let (gi, bi) = (vec![1.1f32; rows], vec![0.1f32; rows]);
    let inn = InstanceNorm::new().gamma(&gi).beta(&bi);
    let (one_m, one_v) = ([0.1f32], [1.5f32]);
    let floor_bn = BatchNorm::new(&one_m, &one_v);
    let reps = (50_000_000 / n).max(2);
    let names = ["copy", "floor", "normkern_ln", "normkern_rms", "hand_2pass", "hand_stats", "hand_norm", "hand_norm4rows", "hand_norm_nogb", "tiled4x512", "tiled4x1024", "tiled8x512", "tiled2x1024", "normkern_in", "hand_2pass_nogb", "normkern_ln_nogb", "hand_norm_nt", "hand_2pass_nt", "hand_regs64"];
    if cols == 64 {
        // The hand loop computes what normkern does (within f32 rounding).
        let mut z = vec![0f32; n];
        k.layer_norm(&ln, Shape::rows(rows, cols), InOut::new(&x, y), None).unwrap();
        unsafe { regs64(&x, &mut z, &g, &bb) };
        let worst = y.iter().zip(&z).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(worst < 1e-4, "hand_regs64 differs from normkern by {worst}");
    }
    let mut t: Vec<Vec<f64>> = vec![vec![]; names.len()];
    for _ in 0..31 {
        for (f, tf) in t.iter_mut().enumerate() {
            let s = Instant::now();
            for _ in 0..reps {
                match f {
                    0 => y.copy_from_slice(black_box(&x)),
                    1 => k.batch_norm_inference(&floor_bn, Shape::channels_first(1, 1, n), InOut::new(black_box(&x), y)).unwrap(),
                    2 => k.layer_norm(&ln, Shape::rows(rows, cols), InOut::new(black_box(&x), y), None).unwrap(),
                    3 => k.rms_norm(&rms, Shape::rows(rows, cols), InOut::new(black_box(&x), y), None).unwrap(),
                    4 => two_pass(black_box(&x), y, cols, &g, &bb),
                    5 => { black_box(stats_only(black_box(&x), cols)); }
                    6 => norm_only(black_box(&x), y, cols, &g, &bb),
                    7 => norm4_only(black_box(&x), y, cols, &g, &bb),
                    8 => nogb_only(black_box(&x), y, cols),
                    9 => tiled_only(black_box(&x), y, cols, &g, &bb, 4, 512),
                    10 => tiled_only(black_box(&x), y, cols, &g, &bb, 4, 1024),
                    11 => tiled_only(black_box(&x), y, cols, &g, &bb, 8, 512),
                    12 => tiled_only(black_box(&x), y, cols, &g, &bb, 2, 1024),
                    13 => k.instance_norm(&inn, Shape::ncl(1, rows, cols), InOut::new(black_box(&x), y), None).unwrap(),
                    14 => two_pass_nogb(black_box(&x), y, cols),
                    15 => k.layer_norm(&LayerNorm::new(), Shape::rows(rows, cols), InOut::new(black_box(&x), y), None).unwrap(),
                    16 => norm_only_nt(black_box(&x), y, cols, &g, &bb),
                    17 => two_pass_nt(black_box(&x), y, cols, &g, &bb),
                    18 if cols == 64 => unsafe { regs64(black_box(&x), y, &g, &bb) },
                    18 => {}
                    _ => k.layer_norm(&LayerNorm::new(), Shape::rows(rows, cols), InOut::new(black_box(&x), y), None).unwrap(),
                }
                black_box(&mut *y);
            }
            tf.push(s.elapsed().as_secs_f64() / reps as f64);
        }
    }
    let m: Vec<f64> = t.into_iter().map(med).collect();
    print!("{rows}x{cols}:");
    for (name, v) in names.iter().zip(&m) { print!(" {name} {:.1}us ({:.2}xfloor)", v * 1e6, v / m[1]); }
    println!();
    let ghz = clock_ghz();
    let per_vector = |t: f64| t * ghz * 1e9 / (n / 16) as f64;
    println!(
        "clock {ghz:.2} GHz: cycles per 16 values: floor {:.1}, normkern_ln {:.1}, normkern_rms {:.1}, hand_regs64 {:.1}; normkern_ln {:.1} ns a row",
        per_vector(m[1]), per_vector(m[2]), per_vector(m[3]), per_vector(m[18]), m[2] * 1e9 / rows as f64
    );
}
