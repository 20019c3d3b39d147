//! Outputs of 16 MiB and more are stored non-temporally (from the first aligned vector on).
//! Streaming changes where stores go, never what is computed, so every operator must give, bit
//! for bit, what it gives on a small tensor holding the same independent rows, planes or
//! channels, on every instruction set. Buffers start at a misaligned offset to exercise the
//! unaligned head before the streaming stores.

use normkern::{
    BatchNorm, BatchNormTraining, InOut, InstanceNorm, Isa, Kernels, LayerNorm, Layout, RmsNorm,
    SavedStats, Schedule, Shape,
};

/// More values than the streaming threshold (4 Mi values).
const BIG: usize = (4 << 20) + 4096 * 3;

/// Values in [-1.5, 2.5).
fn data(len: usize, seed: u64) -> Vec<f32> {
    normkern_reference::signal(len, 2.0, 0.5, seed)
}

/// Every instruction set, in both schedules (each streams in its own passes).
fn all_kernels() -> impl Iterator<Item = Kernels> {
    Isa::available().flat_map(|isa| {
        let k = Kernels::new(isa).unwrap();
        [Schedule::Overlapped, Schedule::Separate].map(|s| k.with_schedule(s))
    })
}

/// `op` on all of `x`, and on its first `small` values alone, agree bit for bit there.
fn agrees(what: &str, x: &[f32], small: usize, op: impl Fn(Kernels, InOut<'_>)) {
    for k in all_kernels() {
        let isa = format!("{} {:?}", k.isa(), k.schedule());
        // One value in, so the output is misaligned for every vector width.
        let mut big = vec![0.0f32; x.len() + 1];
        op(k, InOut::new(x, &mut big[1..]));
        let mut alone = vec![0.0f32; small];
        op(k, InOut::new(&x[..small], &mut alone));
        let same = big[1..=small]
            .iter()
            .zip(&alone)
            .all(|(a, b)| a.to_bits() == b.to_bits());
        assert!(
            same,
            "{what} on {isa}: streamed output differs from the cached one"
        );
        // In place too.
        let mut xy = x.to_vec();
        op(k, InOut::in_place(&mut xy));
        assert!(
            xy[..small]
                .iter()
                .zip(&alone)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "{what} on {isa}: in-place streamed output differs"
        );
    }
}

/// `[N, C, hw]` or `[N, hw, C]`, with as many samples as `io`'s input holds.
fn samples(layout: Layout, io: &InOut<'_>, c: usize, hw: usize) -> Shape {
    let n = io.input_len() / (c * hw);
    match layout {
        Layout::ChannelsFirst => Shape::ncl(n, c, hw),
        _ => Shape::ntc(n, hw, c),
    }
}

#[test]
fn layer_norm_and_rms_norm_rows() {
    let cols = 2051;
    let x = data(BIG / cols * cols, 1);
    let gamma = data(cols, 2);
    let beta = data(cols, 3);
    // Each call's rows: as many as its input holds.
    let rows = |io: &InOut<'_>| Shape::rows(io.input_len() / cols, cols);
    let ln = LayerNorm::new().gamma(&gamma).beta(&beta);
    agrees("layer_norm", &x, 3 * cols, |k, io| {
        k.layer_norm(&ln, rows(&io), io, None).unwrap()
    });
    let rms = RmsNorm::new().gamma(&gamma);
    agrees("rms_norm", &x, 3 * cols, |k, io| {
        k.rms_norm(&rms, rows(&io), io, None).unwrap()
    });
}

#[test]
fn batch_norm_inference_both_layouts() {
    let (c, hw) = (37, 1021);
    let n = BIG / (c * hw) + 1;
    let x = data(n * c * hw, 4);
    let (mean, var) = (
        data(c, 5),
        data(c, 6).iter().map(|v| v.abs() + 0.1).collect::<Vec<_>>(),
    );
    let (gamma, beta) = (data(c, 7), data(c, 8));
    let bn = BatchNorm::new(&mean, &var).gamma(&gamma).beta(&beta);
    for layout in [Layout::ChannelsFirst, Layout::ChannelsLast] {
        agrees(
            &format!("batch_norm_inference {layout:?}"),
            &x,
            c * hw,
            |k, io| {
                let shape = samples(layout, &io, c, hw);
                k.batch_norm_inference(&bn, shape, io).unwrap()
            },
        );
    }
}

#[test]
fn instance_norm_both_layouts() {
    let (c, hw) = (24, 4099);
    let n = BIG / (c * hw) + 1;
    let x = data(n * c * hw, 9);
    let (gamma, beta) = (data(c, 10), data(c, 11));
    let p = InstanceNorm::new().gamma(&gamma).beta(&beta);
    for layout in [Layout::ChannelsFirst, Layout::ChannelsLast] {
        agrees(&format!("instance_norm {layout:?}"), &x, c * hw, |k, io| {
            let shape = samples(layout, &io, c, hw);
            let (mut mean, mut inv) = (vec![0.0; shape.n() * c], vec![0.0; shape.n() * c]);
            let saved = SavedStats::new(&mut mean, &mut inv);
            k.instance_norm(&p, shape, io, Some(saved)).unwrap()
        });
    }
}

/// A channel's statistics span the batch, so the small tensor is two channels' planes
/// gathered from the big one: each plane of the big output starts at its own misalignment.
#[test]
fn batch_norm_training_channels_first() {
    let (c, hw) = (5, 1021);
    let n = BIG / (c * hw) + 1;
    let x = data(n * c * hw, 12);
    let (gamma, beta) = (data(c, 13), data(c, 14));
    let p = BatchNormTraining::new().gamma(&gamma).beta(&beta);
    let kept = 2;
    let planes = |t: &[f32], channels: usize| -> Vec<f32> {
        (0..n)
            .flat_map(|b| &t[b * channels * hw..][..kept * hw])
            .copied()
            .collect()
    };
    let small_x = planes(&x, c);
    let small_p = BatchNormTraining::new()
        .gamma(&gamma[..kept])
        .beta(&beta[..kept]);
    for k in all_kernels() {
        let mut alone = vec![0.0f32; small_x.len()];
        k.batch_norm_training(
            &small_p,
            Shape::ncl(n, kept, hw),
            InOut::new(&small_x, &mut alone),
            None,
            None,
        )
        .unwrap();
        let mut big = vec![0.0f32; x.len() + 1];
        let io = InOut::new(&x, &mut big[1..]);
        k.batch_norm_training(&p, Shape::ncl(n, c, hw), io, None, None)
            .unwrap();
        let same = planes(&big[1..], c)
            .iter()
            .zip(&alone)
            .all(|(a, b)| a.to_bits() == b.to_bits());
        assert!(
            same,
            "batch_norm_training on {} {:?}: streamed output differs from the cached one",
            k.isa(),
            k.schedule()
        );
    }
}
