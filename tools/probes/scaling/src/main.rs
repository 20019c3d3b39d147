//! Two threads against one on the benchmark shapes: each operator's `par_` call against the
//! single-thread call, and a copy split over two threads against one (the memory's limit).
//! Interleaved medians of 21 rounds. `scaling` calls from the main thread, `scaling inside`
//! from one of the pool's threads. Run with both cores idle.
use normkern::*;
use std::hint::black_box;
use std::time::Instant;

fn med(mut v: Vec<f64>) -> f64 { v.sort_by(|a, b| a.partial_cmp(b).unwrap()); v[v.len() / 2] }

fn data(n: usize) -> Vec<f32> { (0..n).map(|i| ((i * 7919) % 1000) as f32 * 0.01).collect() }

fn bench(name: &str, len: usize, mut one: impl FnMut(&[f32], &mut [f32]), mut par: impl FnMut(&[f32], &mut [f32])) {
    let x = data(len);
    let mut y = vec![0f32; len];
    let reps = (40_000_000 / len).max(3);
    let (mut t1, mut t2, mut c1, mut c2) = (vec![], vec![], vec![], vec![]);
    for _ in 0..21 {
        let s = Instant::now(); for _ in 0..reps { one(black_box(&x), &mut y); } t1.push(s.elapsed().as_secs_f64());
        let s = Instant::now(); for _ in 0..reps { par(black_box(&x), &mut y); } t2.push(s.elapsed().as_secs_f64());
        let s = Instant::now(); for _ in 0..reps { y.copy_from_slice(black_box(&x)); } c1.push(s.elapsed().as_secs_f64());
        let s = Instant::now();
        for _ in 0..reps {
            let (xa, xb) = x.split_at(len / 2);
            let (ya, yb) = y.split_at_mut(len / 2);
            rayon::join(|| ya.copy_from_slice(black_box(xa)), || yb.copy_from_slice(black_box(xb)));
        }
        c2.push(s.elapsed().as_secs_f64());
    }
    let (a, b, c, d) = (med(t1), med(t2), med(c1), med(c2));
    println!("| `{name}` | {:.2} | {:.2} | {:.2} |", a / b, c / d, a / reps as f64 * 1e6);
}

fn main() {
    scaling::from_pool_or_main(table);
}

fn table() {
    let k = Kernels::detect();
    println!("rayon threads {}; columns: par_ speed-up over one thread, 2-thread copy speed-up, one-thread µs", rayon::current_num_threads());
    println!("| group | normkern 2 threads / 1 | copy 2 threads / 1 | 1 thread µs |\n|---|---:|---:|---:|");
    for (r, c) in [(512usize, 768usize), (128, 4096), (4096, 64), (8192, 2048)] {
        let (g, b) = (data(c), data(c));
        let ln = LayerNorm::new().gamma(&g).beta(&b);
        let s = Shape::rows(r, c);
        bench(&format!("layer_norm/{r}x{c}"), r * c,
            |x, y| k.layer_norm(&ln, s, InOut::new(x, y), None).unwrap(),
            |x, y| k.par_layer_norm(&ln, s, InOut::new(x, y), None).unwrap());
    }
    {
        let g = data(4096);
        let rms = RmsNorm::new().gamma(&g);
        let s = Shape::rows(128, 4096);
        bench("rms_norm/128x4096", 128 * 4096,
            |x, y| k.rms_norm(&rms, s, InOut::new(x, y), None).unwrap(),
            |x, y| k.par_rms_norm(&rms, s, InOut::new(x, y), None).unwrap());
    }
    for (name, s, c) in [("batch_norm_infer/nchw_1x64x112x112", Shape::nchw(1, 64, 112, 112), 64), ("batch_norm_infer/nchw_8x256x14x14", Shape::nchw(8, 256, 14, 14), 256), ("batch_norm_infer/nhwc_1x112x112x64", Shape::nhwc(1, 112, 112, 64), 64)] {
        let (m, v) = (data(c), vec![1.5f32; c]);
        let bn = BatchNorm::new(&m, &v);
        let len = s.n() * s.c() * s.spatial();
        bench(name, len, |x, y| k.batch_norm_inference(&bn, s, InOut::new(x, y)).unwrap(),
            |x, y| k.par_batch_norm_inference(&bn, s, InOut::new(x, y)).unwrap());
    }
    for (name, s) in [("batch_norm_train/nchw_8x256x14x14", Shape::nchw(8, 256, 14, 14)), ("batch_norm_train/nchw_32x64x56x56", Shape::nchw(32, 64, 56, 56)), ("batch_norm_train/ntc_32x128x768", Shape::ntc(32, 128, 768))] {
        let bn = BatchNormTraining::new();
        let len = s.n() * s.c() * s.spatial();
        bench(name, len, |x, y| k.batch_norm_training(&bn, s, InOut::new(x, y), None, None).unwrap(),
            |x, y| k.par_batch_norm_training(&bn, s, InOut::new(x, y), None, None).unwrap());
    }
    for (name, s) in [("group_norm/nchw_1x320x64x64", Shape::nchw(1, 320, 64, 64)), ("group_norm/nhwc_1x64x64x320", Shape::nhwc(1, 64, 64, 320))] {
        let gn = GroupNorm::new(32);
        bench(name, 320 * 64 * 64, |x, y| k.group_norm(&gn, s, InOut::new(x, y), None).unwrap(),
            |x, y| k.par_group_norm(&gn, s, InOut::new(x, y), None).unwrap());
    }
    // What a kernel that reads its values twice from beyond L2 (statistics, then normalize)
    // gains from two threads: one-pass moments, then one scale and shift, over the whole
    // tensor or each half (the merged cuts' sizes); `synced`, both halves' moments before
    // either half's scale and shift, as merged statistics must.
    let (m, v) = ([0.5f32], [2.0f32]);
    let floor = BatchNorm::new(&m, &v);
    let stats = |x: &[f32]| black_box(k.moments(x));
    let scale = |x: &[f32], y: &mut [f32]| {
        k.batch_norm_inference(&floor, Shape::ncl(1, 1, x.len()), InOut::new(x, y)).unwrap()
    };
    let two_pass = |x: &[f32], y: &mut [f32]| {
        stats(x);
        scale(x, y);
    };
    for (name, len) in [("32x128x768", 32 * 128 * 768), ("1x64x64x320", 64 * 64 * 320)] {
        bench(&format!("two_pass_floor/{name}"), len, two_pass, |x, y| {
            let (xa, xb) = x.split_at(len / 2);
            let (ya, yb) = y.split_at_mut(len / 2);
            rayon::join(|| two_pass(xa, ya), || two_pass(xb, yb));
        });
        bench(&format!("two_pass_floor_synced/{name}"), len, two_pass, |x, y| {
            let (xa, xb) = x.split_at(len / 2);
            let (ya, yb) = y.split_at_mut(len / 2);
            rayon::join(|| stats(xa), || stats(xb));
            rayon::join(|| scale(xa, ya), || scale(xb, yb));
        });
    }
    let s = Shape::nchw(1, 64, 128, 128);
    let inn = InstanceNorm::new();
    bench("instance_norm/nchw_1x64x128x128", 64 * 128 * 128, |x, y| k.instance_norm(&inn, s, InOut::new(x, y), None).unwrap(),
        |x, y| k.par_instance_norm(&inn, s, InOut::new(x, y), None).unwrap());
}
