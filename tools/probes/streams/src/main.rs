//! Calls whose output is 16 MiB, so stored non-temporally (`InOut::streams`), against the
//! floor (one scale and shift over the same values): nanoseconds per value and the ratio,
//! interleaved medians of 11 rounds. Short rows stream as one `map` per row, where a fence per
//! streamed run once cost 4-11x the floor. Run pinned: `taskset -c 1 target/release/streams`.
use normkern::*;
use std::hint::black_box;
use std::time::Instant;
fn med(mut v: Vec<f64>) -> f64 { v.sort_by(|a, b| a.partial_cmp(b).unwrap()); v[v.len() / 2] }
fn main() {
    let k = Kernels::detect();
    let len = 1usize << 22;
    let x: Vec<f32> = (0..len).map(|i| ((i * 7919) % 1000) as f32 * 0.01).collect();
    let mut y = vec![0f32; len];
    let g: Vec<f32> = (0..4096).map(|i| 1.0 + (i % 7) as f32 * 0.1).collect();
    let reps = 5;
    let ln = LayerNorm::new().gamma(&g[..]).beta(&g[..]);
    let bn320 = BatchNorm::new(&g[..320], &g[..320]);
    let bn1 = BatchNorm::new(&g[..1], &g[..1]);
    let mut cases: Vec<(String, Box<dyn FnMut(&[f32], &mut [f32])>)> = vec![];
    cases.push(("floor".into(), Box::new(|x, y| k.batch_norm_inference(&bn1, Shape::channels_first(1, 1, len), InOut::new(x, y)).unwrap())));
    for cols in [64usize, 256, 768, 2048] {
        let ln = LayerNorm::new().gamma(&g[..cols]).beta(&g[..cols]);
        cases.push((format!("layer_norm rows of {cols}"), Box::new(move |x, y| { let n = len / cols * cols; k.layer_norm(&ln, Shape::rows(len / cols, cols), InOut::new(&x[..n], &mut y[..n]), None).unwrap() })));
    }
    let _ = ln;
    let rms = RmsNorm::new().gamma(&g[..256]);
    cases.push(("rms_norm rows of 256".into(), Box::new(move |x, y| k.rms_norm(&rms, Shape::rows(len / 256, 256), InOut::new(x, y), None).unwrap())));
    let s = Shape::nhwc(1, len / 320 / 64, 64, 320);
    let n = s.len().unwrap();
    cases.push(("batch_norm_inference nhwc C=320".into(), Box::new(move |x, y| k.batch_norm_inference(&bn320, s, InOut::new(&x[..n], &mut y[..n])).unwrap())));
    let gn = GroupNorm::new(32);
    cases.push(("group_norm nhwc C=320".into(), Box::new(move |x, y| k.group_norm(&gn, s, InOut::new(&x[..n], &mut y[..n]), None).unwrap())));
    let bt = BatchNormTraining::new();
    cases.push(("batch_norm_training ntc C=768".into(), Box::new(move |x, y| k.batch_norm_training(&bt, Shape::ntc(len / 768 / 64, 64, 768), InOut::new(&x[..len / 768 / 64 * 64 * 768], &mut y[..len / 768 / 64 * 64 * 768]), None, None).unwrap())));
    let mut times: Vec<Vec<f64>> = vec![vec![]; cases.len()];
    for _ in 0..11 {
        for ((_, f), t) in cases.iter_mut().zip(&mut times) {
            let s = Instant::now();
            for _ in 0..reps { f(black_box(&x), &mut y); }
            t.push(s.elapsed().as_secs_f64() / (reps * len) as f64 * 1e9);
        }
    }
    let floor = med(times[0].clone());
    for ((name, _), t) in cases.iter().zip(times) {
        let m = med(t);
        println!("{name:34} {m:.3} ns/value, {:.2} x floor", m / floor);
    }
}
