//! The split-phase API (`normkern::split`) and the rayon operators (`normkern::parallel`):
//! `cargo test --features rayon --test parallel`.
//!
//! - Where groups are independent, every `par_` operator is bitwise the single-thread call.
//! - Where statistics are merged (the split API on any cut into parts, merged in any order;
//!   `par_batch_norm_training` channels-last, `par_group_norm` with few samples, unless one
//!   channels-first),
//!   outputs and reported statistics are within the tolerance `split`'s docs state, against
//!   the float64 reference (`normkern-reference`): `2⁻¹⁷ · mag`.
//! - Bad arguments are errors (the single-thread call's, for the `par_` operators) and
//!   leave every output untouched.

#![allow(clippy::needless_range_loop, clippy::enum_variant_names)]

use normkern::split::{self, Part};
use normkern::*;
use normkern_reference as reference;
use proptest::prelude::*;

/// The documented tolerance of merged statistics, 2⁻¹⁷ (128 f32 ulps of 1).
const T: f64 = 1.0 / (1u32 << 17) as f64;

/// A pool of several threads whatever this machine has (CI pins tests to one core).
fn pool() -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(3)
        .build()
        .unwrap()
}

/// Deterministic data: `offset + scale * noise`, noise in [-1, 1).
fn data(len: usize, seed: u64, offset: f32, scale: f32) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let u = ((s >> 40) as f32) / (1u64 << 24) as f32;
            offset + scale * (2.0 * u - 1.0)
        })
        .collect()
}

fn kernels() -> Vec<Kernels> {
    Isa::available().map(|i| Kernels::new(i).unwrap()).collect()
}

fn dims(shape: Shape) -> reference::Dims {
    match shape.layout() {
        Layout::ChannelsFirst => {
            reference::Dims::channels_first(shape.n(), shape.c(), shape.spatial())
        }
        _ => reference::Dims::channels_last(shape.n(), shape.spatial(), shape.c()),
    }
}

fn close(what: &str, got: f32, want: f64, mag: f64) -> Result<(), TestCaseError> {
    if f64::from(got) == want {
        return Ok(()); // also infinities
    }
    let err = (f64::from(got) - want).abs();
    prop_assert!(
        err <= T * mag + 1e-40,
        "{what}: {got} vs {want} (error {err:e}, bound {:e})",
        T * mag
    );
    Ok(())
}

/// Which operator a split test runs.
#[derive(Clone, Copy, Debug)]
enum Op {
    BatchNorm,
    GroupNorm(usize),
    InstanceNorm,
}

/// Cut points of `lines` lines into parts: sorted, from 0 to `lines`.
fn parts(lines: usize, cuts: &[usize]) -> Vec<Part> {
    let mut at: Vec<usize> = cuts.iter().map(|c| c % (lines + 1)).collect();
    at.push(0);
    at.push(lines);
    at.sort();
    at.windows(2)
        .map(|w| Part::new(w[0], w[1] - w[0]))
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn run_split(
    k: &Kernels,
    op: Op,
    shape: Shape,
    x: &[f32],
    parts: &[Part],
    eps: f32,
    gamma: &[f32],
    beta: &[f32],
    running: Option<RunningStats<'_>>,
    saved: SavedStats<'_>,
    y: &mut [f32],
) -> Result<(), NormError> {
    let groups = match op {
        Op::BatchNorm => shape.c(),
        Op::GroupNorm(g) => shape.n() * g,
        Op::InstanceNorm => shape.n() * shape.c(),
    };
    let gn = GroupNorm::new(match op {
        Op::GroupNorm(g) => g,
        _ => 1,
    })
    .eps(eps)
    .gamma(gamma)
    .beta(beta);
    let inorm = InstanceNorm::new().eps(eps).gamma(gamma).beta(beta);
    let bn = BatchNormTraining::new().eps(eps).gamma(gamma).beta(beta);
    // Phase one per part; merged last part first (any order works).
    let mut partials = vec![vec![Moments::new(); groups]; parts.len()];
    for (part, partial) in parts.iter().zip(&mut partials) {
        let xs = &x[part.range(&shape)];
        match op {
            Op::BatchNorm => k.batch_norm_training_stats(shape, *part, xs, partial)?,
            Op::GroupNorm(_) => k.group_norm_stats(&gn, shape, *part, xs, partial)?,
            Op::InstanceNorm => k.instance_norm_stats(shape, *part, xs, partial)?,
        }
    }
    let mut stats = vec![Moments::new(); groups];
    for partial in partials.iter().rev() {
        split::merge(&mut stats, partial)?;
    }
    match op {
        Op::BatchNorm => bn.finish(shape, &stats, running, Some(saved))?,
        _ => split::save_stats(eps, &stats, saved)?,
    }
    for part in parts {
        let r = part.range(&shape);
        let io = InOut::new(&x[r.clone()], &mut y[r]);
        match op {
            Op::BatchNorm => k.batch_norm_training_apply(&bn, shape, *part, &stats, io)?,
            Op::GroupNorm(_) => k.group_norm_apply(&gn, shape, *part, &stats, io)?,
            Op::InstanceNorm => k.instance_norm_apply(&inorm, shape, *part, &stats, io)?,
        }
    }
    Ok(())
}

fn op_strategy() -> impl Strategy<Value = (Op, usize)> {
    // (operator, channels)
    prop_oneof![
        (1usize..12).prop_map(|c| (Op::BatchNorm, c)),
        (1usize..12).prop_map(|c| (Op::InstanceNorm, c)),
        (1usize..5, 1usize..5).prop_map(|(g, per)| (Op::GroupNorm(g), g * per)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Any cut into parts, merged in reverse: outputs and statistics within `T` of float64.
    #[test]
    fn split_matches_reference(
        (op, c) in op_strategy(),
        n in 1usize..4,
        spatial in 1usize..40,
        channels_last in any::<bool>(),
        cuts in proptest::collection::vec(0usize..1000, 0..5),
        seed in any::<u64>(),
        offset in prop_oneof![Just(0.0f32), -1e4f32..1e4],
        scale in prop_oneof![Just(1.0f32), 1e-3f32..1e3],
        eps in prop_oneof![Just(0.0f32), 1e-5f32..0.1],
        momentum in 0.0f32..1.0,
    ) {
        let shape = if channels_last { Shape::channels_last(n, spatial, c) } else { Shape::channels_first(n, c, spatial) };
        if matches!(op, Op::BatchNorm) && n * spatial < 2 {
            return Ok(());
        }
        let x = data(n * c * spatial, seed, offset, scale);
        let gamma = data(c, seed ^ 1, 1.0, 0.5);
        let beta = data(c, seed ^ 2, 0.0, 1.0);
        let parts = parts(Part::lines(&shape), &cuts);
        let want = match op {
            Op::BatchNorm => reference::batch_norm_training(&x, &dims(shape), eps, Some(&gamma), Some(&beta)),
            Op::GroupNorm(g) => reference::group_norm(&x, &dims(shape), g, eps, Some(&gamma), Some(&beta)),
            Op::InstanceNorm => reference::group_norm(&x, &dims(shape), c, eps, Some(&gamma), Some(&beta)),
        };
        let groups = want.stats.len();
        for k in kernels() {
            let mut y = vec![0.0f32; x.len()];
            let (mut mean, mut inv_std) = (vec![0.0f32; groups], vec![0.0f32; groups]);
            let (mut rm, mut rv) = (data(c, seed ^ 3, 0.0, 1.0), data(c, seed ^ 4, 2.0, 1.0));
            let (old_m, old_v) = (rm.clone(), rv.clone());
            let running = RunningStats::new(&mut rm, &mut rv, Momentum::PyTorch(momentum));
            let saved = SavedStats::new(&mut mean, &mut inv_std);
            run_split(&k, op, shape, &x, &parts, eps, &gamma, &beta, Some(running), saved, &mut y).unwrap();
            for i in 0..x.len() {
                close("y", y[i], want.y[i], want.mag[i])?;
            }
            for g in 0..groups {
                let st = &want.stats[g];
                close("mean", mean[g], st.mean, st.mean.abs() + st.std())?;
                close("inv_std", inv_std[g], want.inv_std[g], want.inv_std[g])?;
            }
            if matches!(op, Op::BatchNorm) {
                let r = reference::running_update(&want.stats, &old_m, &old_v, reference::Momentum::PyTorch(momentum));
                for ch in 0..c {
                    close("running_mean", rm[ch], r.mean[ch], r.mean_mag[ch])?;
                    close("running_var", rv[ch], r.var[ch], r.var_mag[ch] + 1e-30)?;
                }
            }
        }
    }

    /// In 16 bits the split result is the unsplit call's within one ulp of the type.
    #[test]
    fn split_16_bit_within_one_ulp(
        groups in 1usize..4,
        per in 1usize..9,
        spatial in 2usize..50,
        channels_last in any::<bool>(),
        cuts in proptest::collection::vec(0usize..1000, 1..4),
        seed in any::<u64>(),
    ) {
        let c = groups * per;
        let shape = if channels_last { Shape::channels_last(1, spatial, c) } else { Shape::channels_first(1, c, spatial) };
        let x: Vec<f16> = data(c * spatial, seed, 3.0, 2.0).into_iter().map(f16::from_f32).collect();
        let gn = GroupNorm::new(groups).then(Silu);
        let parts = parts(Part::lines(&shape), &cuts);
        for k in kernels() {
            let mut want = vec![f16::ZERO; x.len()];
            k.group_norm(&gn, shape, InOut::new(&x, &mut want), None).unwrap();
            let mut stats = vec![Moments::new(); groups];
            for part in &parts {
                let mut partial = vec![Moments::new(); groups];
                k.group_norm_stats(&gn, shape, *part, &x[part.range(&shape)], &mut partial).unwrap();
                split::merge(&mut stats, &partial).unwrap();
            }
            let mut y = vec![f16::ZERO; x.len()];
            for part in &parts {
                let r = part.range(&shape);
                k.group_norm_apply(&gn, shape, *part, &stats, InOut::new(&x[r.clone()], &mut y[r])).unwrap();
            }
            for (a, b) in y.iter().zip(&want) {
                let ulp = (f16::from_bits(b.to_bits() + 1).to_f32() - b.to_f32()).abs();
                let err = (a.to_f32() - b.to_f32()).abs();
                prop_assert!(err <= ulp + 1e-5 * (1.0 + b.to_f32().abs()), "{a} vs {b}");
            }
        }
    }
}

/// A tensor large enough to be split over the pool.
fn big_shape(layout_last: bool, n: usize, c: usize, spatial: usize) -> Shape {
    if layout_last {
        Shape::channels_last(n, spatial, c)
    } else {
        Shape::channels_first(n, c, spatial)
    }
}

fn bits<T: Element + Copy>(v: &[T]) -> Vec<u32>
where
    f32: From<T>,
{
    v.iter().map(|&x| f32::from(x).to_bits()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// Independent groups: every `par_` operator is bitwise the single-thread call, outputs
    /// and reported statistics.
    #[test]
    fn independent_splits_are_bitwise(
        channels_last in any::<bool>(),
        n in 1usize..8,
        c in prop_oneof![Just(1usize), Just(8usize), 3usize..300],
        seed in any::<u64>(),
    ) {
        let spatial = (70_000 / (n * c)).max(2) + seed as usize % 97;
        let shape = big_shape(channels_last, n, c, spatial);
        let len = n * c * spatial;
        let x = data(len, seed, 5.0, 3.0);
        let gamma = data(c, seed ^ 1, 1.0, 0.5);
        let beta = data(c, seed ^ 2, 0.0, 1.0);
        let positions = n * spatial;
        let pool = pool();
        for k in kernels() {
            let run = |par: bool| {
                let mut out = vec![vec![0.0f32; len]; 6];
                let mut st = vec![vec![0.0f32; positions.max(n * c)]; 6];
                let ln = LayerNorm::new().gamma(&gamma).beta(&beta).then(Gelu);
                let rms = RmsNorm::new().gamma(&gamma);
                let (mean, var) = (data(c, 7, 0.0, 1.0), data(c, 8, 2.0, 1.0));
                let bn = BatchNorm::new(&mean, &var).gamma(&gamma).beta(&beta).then(Relu);
                let inorm = InstanceNorm::new().gamma(&gamma).beta(&beta);
                let mvn = MeanVarianceNorm::new().axes(MvnAxes::Spatial);
                out[5].copy_from_slice(&x);
                let [o0, o1, o2, o3, o4, o5] = &mut out[..] else { unreachable!() };
                let [s0, s1, s2, s3, s4, _] = &mut st[..] else { unreachable!() };
                pool.install(|| {
                    let saved = SavedStats::new(&mut s0[..positions], &mut s1[..positions]);
                    let io = InOut::new(&x, o0);
                    if par { k.par_layer_norm(&ln, shape, io, Some(saved)) } else { k.layer_norm(&ln, shape, io, Some(saved)) }.unwrap();
                    let io = InOut::new(&x, o1);
                    if par { k.par_rms_norm(&rms, shape, io, Some(&mut s2[..positions])) } else { k.rms_norm(&rms, shape, io, Some(&mut s2[..positions])) }.unwrap();
                    let io = InOut::new(&x, o2);
                    if par { k.par_batch_norm_inference(&bn, shape, io) } else { k.batch_norm_inference(&bn, shape, io) }.unwrap();
                    let io = InOut::new(&x, o3);
                    let saved = SavedStats::new(&mut s3[..n * c], &mut s4[..n * c]);
                    // Three threads: InstanceNorm splits samples when there are at least three,
                    // and one channels-first sample's planes.
                    if n >= 3 || (n == 1 && !channels_last) {
                        if par { k.par_instance_norm(&inorm, shape, io, Some(saved)) } else { k.instance_norm(&inorm, shape, io, Some(saved)) }.unwrap();
                    }
                    let io = InOut::new(&x, o4);
                    if par { k.par_mean_variance_norm(&mvn, shape, io) } else { k.mean_variance_norm(&mvn, shape, io) }.unwrap();
                    let io = InOut::in_place(o5);
                    if par { k.par_layer_norm(&ln, shape, io, None) } else { k.layer_norm(&ln, shape, io, None) }.unwrap();
                });
                (out, st)
            };
            let (par, one) = (run(true), run(false));
            for (a, b) in par.0.iter().chain(&par.1).zip(one.0.iter().chain(&one.1)) {
                prop_assert!(bits(a) == bits(b), "not bitwise on {:?}", k.isa());
            }
        }
    }

    /// Merged statistics on the pool: BatchNorm training, GroupNorm of one sample (bf16).
    #[test]
    fn merged_splits_within_tolerance(
        channels_last in any::<bool>(),
        n in 1usize..3,
        groups in 1usize..5,
        per in 1usize..40,
        seed in any::<u64>(),
    ) {
        let c = groups * per;
        // Merged statistics need four times `MIN_PARALLEL_VALUES` from a pool's thread.
        let spatial = (4 * parallel::MIN_PARALLEL_VALUES + 4_000) / (n * c) + seed as usize % 31;
        let shape = big_shape(channels_last, n, c, spatial);
        let len = n * c * spatial;
        let x = data(len, seed, -20.0, 4.0);
        let gamma = data(c, seed ^ 1, 1.0, 0.5);
        let beta = data(c, seed ^ 2, 0.0, 1.0);
        let pool = pool();
        let want = reference::batch_norm_training(&x, &dims(shape), 1e-5, Some(&gamma), Some(&beta));
        let gn_want = reference::group_norm(&x, &dims(shape), groups, 1e-5, Some(&gamma), Some(&beta));
        for k in kernels() {
            let bn = BatchNormTraining::new().gamma(&gamma).beta(&beta);
            let mut y = vec![0.0f32; len];
            let (mut mean, mut inv_std) = (vec![0.0f32; c], vec![0.0f32; c]);
            pool.install(|| {
                let saved = SavedStats::new(&mut mean, &mut inv_std);
                k.par_batch_norm_training(&bn, shape, InOut::new(&x, &mut y), None, Some(saved))
            }).unwrap();
            for i in 0..len {
                close("bn y", y[i], want.y[i], want.mag[i])?;
            }
            for ch in 0..c {
                close("bn inv_std", inv_std[ch], want.inv_std[ch], want.inv_std[ch])?;
            }
            let gn = GroupNorm::new(groups).gamma(&gamma).beta(&beta);
            let xb: Vec<bf16> = x.iter().map(|&v| bf16::from_f32(v)).collect();
            let (mut yb, mut one) = (vec![bf16::ZERO; len], vec![bf16::ZERO; len]);
            pool.install(|| k.par_group_norm(&gn, shape, InOut::new(&xb, &mut yb), None)).unwrap();
            k.group_norm(&gn, shape, InOut::new(&xb, &mut one), None).unwrap();
            for (a, b) in yb.iter().zip(&one) {
                let ulp = (bf16::from_bits(b.to_bits() + 1).to_f32() - b.to_f32()).abs();
                prop_assert!((a.to_f32() - b.to_f32()).abs() <= ulp + 1e-5 * (1.0 + b.to_f32().abs()));
            }
            let mut y = vec![0.0f32; len];
            pool.install(|| k.par_group_norm(&gn, shape, InOut::new(&x, &mut y), None)).unwrap();
            for i in 0..len {
                close("gn y", y[i], gn_want.y[i], gn_want.mag[i])?;
            }
        }
    }
}

/// Merged statistics (BatchNorm training channels-last) take two trips to the pool: from a
/// pool's thread they need four times `MIN_PARALLEL_VALUES` values, and sixteen times that
/// from outside the pool; below, the call stays on the calling thread, bitwise the
/// single-thread call. Above, the merged statistics round differently (so some output differs
/// in its last bits).
#[test]
fn merged_statistics_start_at_their_threshold() {
    let pool = pool();
    let k = Kernels::detect();
    let bn = BatchNormTraining::new();
    let from_pool = 4 * parallel::MIN_PARALLEL_VALUES;
    for (values, inside, merged) in [
        (from_pool - 2048, true, false),
        (from_pool + 2048, true, true),
        (from_pool + 2048, false, false),
        (16 * from_pool - 2048, false, false),
        (16 * from_pool + 2048, false, true),
    ] {
        let shape = Shape::channels_last(2, values / 8, 4);
        let x = data(values, values as u64, 3.0, 1.5);
        let (mut par, mut one) = (vec![0.0f32; values], vec![0.0f32; values]);
        let mut call =
            || k.par_batch_norm_training(&bn, shape, InOut::new(&x, &mut par), None, None);
        // Outside the pool the global one runs the parts: one thread where tests are pinned.
        let merged = merged && (inside || rayon::current_num_threads() > 1);
        if inside {
            pool.install(call).unwrap();
        } else {
            call().unwrap();
        }
        k.batch_norm_training(&bn, shape, InOut::new(&x, &mut one), None, None)
            .unwrap();
        assert_eq!(
            bits(&par) != bits(&one),
            merged,
            "{values} values, called from {} the pool",
            if inside { "inside" } else { "outside" }
        );
    }
}

/// Channels-first BatchNorm training is cut between channels, each part the single-thread
/// kernel on its channels' planes (all shapes here are large enough to merge statistics, as
/// before this cut): bitwise the single-thread call (outputs in f32 and bf16, in place or
/// not, saved and running statistics), for channels dividing evenly among the threads or
/// not, down to one channel a part. Where the channels give fewer parts than the planes would
/// (two channels on three threads), and channels-last, the statistics are merged instead. Not
/// on the compact set (`Isa::Scalar` here), which always merges.
#[test]
fn batch_norm_training_is_cut_between_channels_bitwise() {
    let pool = pool();
    for (last, n, c, spatial, by_channels) in [
        (false, 8, 64, 600, true),
        (false, 2, 7, 20_000, true),
        (false, 1, 3, 100_000, true),
        (false, 3, 5, 18_000, true),
        (false, 8, 2, 40_000, false),
        (true, 4, 768, 100, false),
    ] {
        let shape = big_shape(last, n, c, spatial);
        let len = n * c * spatial;
        let x = data(len, len as u64, -7.0, 2.5);
        let xb: Vec<bf16> = x.iter().map(|&v| bf16::from_f32(v)).collect();
        let gamma = data(c, 1, 1.0, 0.5);
        let beta = data(c, 2, 0.0, 1.0);
        let bn = BatchNormTraining::new().gamma(&gamma).beta(&beta);
        for k in kernels().into_iter().filter(|k| k.isa() != Isa::Scalar) {
            let run = |par: bool| {
                let (mut y, mut yb, mut xy) = (vec![0.0f32; len], vec![bf16::ZERO; len], x.clone());
                let (mut mean, mut inv_std) = (vec![0.0f32; c], vec![0.0f32; c]);
                let (mut rm, mut rv) = (data(c, 3, 0.0, 1.0), data(c, 4, 2.0, 1.0));
                pool.install(|| {
                    let call = |io: InOut<'_, f32>, running, saved| match par {
                        true => k.par_batch_norm_training(&bn, shape, io, running, saved),
                        false => k.batch_norm_training(&bn, shape, io, running, saved),
                    };
                    let running = RunningStats::new(&mut rm, &mut rv, Momentum::PYTORCH_DEFAULT);
                    let saved = SavedStats::new(&mut mean, &mut inv_std);
                    call(InOut::new(&x, &mut y), Some(running), Some(saved)).unwrap();
                    call(InOut::in_place(&mut xy), None, None).unwrap();
                    let io = InOut::new(&xb, &mut yb);
                    match par {
                        true => k.par_batch_norm_training(&bn, shape, io, None, None),
                        false => k.batch_norm_training(&bn, shape, io, None, None),
                    }
                    .unwrap();
                });
                [
                    bits(&y),
                    bits(&yb),
                    bits(&xy),
                    bits(&mean),
                    bits(&inv_std),
                    bits(&rm),
                    bits(&rv),
                ]
            };
            assert_eq!(
                run(true) == run(false),
                by_channels,
                "{n}x{c}x{spatial} (channels last: {last}) on {:?}",
                k.isa()
            );
        }
    }
}

/// One channels-first sample is cut between its groups (InstanceNorm: its planes), each part
/// the single-thread call on its channels: bitwise that call, outputs and saved statistics,
/// for groups of 1 to 10 channels, 1 to 22 a part, evenly divided among the threads or not.
#[test]
fn one_channels_first_sample_is_cut_between_groups_bitwise() {
    let pool = pool();
    for (c, groups, spatial) in [(64, 64, 1600), (320, 32, 257), (30, 5, 2400), (12, 3, 7000)] {
        let shape = Shape::nchw(1, c, 1, spatial);
        let len = c * spatial;
        let x = data(len, c as u64, 3.0, 1.5);
        let xb: Vec<bf16> = x.iter().map(|&v| bf16::from_f32(v)).collect();
        let gamma = data(c, 1, 1.0, 0.5);
        let beta = data(c, 2, 0.0, 1.0);
        let gn = GroupNorm::new(groups).gamma(&gamma).beta(&beta).then(Silu);
        for k in kernels() {
            let run = |par: bool| {
                let (mut y, mut yb) = (vec![0.0f32; len], vec![bf16::ZERO; len]);
                let (mut mean, mut inv_std) = (vec![0.0f32; groups], vec![0.0f32; groups]);
                let mut yi = vec![0.0f32; len];
                pool.install(|| {
                    // A group a channel: InstanceNorm too.
                    if groups == c {
                        let inorm = InstanceNorm::new().gamma(&gamma).beta(&beta);
                        let io = InOut::new(&x, &mut yi);
                        match par {
                            true => k.par_instance_norm(&inorm, shape, io, None),
                            false => k.instance_norm(&inorm, shape, io, None),
                        }
                        .unwrap();
                    }
                    let saved = Some(SavedStats::new(&mut mean, &mut inv_std));
                    let io = InOut::new(&x, &mut y);
                    match par {
                        true => k.par_group_norm(&gn, shape, io, saved),
                        false => k.group_norm(&gn, shape, io, saved),
                    }
                    .unwrap();
                    let io = InOut::new(&xb, &mut yb);
                    match par {
                        true => k.par_group_norm(&gn, shape, io, None),
                        false => k.group_norm(&gn, shape, io, None),
                    }
                    .unwrap();
                });
                [bits(&y), bits(&yb), bits(&mean), bits(&inv_std), bits(&yi)]
            };
            assert!(
                run(true) == run(false),
                "{c} channels, {groups} groups on {:?}",
                k.isa()
            );
        }
    }
}

#[test]
fn split_errors_leave_outputs_untouched() {
    let k = Kernels::detect();
    let shape = Shape::nchw(2, 4, 3, 3);
    let x = data(72, 1, 0.0, 1.0);
    let gn = GroupNorm::new(2);
    let mut partial = [Moments::new(); 4];
    let sentinel = Moments::of_slice(&[9.0]);
    // Phase one: a part past the end, a wrong input length, a wrong partial length.
    for (part, xs, groups) in [
        (Part::new(7, 2), &x[..18], 4),
        (Part::new(0, 2), &x[..17], 4),
        (Part::new(0, 2), &x[..18], 3),
    ] {
        partial.fill(sentinel);
        let err = k
            .group_norm_stats(&gn, shape, part, xs, &mut partial[..groups])
            .unwrap_err();
        assert_eq!(err.op(), "group_norm_stats");
        assert!(partial.iter().all(|m| *m == sentinel));
    }
    let err = k
        .group_norm_stats(
            &GroupNorm::new(3),
            shape,
            Part::whole(&shape),
            &x,
            &mut partial,
        )
        .unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::Groups {
            channels: 4,
            groups: 3
        }
    );
    // Phase three: statistics that miss a part, bad eps, bad gamma; the output untouched.
    let mut half = [Moments::new(); 4];
    k.group_norm_stats(&gn, shape, Part::new(0, 3), &x[..27], &mut half)
        .unwrap();
    let mut all = [Moments::new(); 4];
    k.group_norm_stats(&gn, shape, Part::whole(&shape), &x, &mut all)
        .unwrap();
    let gamma = [1.0f32; 3];
    let bad: [(GroupNorm<'_>, &[Moments]); 3] =
        [(gn, &half), (gn.eps(-1.0), &all), (gn.gamma(&gamma), &all)];
    for (layer, stats) in bad {
        let mut y = [7.0f32; 72];
        assert!(
            k.group_norm_apply(
                &layer,
                shape,
                Part::whole(&shape),
                stats,
                InOut::new(&x, &mut y)
            )
            .is_err()
        );
        assert!(y.iter().all(|&v| v == 7.0));
    }
    let err = k
        .group_norm_apply(
            &gn,
            shape,
            Part::whole(&shape),
            &half,
            InOut::new(&x, &mut [0.0; 72]),
        )
        .unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::StatsCount {
            group: 1,
            expected: 18,
            actual: 9
        }
    );
    // Merge: different lengths.
    assert!(split::merge(&mut all, &half[..3]).is_err());
    // BatchNorm finish: too few values, bad momentum; nothing written.
    let (mut rm, mut rv) = ([5.0f32; 4], [5.0f32; 4]);
    let bn = BatchNormTraining::new();
    let mut stats = [Moments::new(); 4];
    k.batch_norm_training_stats(shape, Part::whole(&shape), &x, &mut stats)
        .unwrap();
    let running = RunningStats::new(&mut rm, &mut rv, Momentum::PyTorch(1.5));
    assert_eq!(
        bn.finish(shape, &stats, Some(running), None)
            .unwrap_err()
            .kind(),
        ErrorKind::Momentum(1.5)
    );
    let one = Shape::nchw(1, 4, 1, 1);
    let running = RunningStats::new(&mut rm, &mut rv, Momentum::PyTorch(0.1));
    assert!(bn.finish(one, &stats, Some(running), None).is_err());
    assert!(rm.iter().chain(&rv).all(|&v| v == 5.0));
}

#[test]
fn parallel_errors_are_the_single_thread_errors() {
    let k = Kernels::detect();
    let pool = pool();
    let shape = Shape::nhwc(1, 64, 64, 32);
    let x = data(64 * 64 * 32, 3, 0.0, 1.0);
    let g31 = [1.0f32; 31];
    let y0 = vec![7.0f32; x.len()];
    pool.install(|| {
        let mut y = y0.clone();
        let ln = LayerNorm::new().gamma(&g31);
        let a = k.par_layer_norm(&ln, shape, InOut::new(&x, &mut y), None);
        let b = k.layer_norm(&ln, shape, InOut::new(&x, &mut y), None);
        assert_eq!(a.unwrap_err(), b.unwrap_err());
        let (mut m, mut v) = (vec![0.0f32; 100], vec![0.0f32; 100]);
        let a = k.par_layer_norm(
            &LayerNorm::new(),
            shape,
            InOut::new(&x, &mut y),
            Some(SavedStats::new(&mut m, &mut v)),
        );
        let b = k.layer_norm(
            &LayerNorm::new(),
            shape,
            InOut::new(&x, &mut y),
            Some(SavedStats::new(&mut m, &mut v)),
        );
        assert_eq!(a.unwrap_err(), b.unwrap_err());
        let a = k.par_group_norm(&GroupNorm::new(5), shape, InOut::new(&x, &mut y), None);
        let b = k.group_norm(&GroupNorm::new(5), shape, InOut::new(&x, &mut y), None);
        assert_eq!(a.unwrap_err(), b.unwrap_err());
        let a = k.par_group_norm(
            &GroupNorm::new(4).eps(f32::NAN),
            shape,
            InOut::new(&x, &mut y),
            None,
        );
        assert!(a.is_err());
        let bn = BatchNormTraining::new();
        let (mut rm, mut rv) = ([3.0f32; 32], [3.0f32; 31]);
        let running = RunningStats::new(&mut rm, &mut rv, Momentum::PYTORCH_DEFAULT);
        let a = k.par_batch_norm_training(&bn, shape, InOut::new(&x, &mut y), Some(running), None);
        assert_eq!(a.unwrap_err().op(), "batch_norm_training");
        assert!(rm.iter().chain(&rv).all(|&v| v == 3.0));
        let a = k.par_batch_norm_training(&bn, shape, InOut::new(&x[1..], &mut y[1..]), None, None);
        assert_eq!(a.unwrap_err().op(), "batch_norm_training");
        let (mean, var) = ([0.0f32; 31], [1.0f32; 31]);
        let a =
            k.par_batch_norm_inference(&BatchNorm::new(&mean, &var), shape, InOut::new(&x, &mut y));
        let b = k.batch_norm_inference(&BatchNorm::new(&mean, &var), shape, InOut::new(&x, &mut y));
        assert_eq!(a.unwrap_err(), b.unwrap_err());
        assert_eq!(y, y0);
    });
}
