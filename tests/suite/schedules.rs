//! The two schedules order the passes differently, never what is computed: each row and group
//! gets the same bits from either, on every instruction set, out of place and in place: long
//! rows written while the next row is summed or a block at a time, channels-first groups
//! written while the next group is summed or after their own sums. Asking for output lines
//! ahead of their stores, or not, changes no bit either, and BatchNorm inference gives the
//! same bits channels-last as channels-first.

use normkern::{
    BatchNorm, BatchNormTraining, GroupNorm, InOut, Isa, Kernels, LayerNorm, RmsNorm, SavedStats,
    Schedule, Shape,
};
use normkern_reference::Dims;

/// Values in [-1.5, 2.5).
fn data(len: usize, seed: u64) -> Vec<f32> {
    normkern_reference::signal(len, 2.0, 0.5, seed)
}

/// The output (out of place and in place, which must agree) and the saved statistics.
type Run = (Vec<f32>, Vec<f32>, Vec<f32>);

/// `op` under both schedules, each with and without output prefetch, agrees bit for bit, on
/// every set.
fn agrees(
    what: &str,
    x: &[f32],
    groups: usize,
    op: impl Fn(Kernels, InOut<'_>, &mut [f32], &mut [f32]),
) {
    let run = |k: Kernels| -> Run {
        let (mut mean, mut inv) = (vec![0.0; groups], vec![0.0; groups]);
        let mut y = vec![0.0; x.len()];
        op(k, InOut::new(x, &mut y), &mut mean, &mut inv);
        let mut xy = x.to_vec();
        let (mut m2, mut i2) = (vec![0.0; groups], vec![0.0; groups]);
        op(k, InOut::in_place(&mut xy), &mut m2, &mut i2);
        let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        let same = [(&y, &xy), (&mean, &m2), (&inv, &i2)]
            .iter()
            .all(|(a, b)| bits(a) == bits(b));
        assert!(same, "{what} on {}: in place differs", k.isa());
        (y, mean, inv)
    };
    for isa in Isa::available() {
        let k = Kernels::new(isa).unwrap();
        let bits =
            |r: &Run| [&r.0, &r.1, &r.2].map(|v| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>());
        let first = run(k
            .with_schedule(Schedule::Overlapped)
            .with_output_prefetch(true));
        assert!(first.0.iter().all(|v| v.is_finite()), "{what} on {isa}");
        for schedule in [Schedule::Overlapped, Schedule::Separate] {
            for prefetch in [true, false] {
                let other = run(k.with_schedule(schedule).with_output_prefetch(prefetch));
                assert!(
                    bits(&first) == bits(&other),
                    "{what} on {isa}: {schedule:?} with prefetch {prefetch} differs"
                );
            }
        }
    }
}

#[test]
fn long_rows() {
    // (rows, cols): whole blocks of rows, blocks with rows over, rows that are no whole
    // number of vectors, a single block.
    let shapes = [
        (8, 2048),
        (12, 4096),
        (8, 2304),
        (9, 2048),
        (8, 2051),
        (4, 4096),
        (16, 3072),
    ];
    for (rows, cols) in shapes {
        let x = data(rows * cols, (rows * cols) as u64);
        let (gamma, beta) = (data(cols, 1), data(cols, 2));
        let shape = Shape::rows(rows, cols);
        for (g, b) in [(true, true), (true, false), (false, true), (false, false)] {
            let mut ln = LayerNorm::new();
            if g {
                ln = ln.gamma(&gamma);
            }
            if b {
                ln = ln.beta(&beta);
            }
            let what = format!("layer_norm {rows}x{cols} gamma {g} beta {b}");
            agrees(&what, &x, rows, |k, io, mean, inv| {
                let saved = SavedStats::new(mean, inv);
                k.layer_norm(&ln, shape, io, Some(saved)).unwrap()
            });
        }
        let rms = RmsNorm::new().gamma(&gamma);
        agrees(
            &format!("rms_norm {rows}x{cols}"),
            &x,
            rows,
            |k, io, _, inv| k.rms_norm(&rms, shape, io, Some(inv)).unwrap(),
        );
    }
}

#[test]
fn channels_first_groups() {
    let (n, c, hw) = (3, 7, 1021);
    let x = data(n * c * hw, 3);
    let (gamma, beta) = (data(c, 4), data(c, 5));
    let p = BatchNormTraining::new().gamma(&gamma).beta(&beta);
    agrees("batch_norm_training", &x, c, |k, io, mean, inv| {
        let saved = SavedStats::new(mean, inv);
        k.batch_norm_training(&p, Shape::ncl(n, c, hw), io, None, Some(saved))
            .unwrap()
    });
}

#[test]
fn inference_and_channels_last() {
    // Channels 8 to 136 in steps of 8: rows of every whole number of vectors the parameters
    // are held in registers for (1 to 8 vectors of 8 or 16 lanes) and past it; 100: rows
    // that are no whole number of vectors, mapped one at a time; and channels-first planes.
    for c in (8..=136).step_by(8).chain([100]) {
        let (n, hw) = (2, 67);
        let x = data(n * c * hw, c as u64);
        let (gamma, beta) = (data(c, 6), data(c, 7));
        let (mean, var) = (
            data(c, 8),
            data(c, 9).iter().map(|v| v * v).collect::<Vec<_>>(),
        );
        let bn = BatchNorm::new(&mean, &var).gamma(&gamma).beta(&beta);
        for shape in [Shape::nhwc(n, 1, hw, c), Shape::nchw(n, c, 1, hw)] {
            agrees(
                &format!("batch_norm_inference {shape:?}"),
                &x,
                1,
                |k, io, _, _| k.batch_norm_inference(&bn, shape, io).unwrap(),
            );
        }
        // Both layouts compute `(x - mean) * scale + beta` per channel with the same
        // operations, so each value gets the same bits from either.
        let cf = Dims::channels_first(n, c, hw);
        let cl = cf.with_layout(true);
        let x_cl = Dims::relayout(&x, &cf, &cl);
        for isa in Isa::available() {
            let k = Kernels::new(isa).unwrap();
            let (mut y_cf, mut y_cl) = (vec![0.0; x.len()], vec![0.0; x.len()]);
            k.batch_norm_inference(&bn, Shape::nchw(n, c, 1, hw), InOut::new(&x, &mut y_cf))
                .unwrap();
            k.batch_norm_inference(&bn, Shape::nhwc(n, 1, hw, c), InOut::new(&x_cl, &mut y_cl))
                .unwrap();
            let y_cl_as_cf = Dims::relayout(&y_cl, &cl, &cf);
            let differs = (0..x.len()).find(|&i| y_cl_as_cf[i].to_bits() != y_cf[i].to_bits());
            assert_eq!(
                differs, None,
                "batch_norm_inference, {c} channels, on {isa}: layouts differ"
            );
        }
        let gn = GroupNorm::new(4).gamma(&gamma).beta(&beta);
        agrees(&format!("group_norm nhwc c {c}"), &x, 1, |k, io, _, _| {
            k.group_norm(&gn, Shape::nhwc(n, 1, hw, c), io, None)
                .unwrap()
        });
    }
}
