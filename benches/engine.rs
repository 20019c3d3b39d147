//! What engines run around a normalization: 16-bit activations, the residual add and the
//! activation fused into the norm, each against the passes it replaces.
//!
//! One criterion group per case, each with:
//! - `normkern`: the fused call on the 16-bit data ([`Kernels::detect`]);
//! - `f32`: the same fused call on f32 data of the same shape (the 16-bit call moves half the
//!   bytes: the target is at most 0.55 of this);
//! - `unfused`: normkern's own separate passes over the 16-bit data (the add or the
//!   conversion, then the norm, then the activation), what an engine without the fused
//!   kernels runs (the target: the fused call at most 0.6 of this);
//! - `copy`: `copy_from_slice` of the same input bytes into the same output buffers.
//!
//! Before it is timed, each function's output is checked: the fused against the unfused
//! within one ulp of the element type (two where the unfused sequence rounds twice).
//!
//! ```text
//! cargo bench --bench engine
//! python3 tools/bench_ratios.py target/criterion --filter bf16   # or f16
//! ```

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use normkern::{
    BatchNorm, Element, GroupNorm, InOut, Kernels, LayerNorm, Residual, RmsNorm, Shape, Silu, bf16,
    f16,
};
use normkern_reference::signal;
use std::hint::black_box;
use std::time::Duration;

/// Widening, rounding and the spacing of the 16-bit types, for the cases below.
trait Half: Element + PartialEq + core::fmt::Debug {
    fn from(v: f32) -> Self;
    fn wide(self) -> f32;
    /// The distance from `|self|` to the next larger value of the type.
    fn ulp(self) -> f32;
}
impl Half for f16 {
    fn from(v: f32) -> Self {
        f16::from_f32(v)
    }
    fn wide(self) -> f32 {
        self.to_f32()
    }
    fn ulp(self) -> f32 {
        let magnitude = self.to_bits() & 0x7fff;
        f16::from_bits(magnitude + 1).to_f32() - f16::from_bits(magnitude).to_f32()
    }
}
impl Half for bf16 {
    fn from(v: f32) -> Self {
        bf16::from_f32(v)
    }
    fn wide(self) -> f32 {
        self.to_f32()
    }
    fn ulp(self) -> f32 {
        let magnitude = self.to_bits() & 0x7fff;
        bf16::from_bits(magnitude + 1).to_f32() - bf16::from_bits(magnitude).to_f32()
    }
}

fn narrow<T: Half>(x: &[f32]) -> Vec<T> {
    x.iter().map(|&v| T::from(v)).collect()
}

/// Panics unless `a` and `b` differ by at most `ulps` units in the last place of `T`.
fn within_ulps<T: Half>(what: &str, a: &[T], b: &[T], ulps: f32) {
    for (i, (&p, &q)) in a.iter().zip(b).enumerate() {
        assert!(
            (p.wide() - q.wide()).abs() <= ulps * q.ulp().max(p.ulp()),
            "{what}: [{i}] {p:?} against {q:?}"
        );
    }
}

/// Activations through normkern's own elementwise pass: BatchNorm of one channel with mean 0,
/// variance 1 and eps 0 is `y = x`, then the activation.
fn silu_pass<T: Half>(k: &Kernels, y: &mut [T]) {
    let (mean, var) = ([0.0f32], [1.0f32]);
    let identity = BatchNorm::new(&mean, &var).eps(0.0).then(Silu);
    let shape = Shape::ncl(1, 1, y.len());
    k.batch_norm_inference(&identity, shape, InOut::in_place(y))
        .unwrap();
}

/// `residual += x; x = rms_norm(residual)` on `[128, 4096]` (vLLM's fused_add_rms_norm).
fn add_rms_norm(c: &mut Criterion) {
    let k = Kernels::detect();
    let (rows, cols) = (128, 4096);
    let shape = Shape::rows(rows, cols);
    let (x32, r32) = (
        signal(rows * cols, 1.0, 0.0, 1),
        signal(rows * cols, 4.0, 0.5, 2),
    );
    let gamma = signal(cols, 0.1, 1.0, 3);
    let rms = RmsNorm::new().eps(1e-6).gamma(&gamma);
    let (x0, r0): (Vec<bf16>, Vec<bf16>) = (narrow(&x32), narrow(&r32));
    let mut g = c.benchmark_group("add_rms_norm/bf16_128x4096");
    g.throughput(Throughput::Bytes((4 * x0.len() * 2) as u64));

    let (mut x, mut r) = (x0.clone(), r0.clone());
    let fused = |x: &mut Vec<bf16>, r: &mut Vec<bf16>| {
        x.copy_from_slice(&x0);
        r.copy_from_slice(&r0);
        let io = InOut::in_place(&mut x[..]);
        k.add_rms_norm(&rms, shape, io, Residual::accumulate(&mut r[..]), None)
            .unwrap();
    };
    let (mut xu, mut ru) = (x0.clone(), r0.clone());
    let unfused = |x: &mut Vec<bf16>, r: &mut Vec<bf16>| {
        x.copy_from_slice(&x0);
        r.copy_from_slice(&r0);
        // The add pass, as normkern would run it alone: a residual add with no norm is not an
        // operator, so it is the add loop an engine has.
        for (r, &v) in r.iter_mut().zip(x.iter()) {
            *r = bf16::from_f32(r.to_f32() + v.to_f32());
        }
        k.rms_norm(&rms, shape, InOut::new(&r[..], &mut x[..]), None)
            .unwrap();
    };
    fused(&mut x, &mut r);
    unfused(&mut xu, &mut ru);
    assert_eq!(r, ru, "the fused sum equals the add");
    within_ulps("add_rms_norm", &x, &xu, 1.0);
    g.bench_function("normkern", |b| b.iter(|| fused(&mut x, &mut r)));
    g.bench_function("unfused", |b| b.iter(|| unfused(&mut xu, &mut ru)));
    let (mut x_32, mut r_32) = (x32.clone(), r32.clone());
    g.bench_function("f32", |b| {
        b.iter(|| {
            x_32.copy_from_slice(&x32);
            r_32.copy_from_slice(&r32);
            let io = InOut::in_place(&mut x_32[..]);
            k.add_rms_norm(&rms, shape, io, Residual::accumulate(&mut r_32[..]), None)
                .unwrap();
        })
    });
    let (mut xc, mut rc) = (x0.clone(), r0.clone());
    g.bench_function("copy", |b| {
        b.iter(|| {
            xc.copy_from_slice(black_box(&x0));
            rc.copy_from_slice(black_box(&r0));
        })
    });
    g.finish();
}

/// onnxruntime's SkipLayerNormalization on `[512, 768]` f16, the sum written out too.
fn add_layer_norm(c: &mut Criterion) {
    let k = Kernels::detect();
    let (rows, cols) = (512, 768);
    let shape = Shape::rows(rows, cols);
    let (x32, s32) = (
        signal(rows * cols, 1.0, 0.0, 4),
        signal(rows * cols, 2.0, 0.0, 5),
    );
    let (gamma, beta, bias) = (
        signal(cols, 0.1, 1.0, 6),
        signal(cols, 0.1, 0.0, 7),
        signal(cols, 0.1, 0.0, 8),
    );
    let ln = LayerNorm::new().gamma(&gamma).beta(&beta);
    let (x, skip): (Vec<f16>, Vec<f16>) = (narrow(&x32), narrow(&s32));
    let mut g = c.benchmark_group("add_layer_norm/f16_512x768");
    g.throughput(Throughput::Bytes((4 * x.len() * 2) as u64));

    let (mut y, mut sum) = (vec![f16::ZERO; x.len()], vec![f16::ZERO; x.len()]);
    let fused = |y: &mut [f16], sum: &mut [f16]| {
        let residual = Residual::new(&skip).bias(&bias).sum_to(sum);
        k.add_layer_norm(&ln, shape, InOut::new(&x, y), residual, None)
            .unwrap();
    };
    let (mut yu, mut sumu) = (y.clone(), sum.clone());
    let unfused = |y: &mut [f16], sum: &mut [f16]| {
        for ((s, &a), (&b, &c)) in sum
            .iter_mut()
            .zip(&x)
            .zip(skip.iter().zip(bias.iter().cycle()))
        {
            *s = f16::from_f32((a.to_f32() + b.to_f32()) + c);
        }
        k.layer_norm(&ln, shape, InOut::new(sum, y), None).unwrap();
    };
    fused(&mut y, &mut sum);
    unfused(&mut yu, &mut sumu);
    assert_eq!(sum, sumu, "the fused sum equals the add");
    within_ulps("add_layer_norm", &y, &yu, 1.0);
    g.bench_function("normkern", |b| b.iter(|| fused(&mut y, &mut sum)));
    g.bench_function("unfused", |b| b.iter(|| unfused(&mut yu, &mut sumu)));
    let (mut y32, mut sum32) = (vec![0.0f32; x.len()], vec![0.0f32; x.len()]);
    g.bench_function("f32", |b| {
        b.iter(|| {
            let residual = Residual::new(&s32).bias(&bias).sum_to(&mut sum32);
            k.add_layer_norm(&ln, shape, InOut::new(&x32, &mut y32), residual, None)
                .unwrap();
        })
    });
    g.bench_function("copy", |b| {
        b.iter(|| {
            y.copy_from_slice(black_box(&x));
            sum.copy_from_slice(black_box(&skip));
        })
    });
    g.finish();
}

/// A Stable Diffusion UNet's GroupNorm(32) + SiLU on NHWC `1x64x64x320` f16.
fn group_norm_silu(c: &mut Criterion) {
    let k = Kernels::detect();
    let shape = Shape::nhwc(1, 64, 64, 320);
    let x32 = signal(64 * 64 * 320, 2.0, 0.3, 9);
    let (gamma, beta) = (signal(320, 0.2, 1.0, 10), signal(320, 0.1, 0.0, 11));
    let gn = GroupNorm::new(32).gamma(&gamma).beta(&beta);
    let x: Vec<f16> = narrow(&x32);
    let mut g = c.benchmark_group("group_norm_silu/f16_nhwc_1x64x64x320");
    g.throughput(Throughput::Bytes((2 * x.len() * 2) as u64));

    let (mut y, mut yu) = (vec![f16::ZERO; x.len()], vec![f16::ZERO; x.len()]);
    let fused = |y: &mut [f16]| {
        k.group_norm(&gn.then(Silu), shape, InOut::new(&x, y), None)
            .unwrap();
    };
    let unfused = |y: &mut [f16]| {
        k.group_norm(&gn, shape, InOut::new(&x, &mut *y), None)
            .unwrap();
        silu_pass(&k, y);
    };
    fused(&mut y);
    unfused(&mut yu);
    // The unfused sequence rounds twice (the norm, then the activation): two ulps apart.
    within_ulps("group_norm_silu", &y, &yu, 2.0);
    g.bench_function("normkern", |b| b.iter(|| fused(&mut y)));
    g.bench_function("unfused", |b| b.iter(|| unfused(&mut yu)));
    let mut y32 = vec![0.0f32; x.len()];
    g.bench_function("f32", |b| {
        b.iter(|| {
            k.group_norm(&gn.then(Silu), shape, InOut::new(&x32, &mut y32), None)
                .unwrap()
        })
    });
    g.bench_function("copy", |b| b.iter(|| y.copy_from_slice(black_box(&x))));
    g.finish();
}

/// LayerNorm of `[8192, 2048]` bf16, against converting to f32, normalizing and converting
/// back.
fn layer_norm_bf16(c: &mut Criterion) {
    let k = Kernels::detect();
    let (rows, cols) = (8192, 2048);
    let shape = Shape::rows(rows, cols);
    let x32 = signal(rows * cols, 1.0, 0.5, 12);
    let (gamma, beta) = (signal(cols, 0.1, 1.0, 13), signal(cols, 0.1, 0.0, 14));
    let ln = LayerNorm::new().gamma(&gamma).beta(&beta);
    let x: Vec<bf16> = narrow(&x32);
    let mut g = c.benchmark_group("layer_norm/bf16_8192x2048");
    g.throughput(Throughput::Bytes((2 * x.len() * 2) as u64));

    let mut y = vec![bf16::ZERO; x.len()];
    let (mut wide, mut wide_y, mut yu) = (vec![0.0f32; x.len()], vec![0.0f32; x.len()], y.clone());
    k.layer_norm(&ln, shape, InOut::new(&x, &mut y), None)
        .unwrap();
    let mut unfused = |yu: &mut [bf16]| {
        for (w, v) in wide.iter_mut().zip(&x) {
            *w = v.to_f32();
        }
        k.layer_norm(&ln, shape, InOut::new(&wide, &mut wide_y), None)
            .unwrap();
        for (o, &w) in yu.iter_mut().zip(&wide_y) {
            *o = bf16::from_f32(w);
        }
    };
    unfused(&mut yu);
    within_ulps("layer_norm bf16", &y, &yu, 1.0);
    g.bench_function("normkern", |b| {
        b.iter(|| {
            k.layer_norm(&ln, shape, InOut::new(&x, &mut y), None)
                .unwrap()
        })
    });
    g.bench_function("unfused", |b| b.iter(|| unfused(&mut yu)));
    let mut y32 = vec![0.0f32; x.len()];
    g.bench_function("f32", |b| {
        b.iter(|| {
            k.layer_norm(&ln, shape, InOut::new(&x32, &mut y32), None)
                .unwrap()
        })
    });
    g.bench_function("copy", |b| b.iter(|| y.copy_from_slice(black_box(&x))));
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = benches;
    config = config();
    targets = add_rms_norm, add_layer_norm, group_norm_silu, layer_norm_bf16
}
criterion_main!(benches);
