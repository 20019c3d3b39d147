//! Throughput of every operator against a plain loop and a memory copy.
//!
//! One criterion group per operator and shape, named `<op>/<shape>` (`layer_norm/512x768`,
//! `batch_norm_infer/nhwc_1x112x112x64`, ...). Each group holds:
//!
//! - `normkern`: [`Kernels::detect`], the automatic choice;
//! - `normkern_<isa>`: every other instruction set this CPU has, forced with [`Kernels::new`];
//! - `scalar`: the straightforward loop a user would write, in plain `f32`: for each row,
//!   channel or group, a pass for the mean, a pass for the variance, a pass to normalize
//!   (channels-last layouts accumulate per-channel sums row by row, so every pass is sequential);
//!   a timed baseline, not a reference;
//! - `floor`: one scale and shift over the same bytes, the least work a kernel that reads `x`
//!   once and stores `y` through the cache can do (`common/floor.rs` says why it is slower
//!   than the copy);
//! - `copy`: `copy_from_slice` of the same input into the same output buffer, what the targets
//!   are measured against.
//!
//! Before it is timed, each `normkern*` function's output is checked against the float64
//! reference (the `normkern-reference` crate), and so is the plain loop's, more loosely (it
//! sums in `f32`): every function does the work it is named for.
//!
//! Throughput is input + output bytes. All groups use gamma, beta and eps 1e-5; BatchNorm
//! training also updates running statistics (PyTorch momentum) and fills saved statistics.
//!
//! ```text
//! cargo bench --bench norms                       # everything, a few minutes
//! cargo bench --bench norms -- layer_norm/512x768 # one group (criterion's regex filter)
//! python3 tools/bench_ratios.py target/criterion  # markdown table of medians and ratios
//! ```

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use normkern::{
    BatchNorm, BatchNormTraining, GroupNorm, InOut, InstanceNorm, Isa, Kernels, LayerNorm, Layout,
    Momentum, RmsNorm, RunningStats, SavedStats, Shape,
};
use std::cell::OnceCell;
use std::hint::black_box;
use std::time::Duration;

#[path = "common/floor.rs"]
mod floor;

#[path = "../tests/common/adapt.rs"]
mod adapt;

use normkern_reference as exact;

const EPS: f32 = 1e-5;
const MOMENTUM: f32 = 0.1;
const GROUPS: usize = 32;

// ---------------------------------------------------------------------------------------------
// Data

/// SplitMix64: a tiny deterministic generator, so every run sees the same inputs.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Approximately standard normal: the sum of four uniforms from one draw (Irwin-Hall),
    /// centred and scaled to unit variance. Cheap, so tens of millions of inputs take a blink.
    fn normal(&mut self) -> f32 {
        let bits = self.next_u64();
        let sum: u32 = (0..4).map(|i| ((bits >> (16 * i)) & 0xffff) as u32).sum();
        // Each 16-bit uniform has mean 32767.5 and variance (65536² - 1) / 12.
        const STD: f32 = 37_837.23; // sqrt(4 * (65536² - 1) / 12)
        (sum as f32 - 131_070.0) / STD
    }
}

/// `len` values drawn from N(mean, std²).
fn normal(len: usize, mean: f32, std: f32, seed: u64) -> Vec<f32> {
    let mut rng = Rng(seed);
    (0..len).map(|_| mean + std * rng.normal()).collect()
}

/// An input tensor: normal data with an offset, as activations have. Generated on first use,
/// so a filtered run only pays for the groups it measures.
struct Input {
    len: usize,
    data: OnceCell<Vec<f32>>,
}

impl Input {
    fn new(len: usize) -> Self {
        Input {
            len,
            data: OnceCell::new(),
        }
    }

    fn get(&self) -> &[f32] {
        self.data
            .get_or_init(|| normal(self.len, 3.0, 1.5, self.len as u64))
    }
}

/// Per-channel (or per-element) gamma and beta.
fn affine(len: usize) -> (Vec<f32>, Vec<f32>) {
    (normal(len, 1.0, 0.1, 7), normal(len, 0.0, 0.1, 11))
}

// ---------------------------------------------------------------------------------------------
// Harness

/// The automatic choice first, then every other set this CPU has, slowest first.
fn kernel_paths() -> Vec<(String, Kernels)> {
    let auto = Kernels::detect();
    let mut paths = vec![("normkern".to_string(), auto)];
    for isa in Isa::available().filter(|&isa| isa != auto.isa()) {
        let k = Kernels::new(isa).expect("listed as available");
        paths.push((format!("normkern_{}", isa.name()), k));
    }
    paths
}

/// A group whose throughput is `len` values read plus `len` values written.
fn group<'a>(c: &'a mut Criterion, name: &str, len: usize) -> BenchmarkGroup<'a, WallTime> {
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Bytes((2 * len * size_of::<f32>()) as u64));
    g
}

/// The float64 reference's output and the magnitude of each value (`Expected::y`, `mag`).
type Reference = (Vec<f64>, Vec<f64>);

fn y_mag(want: exact::Expected) -> Reference {
    (want.y, want.mag)
}

/// Largest error allowed against the float64 reference, in units of `1 + mag`: normkern's
/// kernels are within a few e-6 (the test suite's bound); the plain loop sums in `f32`, so long
/// groups drift by ~1e-4. A wrong index or parameter shows up as ~0.1.
const KERNEL_TOLERANCE: f64 = 1e-5;
const PLAIN_TOLERANCE: f64 = 1e-2;

/// Panics unless every value of `got` is within `tol · (1 + mag)` of the reference.
fn check(what: &str, got: &[f32], (want, mag): &Reference, tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: output length");
    let (at, worst) = got
        .iter()
        .zip(want.iter().zip(mag))
        .map(|(&g, (&w, &m))| (f64::from(g) - w).abs() / (1.0 + m))
        .enumerate()
        .fold((0, 0.0f64), |a, (i, e)| if e > a.1 { (i, e) } else { a });
    assert!(
        worst <= tol,
        "{what} differs from the float64 reference by {worst:e} (1 + mag) at [{at}]: {} vs {}",
        got[at],
        want[at]
    );
}

/// Benchmarks one group: `run(kernels, x, y)` under each kernel path's name, `plain(x, y)`
/// under `scalar`, each first checked against `reference(x)` (computed once, on first use),
/// then `floor` and `copy`.
fn bench_all(
    mut g: BenchmarkGroup<'_, WallTime>,
    x: &Input,
    y: &mut [f32],
    mut run: impl FnMut(&Kernels, &[f32], &mut [f32]),
    mut plain: impl FnMut(&[f32], &mut [f32]),
    reference: impl Fn(&[f32]) -> Reference,
) {
    let want = OnceCell::new();
    let want = || want.get_or_init(|| reference(x.get()));
    for (name, k) in kernel_paths() {
        g.bench_function(&name, |b| {
            let x = x.get();
            run(&k, x, &mut *y);
            check(&name, &*y, want(), KERNEL_TOLERANCE);
            b.iter(|| {
                run(&k, black_box(x), &mut *y);
                black_box(&mut *y);
            })
        });
    }
    g.bench_function("scalar", |b| {
        let x = x.get();
        plain(x, y);
        check("plain loop", &*y, want(), PLAIN_TOLERANCE);
        b.iter(|| {
            plain(black_box(x), &mut *y);
            black_box(&mut *y);
        })
    });
    // The least work a kernel that stores through the cache can do on these bytes.
    g.bench_function("floor", |b| {
        let x = x.get();
        let k = Kernels::detect();
        b.iter(|| {
            floor::floor(&k, black_box(x), &mut *y);
            black_box(&mut *y);
        })
    });
    // The same input into the same output buffer.
    g.bench_function("copy", |b| {
        let x = x.get();
        b.iter(|| {
            y.copy_from_slice(black_box(x));
            black_box(&mut *y);
        })
    });
    g.finish();
}

// ---------------------------------------------------------------------------------------------
// The plain loops a user would write: f32 math, mean pass, variance pass, normalize pass.

/// LayerNorm over rows of `cols`, per-element gamma and beta.
fn plain_layer_norm(x: &[f32], y: &mut [f32], cols: usize, gamma: &[f32], beta: &[f32]) {
    for (xr, yr) in x.chunks_exact(cols).zip(y.chunks_exact_mut(cols)) {
        let mut sum = 0.0f32;
        for &v in xr {
            sum += v;
        }
        let mean = sum / cols as f32;
        let mut sq = 0.0f32;
        for &v in xr {
            sq += (v - mean) * (v - mean);
        }
        let inv = 1.0 / (sq / cols as f32 + EPS).sqrt();
        for i in 0..cols {
            yr[i] = (xr[i] - mean) * inv * gamma[i] + beta[i];
        }
    }
}

/// RMSNorm over rows of `cols`, per-element gamma.
fn plain_rms_norm(x: &[f32], y: &mut [f32], cols: usize, gamma: &[f32]) {
    for (xr, yr) in x.chunks_exact(cols).zip(y.chunks_exact_mut(cols)) {
        let mut sq = 0.0f32;
        for &v in xr {
            sq += v * v;
        }
        let inv = 1.0 / (sq / cols as f32 + EPS).sqrt();
        for i in 0..cols {
            yr[i] = xr[i] * inv * gamma[i];
        }
    }
}

/// Per-channel parameters of a BatchNorm (running statistics and affine).
struct BnParams {
    mean: Vec<f32>,
    var: Vec<f32>,
    gamma: Vec<f32>,
    beta: Vec<f32>,
}

/// BatchNorm inference with running statistics, either layout.
fn plain_batch_norm_infer(x: &[f32], y: &mut [f32], shape: Shape, p: &BnParams) {
    let (c, spatial) = (shape.c(), shape.spatial());
    let inv: Vec<f32> = p.var.iter().map(|v| 1.0 / (v + EPS).sqrt()).collect();
    if shape.layout() == Layout::ChannelsFirst {
        for (i, (xp, yp)) in x
            .chunks_exact(spatial)
            .zip(y.chunks_exact_mut(spatial))
            .enumerate()
        {
            let ch = i % c;
            for (o, &v) in yp.iter_mut().zip(xp) {
                *o = (v - p.mean[ch]) * inv[ch] * p.gamma[ch] + p.beta[ch];
            }
        }
    } else {
        for (xr, yr) in x.chunks_exact(c).zip(y.chunks_exact_mut(c)) {
            for ch in 0..c {
                yr[ch] = (xr[ch] - p.mean[ch]) * inv[ch] * p.gamma[ch] + p.beta[ch];
            }
        }
    }
}

/// Normalizes each contiguous block of `group_size` planes of `spatial` values (InstanceNorm
/// with `group_size = 1`, GroupNorm otherwise); gamma and beta per channel. Records each
/// group's mean and inverse std.
fn plain_channels_first_groups(
    x: &[f32],
    y: &mut [f32],
    (c, spatial, group_size): (usize, usize, usize),
    (gamma, beta): (&[f32], &[f32]),
    saved: &mut SavedVecs,
) {
    let block = group_size * spatial;
    for (i, (xg, yg)) in x
        .chunks_exact(block)
        .zip(y.chunks_exact_mut(block))
        .enumerate()
    {
        let mut sum = 0.0f32;
        for &v in xg {
            sum += v;
        }
        let mean = sum / block as f32;
        let mut sq = 0.0f32;
        for &v in xg {
            sq += (v - mean) * (v - mean);
        }
        let inv = 1.0 / (sq / block as f32 + EPS).sqrt();
        saved.mean[i] = mean;
        saved.inv_std[i] = inv;
        let first = (i * group_size) % c;
        for (j, (xp, yp)) in xg
            .chunks_exact(spatial)
            .zip(yg.chunks_exact_mut(spatial))
            .enumerate()
        {
            let (g, b) = (gamma[first + j], beta[first + j]);
            for (o, &v) in yp.iter_mut().zip(xp) {
                *o = (v - mean) * inv * g + b;
            }
        }
    }
}

/// BatchNorm training, channels-first: each channel's `n` planes. Returns the batch mean and
/// biased variance per channel in `stats`.
fn plain_batch_norm_train_nchw(
    x: &[f32],
    y: &mut [f32],
    shape: Shape,
    (gamma, beta): (&[f32], &[f32]),
    stats: &mut SavedVecs,
) {
    let (n, c, spatial) = (shape.n(), shape.c(), shape.spatial());
    let count = (n * spatial) as f32;
    for ch in 0..c {
        let plane = |s: usize| (s * c + ch) * spatial..(s * c + ch + 1) * spatial;
        let mut sum = 0.0f32;
        for s in 0..n {
            for &v in &x[plane(s)] {
                sum += v;
            }
        }
        let mean = sum / count;
        let mut sq = 0.0f32;
        for s in 0..n {
            for &v in &x[plane(s)] {
                sq += (v - mean) * (v - mean);
            }
        }
        let var = sq / count;
        let inv = 1.0 / (var + EPS).sqrt();
        for s in 0..n {
            for (o, &v) in y[plane(s)].iter_mut().zip(&x[plane(s)]) {
                *o = (v - mean) * inv * gamma[ch] + beta[ch];
            }
        }
        stats.mean[ch] = mean;
        stats.inv_std[ch] = var;
    }
}

/// Channels-last, `rows` positions of `c` channels: each group of `group_size` adjacent
/// channels over all rows (BatchNorm training with `group_size = 1`, one sample of GroupNorm
/// otherwise). Sums go row by row into per-channel accumulators so every pass is sequential.
/// Returns each group's mean and biased variance in `stats`.
fn plain_channels_last_groups(
    x: &[f32],
    y: &mut [f32],
    (c, group_size): (usize, usize),
    (gamma, beta): (&[f32], &[f32]),
    acc: &mut [f32],
    stats: (&mut [f32], &mut [f32]),
) {
    let (group_mean, group_var) = stats;
    let rows = x.len() / c;
    let count = (rows * group_size) as f32;
    acc.fill(0.0);
    for xr in x.chunks_exact(c) {
        for ch in 0..c {
            acc[ch] += xr[ch];
        }
    }
    for (g, m) in group_mean.iter_mut().enumerate() {
        *m = acc[g * group_size..(g + 1) * group_size]
            .iter()
            .sum::<f32>()
            / count;
    }
    acc.fill(0.0);
    for xr in x.chunks_exact(c) {
        for ch in 0..c {
            let d = xr[ch] - group_mean[ch / group_size];
            acc[ch] += d * d;
        }
    }
    for (g, v) in group_var.iter_mut().enumerate() {
        *v = acc[g * group_size..(g + 1) * group_size]
            .iter()
            .sum::<f32>()
            / count;
    }
    // Per channel: y = x * scale + shift.
    let (scale, shift) = acc.split_at_mut(c);
    for ch in 0..c {
        let g = ch / group_size;
        scale[ch] = gamma[ch] / (group_var[g] + EPS).sqrt();
        shift[ch] = beta[ch] - group_mean[g] * scale[ch];
    }
    for (xr, yr) in x.chunks_exact(c).zip(y.chunks_exact_mut(c)) {
        for ch in 0..c {
            yr[ch] = xr[ch] * scale[ch] + shift[ch];
        }
    }
}

/// Saved or batch statistics, allocated once per group.
struct SavedVecs {
    mean: Vec<f32>,
    inv_std: Vec<f32>,
}

impl SavedVecs {
    fn new(len: usize) -> Self {
        SavedVecs {
            mean: vec![0.0; len],
            inv_std: vec![0.0; len],
        }
    }

    fn view(&mut self) -> SavedStats<'_> {
        SavedStats::new(&mut self.mean, &mut self.inv_std)
    }
}

/// PyTorch's running-statistics update from a batch mean and biased variance.
fn plain_running_update(running: &mut SavedVecs, mean: &[f32], var: &[f32], count: usize) {
    let unbias = count as f32 / (count - 1) as f32;
    for ch in 0..mean.len() {
        running.mean[ch] = (1.0 - MOMENTUM) * running.mean[ch] + MOMENTUM * mean[ch];
        running.inv_std[ch] = (1.0 - MOMENTUM) * running.inv_std[ch] + MOMENTUM * var[ch] * unbias;
    }
}

// ---------------------------------------------------------------------------------------------
// Groups

fn layer_norm(c: &mut Criterion) {
    for (rows, cols) in [(512, 768), (128, 4096), (4096, 64), (8192, 2048)] {
        let x = Input::new(rows * cols);
        let mut y = vec![0.0f32; x.len];
        let (gamma, beta) = affine(cols);
        let p = LayerNorm::new().gamma(&gamma).beta(&beta).eps(EPS);
        let shape = Shape::rows(rows, cols);
        let g = group(c, &format!("layer_norm/{rows}x{cols}"), x.len);
        bench_all(
            g,
            &x,
            &mut y,
            |k, x, y| k.layer_norm(&p, shape, InOut::new(x, y), None).unwrap(),
            |x, y| plain_layer_norm(x, y, cols, &gamma, &beta),
            |x| y_mag(exact::layer_norm(x, cols, EPS, Some(&gamma), Some(&beta))),
        );
    }
}

fn rms_norm(c: &mut Criterion) {
    let (rows, cols) = (128, 4096);
    let x = Input::new(rows * cols);
    let mut y = vec![0.0f32; x.len];
    let (gamma, _) = affine(cols);
    let p = RmsNorm::new().gamma(&gamma).eps(EPS);
    let shape = Shape::rows(rows, cols);
    let g = group(c, &format!("rms_norm/{rows}x{cols}"), x.len);
    bench_all(
        g,
        &x,
        &mut y,
        |k, x, y| k.rms_norm(&p, shape, InOut::new(x, y), None).unwrap(),
        |x, y| plain_rms_norm(x, y, cols, &gamma),
        |x| y_mag(exact::rms_norm(x, cols, EPS, Some(&gamma))),
    );
}

/// `nchw_1x64x112x112`-style name of a 4-d shape.
fn name4(layout: &str, dims: [usize; 4]) -> String {
    let [a, b, c, d] = dims;
    format!("{layout}_{a}x{b}x{c}x{d}")
}

fn batch_norm_infer(c: &mut Criterion) {
    let cases = [
        (
            name4("nchw", [1, 64, 112, 112]),
            Shape::nchw(1, 64, 112, 112),
        ),
        (name4("nchw", [8, 256, 14, 14]), Shape::nchw(8, 256, 14, 14)),
        (
            name4("nhwc", [1, 112, 112, 64]),
            Shape::nhwc(1, 112, 112, 64),
        ),
    ];
    for (name, shape) in cases {
        let x = Input::new(shape.len().unwrap());
        let mut y = vec![0.0f32; x.len];
        let (gamma, beta) = affine(shape.c());
        let params = BnParams {
            mean: normal(shape.c(), 3.0, 0.2, 3),
            var: normal(shape.c(), 0.0, 1.0, 5)
                .iter()
                .map(|v| 2.25 + v.abs())
                .collect(),
            gamma,
            beta,
        };
        let bn = BatchNorm::new(&params.mean, &params.var)
            .gamma(&params.gamma)
            .beta(&params.beta)
            .eps(EPS);
        let g = group(c, &format!("batch_norm_infer/{name}"), x.len);
        bench_all(
            g,
            &x,
            &mut y,
            |k, x, y| {
                k.batch_norm_inference(&bn, shape, InOut::new(x, y))
                    .unwrap()
            },
            |x, y| plain_batch_norm_infer(x, y, shape, &params),
            |x| {
                let (mean, var) = (&params.mean, &params.var);
                let (gamma, beta) = (Some(&params.gamma[..]), Some(&params.beta[..]));
                let dims = adapt::dims(&shape);
                exact::batch_norm_inference(x, &dims, mean, var, gamma, beta, EPS)
            },
        );
    }
}

fn batch_norm_train(c: &mut Criterion) {
    let cases = [
        (name4("nchw", [8, 256, 14, 14]), Shape::nchw(8, 256, 14, 14)),
        (name4("nchw", [32, 64, 56, 56]), Shape::nchw(32, 64, 56, 56)),
        ("ntc_32x128x768".to_string(), Shape::ntc(32, 128, 768)),
    ];
    for (name, shape) in cases {
        let channels = shape.c();
        let per_channel = shape.n() * shape.spatial();
        let x = Input::new(shape.len().unwrap());
        let mut y = vec![0.0f32; x.len];
        let (gamma, beta) = affine(channels);
        let p = BatchNormTraining::new().gamma(&gamma).beta(&beta).eps(EPS);
        // Running mean and variance (the variance kept in `inv_std`'s slot), and saved stats.
        // Separate buffers for normkern and the plain loop, which run side by side.
        let mut running = SavedVecs::new(channels);
        running.inv_std.fill(1.0);
        let mut plain_running = SavedVecs::new(channels);
        plain_running.inv_std.fill(1.0);
        let mut saved = SavedVecs::new(channels);
        let mut plain_saved = SavedVecs::new(channels);
        let mut acc = vec![0.0f32; 2 * channels];

        let g = group(c, &format!("batch_norm_train/{name}"), x.len);
        bench_all(
            g,
            &x,
            &mut y,
            |k, x, y| {
                let stats = RunningStats::new(
                    &mut running.mean,
                    &mut running.inv_std,
                    Momentum::PyTorch(MOMENTUM),
                );
                let io = InOut::new(x, y);
                k.batch_norm_training(&p, shape, io, Some(stats), Some(saved.view()))
                    .unwrap()
            },
            |x, y| {
                if shape.layout() == Layout::ChannelsFirst {
                    plain_batch_norm_train_nchw(x, y, shape, (&gamma, &beta), &mut plain_saved);
                } else {
                    plain_channels_last_groups(
                        x,
                        y,
                        (channels, 1),
                        (&gamma, &beta),
                        &mut acc,
                        (&mut plain_saved.mean, &mut plain_saved.inv_std),
                    );
                }
                // `plain_saved` holds mean and biased variance: update, then report inverse std.
                let (mean, var) = (&plain_saved.mean, &plain_saved.inv_std);
                plain_running_update(&mut plain_running, mean, var, per_channel);
                for v in &mut plain_saved.inv_std {
                    *v = 1.0 / (*v + EPS).sqrt();
                }
            },
            |x| {
                let dims = adapt::dims(&shape);
                y_mag(exact::batch_norm_training(
                    x,
                    &dims,
                    EPS,
                    Some(&gamma),
                    Some(&beta),
                ))
            },
        );
    }
}

fn instance_norm(c: &mut Criterion) {
    let shape = Shape::nchw(1, 64, 128, 128);
    let x = Input::new(shape.len().unwrap());
    let mut y = vec![0.0f32; x.len];
    let (gamma, beta) = affine(shape.c());
    let p = InstanceNorm::new().gamma(&gamma).beta(&beta).eps(EPS);
    let mut saved = SavedVecs::new(shape.n() * shape.c());
    let mut plain_saved = SavedVecs::new(shape.n() * shape.c());
    let name = name4("nchw", [1, 64, 128, 128]);
    let g = group(c, &format!("instance_norm/{name}"), x.len);
    bench_all(
        g,
        &x,
        &mut y,
        |k, x, y| {
            k.instance_norm(&p, shape, InOut::new(x, y), Some(saved.view()))
                .unwrap()
        },
        |x, y| {
            plain_channels_first_groups(
                x,
                y,
                (shape.c(), shape.spatial(), 1),
                (&gamma, &beta),
                &mut plain_saved,
            )
        },
        |x| {
            let dims = adapt::dims(&shape);
            let (gamma, beta) = (Some(&gamma[..]), Some(&beta[..]));
            y_mag(exact::group_norm(x, &dims, shape.c(), EPS, gamma, beta))
        },
    );
}

fn group_norm(c: &mut Criterion) {
    let cases = [
        (name4("nchw", [1, 320, 64, 64]), Shape::nchw(1, 320, 64, 64)),
        (name4("nhwc", [1, 64, 64, 320]), Shape::nhwc(1, 64, 64, 320)),
    ];
    for (name, shape) in cases {
        let x = Input::new(shape.len().unwrap());
        let mut y = vec![0.0f32; x.len];
        let (gamma, beta) = affine(shape.c());
        let p = GroupNorm::new(GROUPS).gamma(&gamma).beta(&beta).eps(EPS);
        let (channels, spatial) = (shape.c(), shape.spatial());
        let group_size = channels / GROUPS;
        let mut saved = SavedVecs::new(shape.n() * GROUPS);
        let mut plain_saved = SavedVecs::new(shape.n() * GROUPS);
        let mut acc = vec![0.0f32; 2 * channels];
        let sample = channels * spatial;

        let g = group(c, &format!("group_norm/{name}"), x.len);
        bench_all(
            g,
            &x,
            &mut y,
            |k, x, y| {
                k.group_norm(&p, shape, InOut::new(x, y), Some(saved.view()))
                    .unwrap()
            },
            |x, y| {
                if shape.layout() == Layout::ChannelsFirst {
                    plain_channels_first_groups(
                        x,
                        y,
                        (channels, spatial, group_size),
                        (&gamma, &beta),
                        &mut plain_saved,
                    );
                } else {
                    for (s, (xs, ys)) in x
                        .chunks_exact(sample)
                        .zip(y.chunks_exact_mut(sample))
                        .enumerate()
                    {
                        let at = s * GROUPS..(s + 1) * GROUPS;
                        plain_channels_last_groups(
                            xs,
                            ys,
                            (channels, group_size),
                            (&gamma, &beta),
                            &mut acc,
                            (
                                &mut plain_saved.mean[at.clone()],
                                &mut plain_saved.inv_std[at.clone()],
                            ),
                        );
                        for v in &mut plain_saved.inv_std[at] {
                            *v = 1.0 / (*v + EPS).sqrt();
                        }
                    }
                }
            },
            |x| {
                let dims = adapt::dims(&shape);
                let (gamma, beta) = (Some(&gamma[..]), Some(&beta[..]));
                y_mag(exact::group_norm(x, &dims, GROUPS, EPS, gamma, beta))
            },
        );
    }
}

/// Modest times: the whole run takes a few minutes on a small, noisy machine. Command-line
/// options (`--measurement-time`, `--sample-size`, a filter, ...) still override these.
fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_millis(1500))
        .sample_size(20)
}

criterion_group! {
    name = benches;
    config = config();
    targets = layer_norm, rms_norm, batch_norm_infer, batch_norm_train, instance_norm, group_norm
}
criterion_main!(benches);
