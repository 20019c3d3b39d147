//! Rounding to f16 and bf16 is `half`'s, bit for bit, on every instruction set: F16C and
//! AVX-512's `vcvtps2ph`, the bf16 shift sequence, and AVX-512 BF16's `vcvtneps2bf16` with its
//! fix-up for the subnormals it would flush. Checked over the edges (subnormals, ties, the
//! rounding up to infinity, NaN) and a sweep of f32 bit patterns, in vectors that hold a
//! subnormal and vectors that hold none; through AVX-512 BF16, every subnormal.

use crate::common::engine::Elem;
use normkern::{
    AnyActivation, BatchNorm, InOut, Isa, Kernels, LayerNorm, Residual, RmsNorm, Shape, bf16, f16,
};

/// The f32 values to round: the edges, then every 40,009th bit pattern (107k values, every
/// binade of both signs), where vectors of subnormals are followed by long runs of normals.
fn values() -> Vec<f32> {
    let edges: [u32; 22] = [
        0x0000_0001, // the smallest subnormal
        0x3f80_8000, // a tie between two bf16 values: to even (down)
        0x0000_8000, // a subnormal tie: to even (0)
        0x3f81_8000, // a tie: to even (up)
        0x0001_8000, // a subnormal tie: to even (up)
        0x007f_ffff, // the largest subnormal: rounds up to the smallest normal
        0x8000_0001,
        0x807f_ffff,
        0x0080_0000, // the smallest normal
        0x7f7f_ffff, // the largest finite f32: rounds to infinity in bf16
        0x7f7f_7fff, // stays finite in bf16
        0x477f_f000, // f16's largest finite, 65520: rounds to infinity in f16
        0x3880_0000, // f16's smallest normal
        0x3380_0000, // f16's smallest subnormal
        0x3300_0000, // half of it: a tie, to even (0)
        0x7f80_0000, // infinity
        0xff80_0000,
        0x7fc0_0000, // quiet NaN
        0x7f80_0001, // signaling NaN: stays NaN
        0xffff_ffff,
        0x4049_0fdb, // pi
        0x3dcc_cccd, // 0.1
    ];
    let sweep = (0..u32::MAX / 40_009).map(|i| i * 40_009);
    edges.into_iter().chain(sweep).map(f32::from_bits).collect()
}

/// Which of `got` differ from `want` rounded to `T` (any NaN matching a NaN), as a report.
fn mismatches<T: Elem>(what: &str, got: &[T], want: &[f32]) -> Vec<String> {
    got.iter()
        .zip(want)
        .filter(|&(&g, &w)| {
            let r = T::round(w);
            if w.is_nan() {
                !g.widen().is_nan()
            } else {
                g.bits() != r.bits()
            }
        })
        .take(4)
        .map(|(g, &w)| {
            format!(
                "{what} {}: {w:e} ({:#010x}) gave {:#06x}, want {:#06x}",
                T::NAME,
                w.to_bits(),
                g.bits(),
                T::round(w).bits()
            )
        })
        .collect()
}

/// BatchNorm inference with mean 0, variance 1 and eps 0 on ones, channels-last: each
/// output is its channel's gamma (`1 * gamma + 0`, exact in f32), rounded once. With
/// `AnyActivation` (no activation, but one the kernels must treat as costly), the streaming
/// pass runs in each set's widest registers.
fn batch_norm_rounds_gamma<T: Elem>(k: Kernels, wide: bool, values: &[f32]) -> Vec<String> {
    // Zeros (whose sign `+ 0` changes) and infinities (`0 * inf` in the shift) left out.
    let gamma: Vec<f32> = values
        .iter()
        .copied()
        .filter(|v| *v != 0.0 && !v.is_infinite())
        .collect();
    let c = gamma.len();
    let (mean, var) = (vec![0.0; c], vec![1.0; c]);
    let x = vec![T::round(1.0); 2 * c];
    let mut y = vec![T::round(0.0); 2 * c];
    let bn = BatchNorm::new(&mean, &var).gamma(&gamma).eps(0.0);
    let shape = Shape::nhwc(1, 1, 2, c);
    let io = InOut::new(&x, &mut y);
    let result = match wide {
        true => k.batch_norm_inference(&bn.then(AnyActivation::None), shape, io),
        false => k.batch_norm_inference(&bn, shape, io),
    };
    result.unwrap();
    let want: Vec<f32> = gamma.iter().chain(&gamma).map(|&g| 1.0 * g + 0.0).collect();
    mismatches(&format!("{} batch_norm wide={wide}", k.isa()), &y, &want)
}

/// The fused residual add's sum output, `(0 + 0) + bias`, is each bias value rounded once:
/// written in the normalize pass (RMSNorm) or by the add pass (LayerNorm).
fn residual_sum_rounds_bias<T: Elem>(k: Kernels, rms: bool) -> Vec<String> {
    let bias = values();
    let c = bias.len();
    let zeros = vec![T::round(0.0); 2 * c];
    let mut y = zeros.clone();
    let mut sum = zeros.clone();
    let (shape, io) = (Shape::rows(2, c), InOut::new(&zeros, &mut y));
    let residual = Residual::new(&zeros).bias(&bias).sum_to(&mut sum);
    let result = match rms {
        true => k.add_rms_norm(&RmsNorm::new(), shape, io, residual, None),
        false => k.add_layer_norm(&LayerNorm::new(), shape, io, residual, None),
    };
    result.unwrap();
    let want: Vec<f32> = bias.iter().chain(&bias).map(|&b| (0.0 + 0.0) + b).collect();
    mismatches(&format!("{} residual sum rms={rms}", k.isa()), &sum, &want)
}

fn rounds_as_half<T: Elem>() {
    let mut report = vec![];
    for isa in Isa::available() {
        let k = Kernels::new(isa).unwrap();
        for flag in [false, true] {
            report.extend(batch_norm_rounds_gamma::<T>(k, flag, &values()));
            report.extend(residual_sum_rounds_bias::<T>(k, flag));
        }
    }
    assert!(report.is_empty(), "{}", report.join("\n"));
}

#[test]
fn bf16_rounding_is_halfs_on_every_set() {
    rounds_as_half::<bf16>();
}

#[test]
fn f16_rounding_is_halfs_on_every_set() {
    rounds_as_half::<f16>();
}

/// Every subnormal f32 of both signs (16.8 million) rounds to bf16 as `half` rounds it through
/// AVX-512 BF16's conversion and its fix-up for the subnormals (see `src/simd/x86/bf16.rs`), in
/// its 512-bit and 256-bit forms. The other sets' shift sequence is checked by the sweep above;
/// this CPU may not have the set.
#[test]
fn bf16_rounding_of_every_subnormal_on_avx512_bf16() {
    let Ok(k) = Kernels::new(Isa::Avx512Bf16) else {
        eprintln!("AVX-512 BF16 not available: nothing to check");
        return;
    };
    let subnormals: Vec<f32> = (1..0x0080_0000u32)
        .flat_map(|bits| [bits, bits | 0x8000_0000])
        .map(f32::from_bits)
        .collect();
    let mut report = vec![];
    for wide in [false, true] {
        report.extend(batch_norm_rounds_gamma::<bf16>(k, wide, &subnormals));
    }
    assert!(report.is_empty(), "{}", report.join("\n"));
}
