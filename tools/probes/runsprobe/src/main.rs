//! Probe: channels-first BatchNorm training (each channel over N runs of HW values),
//! InstanceNorm (N*C planes), GroupNorm (32 groups) and BatchNorm inference: normkern (this
//! CPU's schedule, `SCHED=sep|ovl` to force one; BatchNorm training and InstanceNorm also
//! overlapped) against hand loops of the same passes (AVX-512, or AVX2 where the CPU has no
//! AVX-512). Interleaved medians, × the one-channel floor.
use normkern::*;
use std::arch::x86_64::*;
use std::hint::black_box;
use std::time::Instant;

/// Sums of d and d^2 around p over `len` values at x (tail scalar).
#[target_feature(enable = "avx512f")]
unsafe fn run_sums(x: *const f32, len: usize, p: __m512, s: &mut [__m512; 2], q: &mut [__m512; 2], tail: &mut (f32, f32)) {
    unsafe {
        let mut i = 0;
        while i + 32 <= len {
            for u in 0..2 {
                let d = _mm512_sub_ps(_mm512_loadu_ps(x.add(i + 16 * u)), p);
                s[u] = _mm512_add_ps(s[u], d);
                q[u] = _mm512_fmadd_ps(d, d, q[u]);
            }
            i += 32;
        }
        while i + 16 <= len {
            let d = _mm512_sub_ps(_mm512_loadu_ps(x.add(i)), p);
            s[0] = _mm512_add_ps(s[0], d);
            q[0] = _mm512_fmadd_ps(d, d, q[0]);
            i += 16;
        }
        if i < len {
            let m: __mmask16 = ((1u32 << (len - i)) - 1) as u16;
            let d = _mm512_maskz_sub_ps(m, _mm512_maskz_loadu_ps(m, x.add(i)), p);
            s[1] = _mm512_add_ps(s[1], d);
            q[1] = _mm512_fmadd_ps(d, d, q[1]);
        }
        let _ = tail;
    }
}
#[target_feature(enable = "avx512f")]
unsafe fn run_norm(x: *const f32, y: *mut f32, len: usize, a: __m512, b: __m512) {
    unsafe {
        let mut i = 0;
        while i + 16 <= len {
            _mm512_storeu_ps(y.add(i), _mm512_fmadd_ps(_mm512_loadu_ps(x.add(i)), a, b));
            i += 16;
        }
        if i < len {
            let m: __mmask16 = ((1u32 << (len - i)) - 1) as u16;
            _mm512_mask_storeu_ps(y.add(i), m, _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x.add(i)), a, b));
        }
    }
}
#[target_feature(enable = "avx512f")]
unsafe fn hand_bnt(x: &[f32], y: &mut [f32], n: usize, c: usize, hw: usize) {
    unsafe {
        let cnt = (n * hw) as f32;
        for ch in 0..c {
            let p0 = *x.as_ptr().add(ch * hw);
            let p = _mm512_set1_ps(p0);
            let mut s = [_mm512_setzero_ps(); 2];
            let mut q = [_mm512_setzero_ps(); 2];
            let mut t = (0.0, 0.0);
            for b in 0..n {
                run_sums(x.as_ptr().add((b * c + ch) * hw), hw, p, &mut s, &mut q, &mut t);
            }
            let sm = _mm512_reduce_add_ps(_mm512_add_ps(s[0], s[1])) / cnt;
            let var = _mm512_reduce_add_ps(_mm512_add_ps(q[0], q[1])) / cnt - sm * sm;
            let inv = 1.0 / (var + 1e-5).sqrt();
            let a = _mm512_set1_ps(inv * 1.1);
            let bb = _mm512_set1_ps(0.1 - (p0 + sm) * inv * 1.1);
            for b in 0..n {
                let o = (b * c + ch) * hw;
                run_norm(x.as_ptr().add(o), y.as_mut_ptr().add(o), hw, a, bb);
            }
        }
    }
}

/// The AVX2 forms of the hand loops (for CPUs without AVX-512: Zen 3).
mod avx2 {
    use std::arch::x86_64::*;

    /// Lanes `0..n` of a mask for `_mm256_maskload_ps` / `_mm256_maskstore_ps`.
    #[target_feature(enable = "avx2")]
    fn mask(n: usize) -> __m256i {
        _mm256_cmpgt_epi32(_mm256_set1_epi32(n as i32), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
    }
    /// Sums of d and d^2 around p over `len` values at x.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn run_sums(x: *const f32, len: usize, p: __m256, s: &mut [__m256; 2], q: &mut [__m256; 2]) {
        unsafe {
            let mut i = 0;
            while i + 16 <= len {
                for u in 0..2 {
                    let d = _mm256_sub_ps(_mm256_loadu_ps(x.add(i + 8 * u)), p);
                    s[u] = _mm256_add_ps(s[u], d);
                    q[u] = _mm256_fmadd_ps(d, d, q[u]);
                }
                i += 16;
            }
            while i + 8 <= len {
                let d = _mm256_sub_ps(_mm256_loadu_ps(x.add(i)), p);
                s[0] = _mm256_add_ps(s[0], d);
                q[0] = _mm256_fmadd_ps(d, d, q[0]);
                i += 8;
            }
            if i < len {
                let m = mask(len - i);
                let d = _mm256_and_ps(_mm256_sub_ps(_mm256_maskload_ps(x.add(i), m), p), _mm256_castsi256_ps(m));
                s[1] = _mm256_add_ps(s[1], d);
                q[1] = _mm256_fmadd_ps(d, d, q[1]);
            }
        }
    }
    #[target_feature(enable = "avx2,fma")]
    unsafe fn run_norm(x: *const f32, y: *mut f32, len: usize, a: __m256, b: __m256) {
        unsafe {
            let mut i = 0;
            while i + 8 <= len {
                _mm256_storeu_ps(y.add(i), _mm256_fmadd_ps(_mm256_loadu_ps(x.add(i)), a, b));
                i += 8;
            }
            if i < len {
                let m = mask(len - i);
                _mm256_maskstore_ps(y.add(i), m, _mm256_fmadd_ps(_mm256_maskload_ps(x.add(i), m), a, b));
            }
        }
    }
    /// `run_norm` with the tail as one whole vector ending at the run's end (computed before
    /// any store, so in place too), instead of a masked store.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn run_norm_ov(x: *const f32, y: *mut f32, len: usize, a: __m256, b: __m256) {
        unsafe {
            if len < 8 || len % 8 == 0 {
                return run_norm(x, y, len, a, b);
            }
            let t = _mm256_fmadd_ps(_mm256_loadu_ps(x.add(len - 8)), a, b);
            let mut i = 0;
            while i + 8 <= len {
                _mm256_storeu_ps(y.add(i), _mm256_fmadd_ps(_mm256_loadu_ps(x.add(i)), a, b));
                i += 8;
            }
            _mm256_storeu_ps(y.add(len - 8), t);
        }
    }
    #[target_feature(enable = "avx2,fma")]
    fn reduce(v: __m256) -> f32 {
        let h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        let h = _mm_add_ps(h, _mm_movehl_ps(h, h));
        _mm_cvtss_f32(_mm_add_ss(h, _mm_shuffle_ps(h, h, 1)))
    }
    /// The same loop as the AVX-512 `hand_bni`, 8 lanes wide; each run's tail written by
    /// `run_norm_ov` where `OVERLAP_TAIL`, else by `run_norm`.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn hand_bni<const OVERLAP_TAIL: bool>(x: &[f32], y: &mut [f32], n: usize, c: usize, hw: usize, a: &[f32], b: &[f32]) {
        unsafe {
            for i in 0..n * c {
                let o = i * hw;
                let (a, b) = (_mm256_set1_ps(a[i % c]), _mm256_set1_ps(b[i % c]));
                if OVERLAP_TAIL {
                    run_norm_ov(x.as_ptr().add(o), y.as_mut_ptr().add(o), hw, a, b);
                } else {
                    run_norm(x.as_ptr().add(o), y.as_mut_ptr().add(o), hw, a, b);
                }
            }
        }
    }
    /// The same loop as the AVX-512 `hand_bnt`, 8 lanes wide.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn hand_bnt(x: &[f32], y: &mut [f32], n: usize, c: usize, hw: usize) {
        unsafe {
            let cnt = (n * hw) as f32;
            for ch in 0..c {
                let p0 = *x.as_ptr().add(ch * hw);
                let p = _mm256_set1_ps(p0);
                let mut s = [_mm256_setzero_ps(); 2];
                let mut q = [_mm256_setzero_ps(); 2];
                for b in 0..n {
                    run_sums(x.as_ptr().add((b * c + ch) * hw), hw, p, &mut s, &mut q);
                }
                let sm = reduce(_mm256_add_ps(s[0], s[1])) / cnt;
                let var = reduce(_mm256_add_ps(q[0], q[1])) / cnt - sm * sm;
                let inv = 1.0 / (var + 1e-5).sqrt();
                let a = _mm256_set1_ps(inv * 1.1);
                let bb = _mm256_set1_ps(0.1 - (p0 + sm) * inv * 1.1);
                for b in 0..n {
                    let o = (b * c + ch) * hw;
                    run_norm(x.as_ptr().add(o), y.as_mut_ptr().add(o), hw, a, bb);
                }
            }
        }
    }
}

/// `hand_bnt` on the widest set this CPU has.
fn hand(x: &[f32], y: &mut [f32], n: usize, c: usize, hw: usize) {
    // SAFETY: each form runs only where its instruction set was detected.
    unsafe {
        if is_x86_feature_detected!("avx512f") {
            hand_bnt(x, y, n, c, hw)
        } else {
            avx2::hand_bnt(x, y, n, c, hw)
        }
    }
}
/// `hand_bni` on the widest set this CPU has.
fn hand_infer(x: &[f32], y: &mut [f32], n: usize, c: usize, hw: usize, a: &[f32], b: &[f32]) {
    // SAFETY: each form runs only where its instruction set was detected.
    unsafe {
        if is_x86_feature_detected!("avx512f") {
            hand_bni(x, y, n, c, hw, a, b)
        } else {
            avx2::hand_bni::<false>(x, y, n, c, hw, a, b)
        }
    }
}
/// BatchNorm inference: each plane `y = x * a[ch] + b[ch]`.
#[target_feature(enable = "avx512f")]
unsafe fn hand_bni(x: &[f32], y: &mut [f32], n: usize, c: usize, hw: usize, a: &[f32], b: &[f32]) {
    unsafe {
        for i in 0..n * c {
            let o = i * hw;
            run_norm(x.as_ptr().add(o), y.as_mut_ptr().add(o), hw, _mm512_set1_ps(a[i % c]), _mm512_set1_ps(b[i % c]));
        }
    }
}
fn med(mut v: Vec<f64>) -> f64 { v.sort_by(|a, b| a.partial_cmp(b).unwrap()); v[v.len() / 2] }

fn main() {
    let a: Vec<usize> = std::env::args().skip(1).map(|a| a.parse().unwrap()).collect();
    let (n, c, hw) = (a[0], a[1], a[2]);
    let len = n * c * hw;
    let x: Vec<f32> = (0..len).map(|i| ((i * 7919) % 1000) as f32 * 0.001 + 3.0).collect();
    let mut y = vec![0f32; len];
    let (g, b) = (vec![1.1f32; c], vec![0.1f32; c]);
    let k = match std::env::var("SCHED").as_deref() { Ok("sep") => Kernels::detect().with_schedule(Schedule::Separate), Ok("ovl") => Kernels::detect().with_schedule(Schedule::Overlapped), _ => Kernels::detect() };
    let bnt = BatchNormTraining::new().gamma(&g).beta(&b);
    let (gi, bi) = (vec![1.1f32; n * c], vec![0.1f32; n * c]);
    let _ = (&gi, &bi);
    let inn = InstanceNorm::new().gamma(&g).beta(&b);
    let gn = GroupNorm::new(32).gamma(&g).beta(&b);
    let (one_m, one_v) = ([0.1f32], [1.5f32]);
    let floor_bn = BatchNorm::new(&one_m, &one_v);
    let reps = (20_000_000 / len).max(2);
    let ovl = Kernels::detect().with_schedule(Schedule::Overlapped);
    let names = ["copy", "floor", "normkern_bnt", "hand_bnt", "normkern_in(N*C planes)", "hand_in", "normkern_gn32", "bnt_overlapped", "in_overlapped", "hand_gn32", "normkern_bn_infer", "hand_bn_infer", "hand_bn_infer_ovtail"];
    let (mean_c, var_c) = (vec![0.1f32; c], vec![1.5f32; c]);
    let bni = BatchNorm::new(&mean_c, &var_c).gamma(&g).beta(&b);
    let inv: Vec<f32> = var_c.iter().zip(&g).map(|(v, g)| g / (v + 1e-5).sqrt()).collect();
    let shift: Vec<f32> = inv.iter().zip(&mean_c).zip(&b).map(|((s, m), b)| b - m * s).collect();
    let mut t: Vec<Vec<f64>> = vec![vec![]; names.len()];
    for _ in 0..31 {
        let only: Option<usize> = std::env::var("ONLY").ok().map(|v| v.parse().unwrap());
        for (f, tf) in t.iter_mut().enumerate() {
            if only.is_some_and(|o| o != f) { tf.push(1.0); continue; }
            let s = Instant::now();
            for _ in 0..reps {
                match f {
                    0 => y.copy_from_slice(black_box(&x)),
                    1 => k.batch_norm_inference(&floor_bn, Shape::channels_first(1, 1, len), InOut::new(black_box(&x), &mut y)).unwrap(),
                    2 => k.batch_norm_training(&bnt, Shape::channels_first(n, c, hw), InOut::new(black_box(&x), &mut y), None, None).unwrap(),
                    3 => hand(black_box(&x), &mut y, n, c, hw),
                    4 => k.instance_norm(&inn, Shape::channels_first(n, c, hw), InOut::new(black_box(&x), &mut y), None).unwrap(),
                    5 => hand(black_box(&x), &mut y, 1, n * c, hw),
                    7 => ovl.batch_norm_training(&bnt, Shape::channels_first(n, c, hw), InOut::new(black_box(&x), &mut y), None, None).unwrap(),
                    8 => ovl.instance_norm(&inn, Shape::channels_first(n, c, hw), InOut::new(black_box(&x), &mut y), None).unwrap(),
                    9 => if c % 32 == 0 { hand(black_box(&x), &mut y, 1, n * 32, len / (n * 32)) },
                    10 => k.batch_norm_inference(&bni, Shape::channels_first(n, c, hw), InOut::new(black_box(&x), &mut y)).unwrap(),
                    11 => hand_infer(black_box(&x), &mut y, n, c, hw, &inv, &shift),
                    // SAFETY: AVX2 and FMA are the probe's baseline (Zen 3 and later).
                    12 => unsafe { avx2::hand_bni::<true>(black_box(&x), &mut y, n, c, hw, &inv, &shift) },
                    6 => if c % 32 == 0 { k.group_norm(&gn, Shape::channels_first(n, c, hw), InOut::new(black_box(&x), &mut y), None).unwrap() },
                    _ => unreachable!(),
                }
                black_box(&mut y);
            }
            tf.push(s.elapsed().as_secs_f64() / reps as f64);
        }
    }
    let m: Vec<f64> = t.into_iter().map(med).collect();
    print!("{n}x{c}x{hw}:");
    for (name, v) in names.iter().zip(&m) { print!(" {name} {:.1}us {:.2}xf |", v * 1e6, v / m[1]); }
    println!();
}
