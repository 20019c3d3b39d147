//! Same-process A/B: each round times the base revision's kernel, the working tree's and a
//! copy of the same bytes, back to back, each repeated to fill about a millisecond. Prints the
//! median over the rounds of new / base (with quartiles) and each over the copy.
use std::hint::black_box;
use std::time::Instant;

type Call = Box<dyn FnMut(&[f32], &mut [f32])>;

/// The closures that run `group` on one copy of the crate (`$nk`), its parameters built once.
macro_rules! maker {
    ($nk:ident, $fname:ident) => {
        fn $fname(op: &str, shape: &[usize], layout: &str) -> Call {
            use $nk::*;
            /// `add_rms_norm` in place on data of its own in `T` (reset each call, as the
            /// engine bench does): the call ignores `x` and `y`.
            fn add_rms_norm<T: Element>(
                k: Kernels,
                s: Shape,
                gamma: &'static [f32],
                from: fn(f32) -> T,
            ) -> Call {
                let p = RmsNorm::new().gamma(gamma).eps(1e-6);
                let n = s.len().unwrap();
                let x0: Vec<T> = (0..n).map(|i| from((i % 37) as f32 * 0.1)).collect();
                let r0: Vec<T> = (0..n).map(|i| from((i % 29) as f32 * 0.2)).collect();
                let (mut x, mut r) = (x0.clone(), r0.clone());
                Box::new(move |_, _| {
                    x.copy_from_slice(&x0);
                    r.copy_from_slice(&r0);
                    let residual = Residual::accumulate(&mut r[..]);
                    k.add_rms_norm(&p, s, InOut::in_place(&mut x[..]), residual, None)
                        .unwrap()
                })
            }
            /// `run` on bf16 copies of the data, made once (the call ignores `x` and `y`).
            fn in_bf16(n: usize, run: impl Fn(&[bf16], &mut [bf16]) + 'static) -> Call {
                let x: Vec<bf16> = (0..n)
                    .map(|i| bf16::from_f32((i % 37) as f32 * 0.1))
                    .collect();
                let mut y = vec![bf16::ZERO; n];
                Box::new(move |_, _| run(&x, &mut y))
            }
            /// GroupNorm(32) followed by `activation`.
            fn group_norm<A: Activation>(
                k: Kernels,
                s: Shape,
                gamma: &'static [f32],
                beta: &'static [f32],
                activation: A,
            ) -> Call {
                let p = GroupNorm::new(32)
                    .gamma(gamma)
                    .beta(beta)
                    .eps(1e-5)
                    .then(activation);
                Box::new(move |x, y| k.group_norm(&p, s, InOut::new(x, y), None).unwrap())
            }
            // ABPROBE_ISA=avx2|avx512|avx512bf16 forces a set; the detected one otherwise.
            let k = match std::env::var("ABPROBE_ISA").as_deref() {
                Ok("avx2") => Kernels::new(Isa::Avx2).unwrap(),
                Ok("avx512") => Kernels::new(Isa::Avx512).unwrap(),
                Ok("avx512bf16") => Kernels::new(Isa::Avx512Bf16).unwrap(),
                Ok(other) => panic!("ABPROBE_ISA={other}: avx2, avx512 or avx512bf16"),
                Err(_) => Kernels::detect(),
            };
            let s = match (layout, shape) {
                ("nchw", &[n, c, h, w]) => Shape::nchw(n, c, h, w),
                ("nhwc", &[n, h, w, c]) => Shape::nhwc(n, h, w, c),
                ("ntc", &[n, t, c]) => Shape::ntc(n, t, c),
                ("", &[r, c]) => Shape::rows(r, c),
                _ => panic!("layout"),
            };
            let ch = s.c();
            let g: &'static [f32] = (0..ch)
                .map(|i| 1.0 + (i % 7) as f32 * 0.01)
                .collect::<Vec<_>>()
                .leak();
            let b: &'static [f32] = (0..ch)
                .map(|i| (i % 5) as f32 * 0.01)
                .collect::<Vec<_>>()
                .leak();
            let m: &'static [f32] = (0..ch)
                .map(|i| 3.0 + (i % 3) as f32 * 0.1)
                .collect::<Vec<_>>()
                .leak();
            let v: &'static [f32] = (0..ch)
                .map(|i| 2.25 + (i % 3) as f32 * 0.1)
                .collect::<Vec<_>>()
                .leak();
            match op {
                "layer_norm" => {
                    let p = LayerNorm::new().gamma(g).beta(b).eps(1e-5);
                    Box::new(move |x, y| k.layer_norm(&p, s, InOut::new(x, y), None).unwrap())
                }
                "rms_norm" => {
                    let p = RmsNorm::new().gamma(g).eps(1e-5);
                    Box::new(move |x, y| k.rms_norm(&p, s, InOut::new(x, y), None).unwrap())
                }
                "batch_norm_infer" => {
                    let p = BatchNorm::new(m, v).gamma(g).beta(b).eps(1e-5);
                    Box::new(move |x, y| k.batch_norm_inference(&p, s, InOut::new(x, y)).unwrap())
                }
                "batch_norm_infer_bf16" => {
                    let p = BatchNorm::new(m, v).gamma(g).beta(b).eps(1e-5);
                    in_bf16(s.len().unwrap(), move |x, y| {
                        k.batch_norm_inference(&p, s, InOut::new(x, y)).unwrap()
                    })
                }
                "group_norm_bf16" => {
                    let p = GroupNorm::new(32).gamma(g).beta(b).eps(1e-5);
                    in_bf16(s.len().unwrap(), move |x, y| {
                        k.group_norm(&p, s, InOut::new(x, y), None).unwrap()
                    })
                }
                "batch_norm_train" => {
                    let p = BatchNormTraining::new().gamma(g).beta(b).eps(1e-5);
                    Box::new(move |x, y| {
                        k.batch_norm_training(&p, s, InOut::new(x, y), None, None)
                            .unwrap()
                    })
                }
                "instance_norm" => {
                    let p = InstanceNorm::new().gamma(g).beta(b).eps(1e-5);
                    Box::new(move |x, y| k.instance_norm(&p, s, InOut::new(x, y), None).unwrap())
                }
                // GroupNorm(32), alone and with each activation fused: the activations' cost.
                "group_norm" => group_norm(k, s, g, b, NoActivation),
                "group_norm_silu" => group_norm(k, s, g, b, Silu),
                "group_norm_gelu" => group_norm(k, s, g, b, Gelu),
                "group_norm_gelutanh" => group_norm(k, s, g, b, GeluTanh),
                // vLLM's fused_add_rms_norm, in place.
                "add_rms_norm_bf16" => add_rms_norm(k, s, g, bf16::from_f32),
                "add_rms_norm_f16" => add_rms_norm(k, s, g, f16::from_f32),
                "add_rms_norm_f32" => add_rms_norm(k, s, g, |v| v),
                _ => panic!("unknown operator {op}"),
            }
        }
    };
}
maker!(normkern, new_call);
maker!(normkern_base, base_call);

const GROUPS: [&str; 13] = [
    "layer_norm/512x768",
    "layer_norm/128x4096",
    "layer_norm/4096x64",
    "rms_norm/128x4096",
    "batch_norm_infer/nchw_1x64x112x112",
    "batch_norm_infer/nchw_8x256x14x14",
    "batch_norm_infer/nhwc_1x112x112x64",
    "batch_norm_train/nchw_8x256x14x14",
    "batch_norm_train/nchw_32x64x56x56",
    "batch_norm_train/ntc_32x128x768",
    "instance_norm/nchw_1x64x128x128",
    "group_norm/nchw_1x320x64x64",
    "group_norm/nhwc_1x64x64x320",
];

fn quartiles(mut v: Vec<f64>) -> [f64; 3] {
    v.sort_by(|a, b| a.total_cmp(b));
    [v[v.len() / 4], v[v.len() / 2], v[3 * v.len() / 4]]
}

/// Seconds per call of `f`, over `reps` back-to-back calls.
fn time(f: &mut dyn FnMut(&mut [f32]), y: &mut [f32], reps: usize) -> f64 {
    let t = Instant::now();
    for _ in 0..reps {
        f(y);
        black_box(&mut *y);
    }
    t.elapsed().as_secs_f64() / reps as f64
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let rounds = match args.first().and_then(|a| a.parse().ok()) {
        Some(r) => {
            args.remove(0);
            r
        }
        None => 101,
    };
    let groups: Vec<String> = if args.is_empty() {
        GROUPS.iter().map(|g| g.to_string()).collect()
    } else {
        args
    };
    println!(
        "{:40} {:>20} {:>12} {:>12}",
        "group", "new/base (quartiles)", "base x copy", "new x copy"
    );
    for name in &groups {
        let (op, rest) = name.split_once('/').expect("op/shape");
        let (layout, dims) = rest.split_once('_').unwrap_or(("", rest));
        let shape: Vec<usize> = dims.split('x').map(|d| d.parse().unwrap()).collect();
        let len: usize = shape.iter().product();
        let x: Vec<f32> = (0..len)
            .map(|i| 3.0 + ((i * 7919) % 1000) as f32 * 0.001)
            .collect();
        let mut y = vec![0.0f32; len];
        let mut base = base_call(op, &shape, layout);
        let mut new = new_call(op, &shape, layout);
        let t0 = Instant::now();
        base(&x, &mut y);
        let reps = ((1e-3 / t0.elapsed().as_secs_f64()) as usize).clamp(1, 1000);
        let (mut ratio, mut bc, mut nc) = (vec![], vec![], vec![]);
        for r in 0..rounds {
            // Alternate which copy goes first, so neither always follows the copy.
            let tb_first = r % 2 == 0;
            let mut run_base = |y: &mut [f32]| base(black_box(&x), y);
            let mut run_new = |y: &mut [f32]| new(black_box(&x), y);
            let (tb, tn) = if tb_first {
                let tb = time(&mut run_base, &mut y, reps);
                (tb, time(&mut run_new, &mut y, reps))
            } else {
                let tn = time(&mut run_new, &mut y, reps);
                (time(&mut run_base, &mut y, reps), tn)
            };
            let tc = time(
                &mut |y: &mut [f32]| y.copy_from_slice(black_box(&x)),
                &mut y,
                reps,
            );
            ratio.push(tn / tb);
            bc.push(tb / tc);
            nc.push(tn / tc);
        }
        let [lo, med, hi] = quartiles(ratio);
        println!(
            "{name:40} {med:7.3} ({lo:.3}-{hi:.3}) {:12.2} {:12.2}",
            quartiles(bc)[1],
            quartiles(nc)[1]
        );
    }
}
