//! Probe: instructions per value of each benchmark group's normkern call and of the floor (one
//! scale and shift over the same bytes), counted by callgrind. A count does not depend on the
//! machine's noise or clock, so it is the figure to hold on to where the CPU of a speed target
//! is not at hand (the Zen 5 of issue 15 on an Intel machine, say).
//!
//! `ipv GROUP REPS [VALUES]` runs the group's call REPS times after one warm-up call (`floor`
//! over VALUES values), `ipv list` names the groups; `run.sh`
//! runs it under callgrind with two REPS and divides the difference by the values, so the
//! setup cancels. Valgrind emulates no AVX-512: under it `Kernels::detect` picks the AVX2 set.
use normkern::*;
use std::hint::black_box;

/// The benchmark groups (`benches/norms.rs`), and the floor.
const GROUPS: [&str; 12] = [
    "layer_norm/128x4096",
    "layer_norm/4096x64",
    "layer_norm/8192x2048",
    "rms_norm/128x4096",
    "rms_norm/4096x64",
    "batch_norm_infer/nhwc_1x112x112x64",
    "batch_norm_train/nchw_8x256x14x14",
    "batch_norm_train/ntc_32x128x768",
    "instance_norm/nchw_1x64x128x128",
    "group_norm/nchw_1x320x64x64",
    "group_norm/nhwc_1x64x64x320",
    "floor",
];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let group = args.first().map(String::as_str).unwrap_or("");
    let reps: usize = args.get(1).and_then(|r| r.parse().ok()).unwrap_or(1);
    let values: usize = args.get(2).and_then(|v| v.parse().ok()).unwrap_or(1 << 20);
    if group == "list" {
        GROUPS.iter().for_each(|g| println!("{g}"));
        return;
    }
    let shape = match group {
        "layer_norm/128x4096" | "rms_norm/128x4096" => Shape::rows(128, 4096),
        "layer_norm/4096x64" | "rms_norm/4096x64" => Shape::rows(4096, 64),
        "layer_norm/8192x2048" => Shape::rows(8192, 2048),
        "batch_norm_infer/nhwc_1x112x112x64" => Shape::nhwc(1, 112, 112, 64),
        "batch_norm_train/nchw_8x256x14x14" => Shape::nchw(8, 256, 14, 14),
        "batch_norm_train/ntc_32x128x768" => Shape::ntc(32, 128, 768),
        "instance_norm/nchw_1x64x128x128" => Shape::nchw(1, 64, 128, 128),
        "group_norm/nchw_1x320x64x64" => Shape::nchw(1, 320, 64, 64),
        "group_norm/nhwc_1x64x64x320" => Shape::nhwc(1, 64, 64, 320),
        "floor" => Shape::channels_first(1, 1, values),
        _ => {
            eprintln!("usage: ipv GROUP REPS [VALUES], ipv list");
            std::process::exit(2);
        }
    };
    let n = shape.len().unwrap();
    let mut seed = 0x2545F4914F6CDD1Du64;
    let x: Vec<f32> = (0..n)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 40) as f32 / (1u64 << 24) as f32 * 4.0 + 1.0
        })
        .collect();
    let mut y = vec![0f32; n];
    let c = shape.c();
    let (g, b) = (vec![1.1f32; c], vec![0.1f32; c]);
    let (mean, var) = (vec![0.2f32; c], vec![1.5f32; c]);
    let k = Kernels::detect();
    let mut run = || {
        let io = InOut::new(black_box(&x[..]), &mut y);
        match group {
            "layer_norm/128x4096" | "layer_norm/4096x64" | "layer_norm/8192x2048" => {
                k.layer_norm(&LayerNorm::new().gamma(&g).beta(&b), shape, io, None)
            }
            "rms_norm/128x4096" | "rms_norm/4096x64" => {
                k.rms_norm(&RmsNorm::new().gamma(&g), shape, io, None)
            }
            "batch_norm_infer/nhwc_1x112x112x64" => {
                k.batch_norm_inference(&BatchNorm::new(&mean, &var).gamma(&g).beta(&b), shape, io)
            }
            "instance_norm/nchw_1x64x128x128" => {
                k.instance_norm(&InstanceNorm::new().gamma(&g).beta(&b), shape, io, None)
            }
            "group_norm/nchw_1x320x64x64" | "group_norm/nhwc_1x64x64x320" => {
                k.group_norm(&GroupNorm::new(32).gamma(&g).beta(&b), shape, io, None)
            }
            "floor" => k.batch_norm_inference(&BatchNorm::new(&mean[..1], &var[..1]), shape, io),
            _ => k.batch_norm_training(
                &BatchNormTraining::new().gamma(&g).beta(&b),
                shape,
                io,
                None,
                None,
            ),
        }
        .unwrap();
        black_box(&mut y);
    };
    run();
    for _ in 0..reps {
        run();
    }
    println!("{group}: {n} values, {reps} calls, {:?}", k.isa());
}
