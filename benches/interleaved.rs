//! Kernel time over copy time with the two interleaved in one process: a steadier ratio than
//! criterion's on a shared machine, where a whole `norms` run moves a group by up to 1.5x.
//!
//! Each of 101 rounds times the kernel, then `floor` (one scale and shift over the same bytes
//! on the same instruction set, the least a kernel that stores through the cache does; see
//! `norms`), then `copy_from_slice` of the same input into the same output buffer, each
//! repeated to fill about a millisecond (or `--block`). Printed: the median of the rounds'
//! kernel-over-copy ratios with the quartiles, the floor over the copy, the kernel over the
//! floor and the kernel's median time. Groups are named as in `norms` and use its parameters (gamma, beta, eps 1e-5; 32
//! groups), without saving statistics. Buffers lie where the allocator puts them (large ones 16
//! bytes past a cache line with glibc), or `--offset K` floats past a 64-byte boundary; the
//! line printed gives both addresses mod 64.
//!
//! ```text
//! cargo bench --bench interleaved                          # every group of `norms`
//! cargo bench --bench interleaved -- layer_norm/4096x64    # some groups
//! cargo bench --bench interleaved -- --isa avx2 layer_norm/4096x64
//! cargo bench --bench interleaved -- --offset 4 layer_norm/4096x64 # 16 bytes past a line
//! cargo bench --bench interleaved -- --schedule separate group_norm/nchw_1x320x64x64
//! cargo bench --bench interleaved -- --block 100 layer_norm/4096x64 # 100 ms per timing
//! cargo bench --bench interleaved -- --prefetch off          # no output lines asked for ahead
//! ```
//!
//! `--prefetch off` (or `on`) overrides `Kernels::output_prefetch` for the kernel and the
//! floor alike. `--versus prefetch` (or `schedule`) times, in place of the floor, the same
//! kernel with the other output prefetch (or schedule): a same-round A/B of the two, printed
//! as the kernel over the other.
//!
//! ```text
//! cargo bench --bench interleaved -- --versus prefetch       # this CPU's pick over the other
//! ```
//!
//! `--block MS` makes each timing about MS milliseconds of back-to-back calls instead of one:
//! closer to criterion, which runs one function for seconds. Long blocks give higher ratios on
//! the Cascade Lake Xeon the README was measured on, mostly because the copy gets faster in
//! them (LayerNorm 4096x64's buffers: 57-65 µs per copy in 2000-call blocks, 62-78 µs in
//! 10-call blocks, where a one-pass scale and shift took 88-97 µs in both).

use normkern::{
    BatchNorm, BatchNormTraining, GroupNorm, InOut, InstanceNorm, Isa, Kernels, LayerNorm, RmsNorm,
    Schedule, Shape,
};
use std::hint::black_box;
use std::time::Instant;

#[path = "common/floor.rs"]
mod floor;

const GROUPS: [&str; 14] = [
    "layer_norm/512x768",
    "layer_norm/128x4096",
    "layer_norm/4096x64",
    "layer_norm/8192x2048",
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

const ROUNDS: usize = 101;

/// A group's shape: `op/[layout_]d0xd1x...`.
struct Group {
    op: String,
    layout: String,
    dims: Vec<usize>,
}

impl Group {
    fn parse(name: &str) -> Option<Group> {
        let (op, rest) = name.split_once('/')?;
        let (layout, dims) = rest.split_once('_').unwrap_or(("", rest));
        let dims = dims
            .split('x')
            .map(|d| d.parse().ok())
            .collect::<Option<_>>()?;
        Some(Group {
            op: op.to_string(),
            layout: layout.to_string(),
            dims,
        })
    }

    fn shape(&self) -> Shape {
        match (self.layout.as_str(), &self.dims[..]) {
            ("nchw", &[n, c, h, w]) => Shape::nchw(n, c, h, w),
            ("nhwc", &[n, h, w, c]) => Shape::nhwc(n, h, w, c),
            ("ntc", &[n, t, c]) => Shape::ntc(n, t, c),
            ("", &[rows, cols]) => Shape::rows(rows, cols),
            _ => panic!("unknown layout or dimensions: {}", self.layout),
        }
    }
}

/// `len` values of mean 3 and spread about 1.5 (the `norms` inputs' moments), deterministic.
fn input(len: usize) -> Vec<f32> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            3.0 + 1.5 * (((state >> 40) as f32 / (1u64 << 24) as f32) * 3.46 - 1.73)
        })
        .collect()
}

/// Quartiles and median of a list of per-round ratios.
fn quartiles(mut ratios: Vec<f64>) -> [f64; 3] {
    ratios.sort_by(f64::total_cmp);
    let n = ratios.len();
    [ratios[n / 4], ratios[n / 2], ratios[3 * n / 4]]
}

/// Per round, the kernel, then `floor` (one scale and shift over the same bytes, as in
/// `norms`) or the kernel on `versus`, then the copy: the kernel's time over the copy's
/// (quartiles and median), the floor's (or versus') median over the copy's, and the kernel's
/// median over the floor's (versus').
fn ratio(
    k: &Kernels,
    versus: Option<Kernels>,
    x: &[f32],
    y: &mut [f32],
    block: f64,
    mut kernel: impl FnMut(&Kernels, &[f32], &mut [f32]),
) -> ([f64; 3], f64, f64, f64) {
    let time = |f: &mut dyn FnMut(&mut [f32]), y: &mut [f32], reps: usize| {
        let start = Instant::now();
        for _ in 0..reps {
            f(&mut *y);
            black_box(&mut *y);
        }
        start.elapsed().as_secs_f64() / reps as f64
    };
    let mut floor = |y: &mut [f32]| floor::floor(k, black_box(x), y);
    let mut copy = |y: &mut [f32]| y.copy_from_slice(black_box(x));
    let once = time(&mut copy, y, 1).max(1e-7);
    let reps = ((block / once) as usize).clamp(1, 100_000);
    let rounds: Vec<[f64; 3]> = (0..ROUNDS)
        .map(|_| {
            let kernel_time = time(&mut |y: &mut [f32]| kernel(k, black_box(x), y), y, reps);
            let floor = match &versus {
                Some(v) => time(&mut |y: &mut [f32]| kernel(v, black_box(x), y), y, reps),
                None => time(&mut floor, y, reps),
            };
            [kernel_time, floor, time(&mut copy, y, reps)]
        })
        .collect();
    let over = |a: usize, b: usize| quartiles(rounds.iter().map(|t| t[a] / t[b]).collect());
    let kernel = quartiles(rounds.iter().map(|t| t[0]).collect())[1];
    (over(0, 2), over(1, 2)[1], over(0, 1)[1], kernel)
}

/// `len` values starting `offset` floats past a 64-byte boundary (`None`: wherever the
/// allocator puts them).
fn placed(values: Vec<f32>, offset: Option<usize>) -> (Vec<f32>, usize) {
    let Some(offset) = offset else {
        return (values, 0);
    };
    let mut buffer = vec![0.0f32; values.len() + 16 + offset];
    let start = (buffer.as_ptr() as usize).wrapping_neg() % 64 / 4 + offset;
    buffer[start..start + values.len()].copy_from_slice(&values);
    (buffer, start)
}

fn measure(k: &Kernels, versus: Option<Kernels>, name: &str, offset: Option<usize>, block: f64) {
    let g = Group::parse(name).unwrap_or_else(|| panic!("not a group name: {name}"));
    let shape = g.shape();
    let len = shape.len().expect("a small shape");
    let (x_buffer, x_start) = placed(input(len), offset);
    let (mut y_buffer, y_start) = placed(vec![0.0f32; len], offset);
    let x = &x_buffer[x_start..x_start + len];
    let y = &mut y_buffer[y_start..y_start + len];
    let channels = shape.c();
    let gamma: Vec<f32> = (0..channels).map(|i| 1.0 + (i % 7) as f32 * 0.01).collect();
    let beta: Vec<f32> = (0..channels).map(|i| (i % 5) as f32 * 0.01).collect();
    let mean: Vec<f32> = (0..channels).map(|i| 3.0 + (i % 3) as f32 * 0.1).collect();
    let var: Vec<f32> = (0..channels).map(|i| 2.25 + (i % 3) as f32 * 0.1).collect();
    let ([low, median, high], floor, over_floor, seconds) = match g.op.as_str() {
        "layer_norm" => {
            let p = LayerNorm::new().gamma(&gamma).beta(&beta).eps(1e-5);
            ratio(k, versus, x, y, block, |k, x, y| {
                k.layer_norm(&p, shape, InOut::new(x, y), None).unwrap()
            })
        }
        "rms_norm" => {
            let p = RmsNorm::new().gamma(&gamma).eps(1e-5);
            ratio(k, versus, x, y, block, |k, x, y| {
                k.rms_norm(&p, shape, InOut::new(x, y), None).unwrap()
            })
        }
        "batch_norm_infer" => {
            let p = BatchNorm::new(&mean, &var)
                .gamma(&gamma)
                .beta(&beta)
                .eps(1e-5);
            ratio(k, versus, x, y, block, |k, x, y| {
                k.batch_norm_inference(&p, shape, InOut::new(x, y)).unwrap()
            })
        }
        "batch_norm_train" => {
            let p = BatchNormTraining::new().gamma(&gamma).beta(&beta).eps(1e-5);
            ratio(k, versus, x, y, block, |k, x, y| {
                k.batch_norm_training(&p, shape, InOut::new(x, y), None, None)
                    .unwrap()
            })
        }
        "instance_norm" => {
            let p = InstanceNorm::new().gamma(&gamma).beta(&beta).eps(1e-5);
            ratio(k, versus, x, y, block, |k, x, y| {
                k.instance_norm(&p, shape, InOut::new(x, y), None).unwrap()
            })
        }
        "group_norm" => {
            let p = GroupNorm::new(32).gamma(&gamma).beta(&beta).eps(1e-5);
            ratio(k, versus, x, y, block, |k, x, y| {
                k.group_norm(&p, shape, InOut::new(x, y), None).unwrap()
            })
        }
        op => panic!("unknown operator {op}"),
    };
    let other = match versus {
        Some(v) if v.schedule() != k.schedule() => format!("{:?}", v.schedule()),
        Some(v) => format!("prefetch {}", on_off(v.output_prefetch())),
        None => "floor".to_string(),
    };
    println!(
        "{name:40} {median:5.2} x copy  (quartiles {low:.2}-{high:.2}; {other} {floor:.2} x copy, \
         kernel {over_floor:.2} x {other}, {:.1} µs; {} {:?}, prefetch {}, in/out at {}/{} mod 64 B)",
        seconds * 1e6,
        k.isa(),
        k.schedule(),
        on_off(k.output_prefetch()),
        x.as_ptr() as usize % 64,
        y.as_ptr() as usize % 64,
    );
}

fn on_off(on: bool) -> &'static str {
    if on { "on" } else { "off" }
}

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let mut kernels = Kernels::detect();
    let mut names = Vec::new();
    let mut offset = None;
    let mut block = 1e-3;
    let mut versus: fn(&Kernels) -> Option<Kernels> = |_| None;
    while let Some(arg) = args.next() {
        if arg == "--offset" {
            let floats = args.next().and_then(|a| a.parse().ok());
            offset = Some(floats.expect("--offset takes a number of floats"));
        } else if arg == "--block" {
            let ms: Option<f64> = args.next().and_then(|a| a.parse().ok());
            block = ms.expect("--block takes milliseconds") * 1e-3;
        } else if arg == "--isa" {
            let want = args.next().expect("--isa takes a name");
            let isa = Isa::ALL.into_iter().find(|i| i.name() == want);
            let (schedule, prefetch) = (kernels.schedule(), kernels.output_prefetch());
            kernels = Kernels::new(isa.expect("an instruction set name")).expect("available");
            kernels = kernels
                .with_schedule(schedule)
                .with_output_prefetch(prefetch);
        } else if arg == "--schedule" {
            kernels = kernels.with_schedule(match args.next().as_deref() {
                Some("overlapped") => Schedule::Overlapped,
                Some("separate") => Schedule::Separate,
                _ => panic!("--schedule takes overlapped or separate"),
            });
        } else if arg == "--versus" {
            let other = args.next();
            versus = match other.as_deref() {
                Some("prefetch") => {
                    |k: &Kernels| Some(k.with_output_prefetch(!k.output_prefetch()))
                }
                Some("schedule") => |k: &Kernels| {
                    Some(k.with_schedule(match k.schedule() {
                        Schedule::Overlapped => Schedule::Separate,
                        _ => Schedule::Overlapped,
                    }))
                },
                _ => panic!("--versus takes prefetch or schedule"),
            };
        } else if arg == "--prefetch" {
            kernels = kernels.with_output_prefetch(match args.next().as_deref() {
                Some("on") => true,
                Some("off") => false,
                _ => panic!("--prefetch takes on or off"),
            });
        } else {
            names.push(arg);
        }
    }
    if names.is_empty() {
        names = GROUPS.iter().map(|g| g.to_string()).collect();
    }
    for name in &names {
        measure(&kernels, versus(&kernels), name, offset, block);
    }
}
