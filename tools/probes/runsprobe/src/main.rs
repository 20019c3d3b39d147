//! Probe: channels-first BatchNorm training (each channel over N runs of HW values): normkern
//! against a hand two-pass loop per channel. Interleaved medians.
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
    let names = ["copy", "floor", "normkern_bnt", "hand_bnt", "normkern_in(N*C planes)", "hand_in", "normkern_gn32"];
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
                    3 => unsafe { hand_bnt(black_box(&x), &mut y, n, c, hw) },
                    4 => k.instance_norm(&inn, Shape::channels_first(n, c, hw), InOut::new(black_box(&x), &mut y), None).unwrap(),
                    5 => unsafe { hand_bnt(black_box(&x), &mut y, 1, n * c, hw) },
                    _ => if c % 32 == 0 { k.group_norm(&gn, Shape::channels_first(n, c, hw), InOut::new(black_box(&x), &mut y), None).unwrap() },
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
