//! Where two threads start to pay: the size below which `par_` calls should stay on the
//! calling thread (`normkern::parallel::MIN_PARALLEL_VALUES`). For tensors of 2^12 to 2^23
//! values, one thread against the work cut in two on rayon's pool, the two ways `par_` cuts:
//! - `independent`: LayerNorm rows of 256 values, each half the single-thread call on its
//!   rows (what `par_layer_norm` does above the threshold);
//! - `merged`: BatchNorm training NCHW with two samples of 32 channels, through the
//!   split-phase API as `par_batch_norm_training` does (statistics of each half, merge and
//!   finish on the calling thread, each half normalized): two trips to the pool;
//! - `copy`: a copy cut in two, the memory's share of the limit.
//!
//! Printed: one thread's time over two threads' (above 1, two threads pay), interleaved
//! medians of 21 rounds; from `MIN_PARALLEL_VALUES` on, the crate's own `par_` call too, which
//! stays on one thread below its own threshold (merged statistics and calls from outside the
//! pool need more values) and cuts as the hand forms do above it. `threshold` calls from
//! the main thread, `threshold inside` from one of the pool's threads. Run with both cores
//! idle.
use normkern::split::{self, Part};
use normkern::*;
use std::hint::black_box;
use std::time::Instant;

fn med(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn data(n: usize) -> Vec<f32> {
    (0..n).map(|i| ((i * 7919) % 1000) as f32 * 0.01).collect()
}

/// Median seconds per call of each function, timed in alternation over 21 rounds.
fn timed<const N: usize>(len: usize, fs: &mut [&mut dyn FnMut(); N]) -> [f64; N] {
    // About 2 ms a timing: long enough for the clock, short enough for 21 rounds.
    let reps = (2_000_000 / len).clamp(3, 10_000);
    let mut times: [Vec<f64>; N] = std::array::from_fn(|_| Vec::new());
    for _ in 0..21 {
        for (f, t) in fs.iter_mut().zip(&mut times) {
            let s = Instant::now();
            for _ in 0..reps {
                f();
            }
            t.push(s.elapsed().as_secs_f64() / reps as f64);
        }
    }
    times.map(med)
}

/// One thread's time over the hand cut's, and over the `par_` call's where the tensor
/// reaches `MIN_PARALLEL_VALUES` (below it, `par_` is always the one-thread call).
fn ratios(
    len: usize,
    one: &mut dyn FnMut(),
    two: &mut dyn FnMut(),
    par: &mut dyn FnMut(),
) -> (f64, Option<f64>) {
    if len >= parallel::MIN_PARALLEL_VALUES {
        let [a, b, c] = timed(len, &mut [one, two, par]);
        (a / b, Some(a / c))
    } else {
        let [a, b] = timed(len, &mut [one, two]);
        (a / b, None)
    }
}

fn independent(k: &Kernels, len: usize) -> (f64, Option<f64>) {
    let cols = 256;
    let rows = len / cols;
    let (x, mut y) = (data(len), vec![0f32; len]);
    let (g, b) = (data(cols), data(cols));
    let ln = LayerNorm::new().gamma(&g).beta(&b);
    let half = rows / 2 * cols;
    let mut one = || {
        let s = Shape::rows(rows, cols);
        k.layer_norm(&ln, s, InOut::new(black_box(&x), &mut y), None).unwrap()
    };
    let mut y2 = vec![0f32; len];
    let mut two = || {
        let (xa, xb) = x.split_at(half);
        let (ya, yb) = y2.split_at_mut(half);
        let (sa, sb) = (Shape::rows(rows / 2, cols), Shape::rows(rows - rows / 2, cols));
        rayon::join(
            || k.layer_norm(&ln, sa, InOut::new(black_box(xa), ya), None).unwrap(),
            || k.layer_norm(&ln, sb, InOut::new(black_box(xb), yb), None).unwrap(),
        );
    };
    let mut y3 = vec![0f32; len];
    let mut par = || {
        let s = Shape::rows(rows, cols);
        k.par_layer_norm(&ln, s, InOut::new(black_box(&x), &mut y3), None)
            .unwrap()
    };
    ratios(len, &mut one, &mut two, &mut par)
}

fn merged(k: &Kernels, len: usize) -> (f64, Option<f64>) {
    let (n, c) = (2, 32);
    let shape = Shape::nchw(n, c, len / (n * c), 1);
    let (x, mut y) = (data(len), vec![0f32; len]);
    let bn = BatchNormTraining::new();
    let mut one = || {
        k.batch_norm_training(&bn, shape, InOut::new(black_box(&x), &mut y), None, None)
            .unwrap()
    };
    let mut y2 = vec![0f32; len];
    let parts = [Part::nth(&shape, 0, 2), Part::nth(&shape, 1, 2)];
    let mut two = || {
        let (xa, xb) = x.split_at(parts[1].range(&shape).start);
        let (mut sa, mut sb) = ([Moments::new(); 32], [Moments::new(); 32]);
        rayon::join(
            || k.batch_norm_training_stats(shape, parts[0], black_box(xa), &mut sa).unwrap(),
            || k.batch_norm_training_stats(shape, parts[1], black_box(xb), &mut sb).unwrap(),
        );
        split::merge(&mut sa, &sb).unwrap();
        bn.finish(shape, &sa, None, None).unwrap();
        let (ya, yb) = y2.split_at_mut(xa.len());
        rayon::join(
            || bn_apply(k, &bn, shape, parts[0], &sa, xa, ya),
            || bn_apply(k, &bn, shape, parts[1], &sa, xb, yb),
        );
    };
    let mut y3 = vec![0f32; len];
    let mut par = || {
        k.par_batch_norm_training(&bn, shape, InOut::new(black_box(&x), &mut y3), None, None)
            .unwrap()
    };
    ratios(len, &mut one, &mut two, &mut par)
}

fn bn_apply(
    k: &Kernels,
    bn: &BatchNormTraining<'_>,
    shape: Shape,
    part: Part,
    stats: &[Moments],
    x: &[f32],
    y: &mut [f32],
) {
    k.batch_norm_training_apply(bn, shape, part, stats, InOut::new(black_box(x), y))
        .unwrap()
}

fn copy(len: usize) -> f64 {
    let (x, mut y, mut y2) = (data(len), vec![0f32; len], vec![0f32; len]);
    let mut one = || y.copy_from_slice(black_box(&x));
    let mut two = || {
        let (xa, xb) = x.split_at(len / 2);
        let (ya, yb) = y2.split_at_mut(len / 2);
        rayon::join(
            || ya.copy_from_slice(black_box(xa)),
            || yb.copy_from_slice(black_box(xb)),
        );
    };
    let [a, b] = timed(len, &mut [&mut one, &mut two]);
    a / b
}

fn main() {
    scaling::from_pool_or_main(table);
}

fn table() {
    let k = Kernels::detect();
    let show = |r: Option<f64>| r.map_or("".to_string(), |r| format!("{r:.2}"));
    println!(
        "rayon threads {}; MIN_PARALLEL_VALUES {}; one thread's time over two threads'",
        rayon::current_num_threads(),
        parallel::MIN_PARALLEL_VALUES
    );
    println!("| values | independent, cut by hand | `par_layer_norm` | merged, cut by hand | `par_batch_norm_training` | copy |");
    println!("|---:|---:|---:|---:|---:|---:|");
    for log2 in 12..=23 {
        let len = 1usize << log2;
        let (i, ip) = independent(&k, len);
        let (m, mp) = merged(&k, len);
        let c = copy(len);
        println!(
            "| 2^{log2} | {i:.2} | {} | {m:.2} | {} | {c:.2} |",
            show(ip),
            show(mp)
        );
    }
}
