//! Outputs of 16 MiB and more are stored non-temporally (from the first aligned vector on).
//! Streaming changes where stores go, never what is computed, so every operator must give, bit
//! for bit, what it gives on a small tensor holding the same independent rows, planes or
//! channels, on every instruction set. Buffers start at a misaligned offset to exercise the
//! unaligned head before the streaming stores.

use normkern::{
    BatchNorm, InOut, InstanceNorm, Isa, Kernels, LayerNorm, Layout, RmsNorm, SavedStats, Shape,
};

/// More values than the streaming threshold (4 Mi values).
const BIG: usize = (4 << 20) + 4096 * 3;

/// Values in [-1.5, 2.5).
fn data(len: usize, seed: u64) -> Vec<f32> {
    normkern_reference::signal(len, 2.0, 0.5, seed)
}

/// `op` on all of `x`, and on its first `small` values alone, agree bit for bit there.
fn agrees(what: &str, x: &[f32], small: usize, op: impl Fn(Kernels, InOut<'_>)) {
    for isa in Isa::available() {
        let k = Kernels::new(isa).unwrap();
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
