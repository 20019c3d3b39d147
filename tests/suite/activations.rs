//! The activations' accuracy over the whole f32 range, on every instruction set.
//!
//! Each activation (`.then(Relu | Silu | Gelu | GeluTanh)`) is run through two operators that
//! give exactly `y = x` before it, so the kernel's output is `activation(x)` for the input as
//! given:
//! - `BatchNorm::new(&[0.0], &[1.0]).eps(0.0)` on a 1-channel NCL tensor (scale 1, shift 0;
//!   the channel-affine streaming pass, `Arch::Stream` vectors);
//! - `RmsNorm::new().eps(0.0).gamma(&g)` on one row of alternating ±1 (mean square 1
//!   exactly, so the normalized row is ±1 and `y = ±1 · g`), with `g = ±x`: the row pass,
//!   `Arch::Wide` vectors (AVX-512's 16 lanes). LayerNorm's rows run the same passes and
//!   epilogue; RMSNorm's two affine forms (gamma or not) to LayerNorm's five make each
//!   activation type's row kernels a third as much code to compile here.
//!
//! Both are checked to be exact identities first (without activation). The inputs are every
//! 997th bit pattern of the 2^32 (every binade, the subnormals and NaNs included), a finer
//! sweep over the regions where the results underflow or saturate, and the special values.
//! Each result is compared with the float64 reference (`normkern-reference`, written in
//! forms that do not cancel) rounded to f32: the error is the distance in f32 ulps between
//! the result and that rounded value, counting the representable f32 values between them
//! (-0 and +0 are the same point; so a reference that underflows to 0 and a result of 0 are
//! 0 ulps apart, and a correctly rounded result is at 0). The bounds asserted are the ones
//! the activations' documentation states (`src/simd/math.rs`).
//!
//! The run-time [`AnyActivation`] is checked to give the unit type's bits on both paths, in
//! f32 and (through RMSNorm) f16: the other suites run it alone, to compile each operator
//! once rather than once per activation.
//!
//! `cargo test --test suite activations:: -- --nocapture` prints the measured maximum per
//! activation and instruction set, with the input where it occurs.

use normkern::{
    Activation, AnyActivation, BatchNorm, Gelu, GeluTanh, InOut, Isa, Kernels, NoActivation, Relu,
    RmsNorm, Shape, Silu, f16,
};
use normkern_reference::Activation as Reference;

/// The stated maximum errors, in ulps from the correctly rounded result.
const RELU_ULPS: u64 = 0;
const SILU_ULPS: u64 = 2;
const GELU_ULPS: u64 = 3;
const GELU_TANH_ULPS: u64 = 2;

/// Every `STRIDE`th bit pattern: a prime, so every low-bit pattern of the mantissa comes up.
const STRIDE: u64 = 997;

/// The position of `v` on the line of f32 values: consecutive values are 1 apart, and -0 and
/// +0 are both 0.
fn ordinal(v: f32) -> i64 {
    let bits = v.to_bits();
    let magnitude = i64::from(bits & 0x7fff_ffff);
    if bits >> 31 == 1 {
        -magnitude
    } else {
        magnitude
    }
}

/// Ulps between `y` and the reference `r` rounded to f32 (both not NaN).
fn ulps(y: f32, r: f64) -> u64 {
    ordinal(y).abs_diff(ordinal(r as f32))
}

/// Every value the activations are measured on.
fn inputs() -> Vec<f32> {
    let mut x: Vec<f32> = (0..1u64 << 32)
        .step_by(STRIDE as usize)
        .map(|bits| f32::from_bits(bits as u32))
        .collect();
    // Finer sweeps where results underflow into the subnormals or to zero (negative side:
    // SiLU near -104..-87, GELU near -14.2..-12.9, GELU-tanh near -10.6..-9.5), and where
    // they round to x (positive side), and over the small and moderate magnitudes where
    // the approximations change character.
    let sweep = |x: &mut Vec<f32>, from: f32, to: f32, step: u32| {
        let (a, b) = (
            from.to_bits().min(to.to_bits()),
            from.to_bits().max(to.to_bits()),
        );
        x.extend((a..=b).step_by(step as usize).map(f32::from_bits));
    };
    sweep(&mut x, -8.0, -128.0, 61);
    sweep(&mut x, 0.25, 32.0, 61);
    sweep(&mut x, -0.25, -8.0, 61);
    sweep(&mut x, 1e-4, 0.25, 211);
    sweep(&mut x, -1e-4, -0.25, 211);
    let specials = [
        0.0,
        -0.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        -f32::NAN,
        f32::from_bits(0x7f80_0001), // a signaling NaN
        f32::from_bits(0xffc0_1234),
        f32::from_bits(1),
        -f32::from_bits(1),
        f32::from_bits(0x007f_ffff),
        -f32::from_bits(0x007f_ffff),
        f32::MIN_POSITIVE,
        -f32::MIN_POSITIVE,
        f32::MAX,
        f32::MIN,
        f32::EPSILON,
        1.0,
        -1.0,
        1e30,
        -1e30,
        1e-30,
        -1e-30,
    ];
    x.extend(specials);
    // Around the points where each activation's result leaves the normal range, reaches the
    // smallest subnormal, or rounds to x: every value within 64 ulps of each.
    for point in [
        -87.3f32, -89.4, -102.0, -103.97, -104.0, -105.0, -12.9, -13.1, -14.0, -14.2, -14.3, -9.5,
        -9.8, -10.3, -10.5, -10.6, 5.0, 5.3, 5.6, 3.0, 3.6, 4.0, 16.6, 17.0, 17.4, 88.7,
    ] {
        let bits = point.to_bits();
        x.extend((bits - 64..=bits + 64).map(f32::from_bits));
    }
    x
}

/// `y = activation(x)` through BatchNorm inference on a 1-channel NCL tensor.
fn through_batch_norm<A: Activation>(k: Kernels, activation: A, x: &[f32]) -> Vec<f32> {
    let (mean, var) = ([0.0f32], [1.0f32]);
    let bn = BatchNorm::new(&mean, &var).eps(0.0).then(activation);
    let mut y = vec![0.0f32; x.len()];
    k.batch_norm_inference(&bn, Shape::ncl(1, 1, x.len()), InOut::new(x, &mut y))
        .unwrap();
    y
}

/// `y = activation(x)` through RMSNorm rows of alternating ±1 scaled by gamma.
fn through_rms_norm<A: Activation>(k: Kernels, activation: A, x: &[f32]) -> Vec<f32> {
    // Every row whole (a short tail padded with gamma 0): its mean square is 4096 / 4096.
    const ROW: usize = 4096;
    let row: Vec<f32> = (0..ROW)
        .map(|i| if i % 2 == 0 { 1.0 } else { -1.0 })
        .collect();
    let mut y = vec![0.0f32; x.len()];
    for (x, y) in x.chunks(ROW).zip(y.chunks_mut(ROW)) {
        let gamma: Vec<f32> = (0..ROW)
            .map(|i| match x.get(i) {
                Some(&v) if i % 2 == 0 => v,
                Some(&v) => -v,
                None => 0.0,
            })
            .collect();
        let rms = RmsNorm::new().eps(0.0).gamma(&gamma).then(activation);
        let mut out = vec![0.0f32; ROW];
        k.rms_norm(&rms, Shape::rows(1, ROW), InOut::new(&row, &mut out), None)
            .unwrap();
        y.copy_from_slice(&out[..x.len()]);
    }
    y
}

type Through = fn(Kernels, &[f32]) -> Vec<f32>;

/// The two operators, per activation type, as plain functions.
fn paths<A: Activation + Default>() -> [(&'static str, Through); 2] {
    [
        ("batch_norm", |k, x| through_batch_norm(k, A::default(), x)),
        ("rms_norm", |k, x| through_rms_norm(k, A::default(), x)),
    ]
}

/// The same values, bit for bit, or both NaN, or both zero (the sign of a zero is not
/// checked: `0 * 1 + 0` is +0 for x = -0).
fn same(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()) || (a == 0.0 && b == 0.0)
}

#[test]
fn operators_are_identities_before_the_activation() {
    let x = inputs();
    for isa in Isa::available() {
        let k = Kernels::new(isa).unwrap();
        for (name, through) in paths::<NoActivation>() {
            let y = through(k, &x);
            for (&x, &y) in x.iter().zip(&y) {
                assert!(
                    same(x, y),
                    "{name} on {isa:?}: {x:e} ({:#010x}) gave {y:e}",
                    x.to_bits()
                );
            }
        }
    }
}

/// The worst case of one activation on one path.
#[derive(Default)]
struct Worst {
    ulps: u64,
    at: f32,
    got: f32,
    want: f64,
}

/// Measures one activation against the reference on every path of every set, checks the
/// special values, and returns the worst case per set.
fn measure<A: Activation + Default>(reference: Reference, name: &str, bound: u64) {
    let x = inputs();
    let want: Vec<f64> = x.iter().map(|&v| reference.apply(f64::from(v))).collect();
    let mut failures = Vec::new();
    for isa in Isa::available() {
        let k = Kernels::new(isa).unwrap();
        for (path, through) in paths::<A>() {
            let y = through(k, &x);
            let mut worst = Worst::default();
            for ((&x, &y), &r) in x.iter().zip(&y).zip(&want) {
                if x.is_nan() {
                    assert!(y.is_nan(), "{name} {path} {isa:?}: NaN gave {y}");
                    continue;
                }
                assert!(!y.is_nan(), "{name} {path} {isa:?}: {x:e} gave NaN");
                if x.is_infinite() {
                    continue; // the limits, checked below
                }
                let e = ulps(y, r);
                if e > worst.ulps {
                    worst = Worst {
                        ulps: e,
                        at: x,
                        got: y,
                        want: r,
                    };
                }
            }
            // The limits at the infinities: +inf at +inf, -0 at -inf (0 for ReLU).
            let ends = through(k, &[f32::INFINITY, f32::NEG_INFINITY]);
            assert_eq!(ends[0], f32::INFINITY, "{name} {path} {isa:?}: +inf");
            assert_eq!(ends[1], 0.0, "{name} {path} {isa:?}: -inf");
            if !matches!(reference, Reference::Relu) {
                assert!(
                    ends[1].is_sign_negative(),
                    "{name} {path} {isa:?}: -inf gave +0"
                );
            }
            println!(
                "{name:>9} {:>8} {path:>10}: {:>2} ulps (at x = {:e}: {:e}, reference {:e})",
                isa.name(),
                worst.ulps,
                worst.at,
                worst.got,
                worst.want
            );
            if worst.ulps > bound {
                failures.push(format!(
                    "{name} on {isa:?} through {path}: {} ulps > {bound} at x = {:e} ({:#010x}): \
                     {:e}, reference {:e}",
                    worst.ulps,
                    worst.at,
                    worst.at.to_bits(),
                    worst.got,
                    worst.want
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn relu_is_exact() {
    measure::<Relu>(Reference::Relu, "relu", RELU_ULPS);
}

#[test]
fn silu_within_stated_ulps() {
    measure::<Silu>(Reference::Silu, "silu", SILU_ULPS);
}

#[test]
fn gelu_within_stated_ulps() {
    measure::<Gelu>(Reference::Gelu, "gelu", GELU_ULPS);
}

#[test]
fn gelu_tanh_within_stated_ulps() {
    measure::<GeluTanh>(Reference::GeluTanh, "gelu_tanh", GELU_TANH_ULPS);
}

/// RMSNorm of a few f16 rows (ramps through zero) followed by `activation`.
fn f16_rms_norm<A: Activation>(k: Kernels, activation: A) -> Vec<f16> {
    let (rows, cols) = (5, 83);
    let x: Vec<f16> = (0..rows * cols)
        .map(|i| f16::from_f32((i % cols) as f32 * 0.37 - 15.0 + (i / cols) as f32))
        .collect();
    let gamma: Vec<f32> = (0..cols).map(|c| 1.0 + c as f32 / 64.0).collect();
    let rms = RmsNorm::new().gamma(&gamma).then(activation);
    let mut y = vec![f16::ZERO; x.len()];
    k.rms_norm(&rms, Shape::rows(rows, cols), InOut::new(&x, &mut y), None)
        .unwrap();
    y
}

/// `AnyActivation::X` gives unit type `A`'s bits, on every path and set.
fn any_is_the_unit<A: Activation + Default>(any: AnyActivation) {
    let x = inputs();
    for isa in Isa::available() {
        let k = Kernels::new(isa).unwrap();
        for (name, through) in paths::<A>() {
            let unit = through(k, &x);
            let run_time = match name {
                "batch_norm" => through_batch_norm(k, any, &x),
                _ => through_rms_norm(k, any, &x),
            };
            for ((&x, &u), &r) in x.iter().zip(&unit).zip(&run_time) {
                assert!(
                    u.to_bits() == r.to_bits() || (u.is_nan() && r.is_nan()),
                    "{name} {any:?} on {isa:?} at {x:e}: unit type {u:e}, run-time {r:e}"
                );
            }
        }
        let (unit, run_time) = (f16_rms_norm(k, A::default()), f16_rms_norm(k, any));
        let bits = |v: &[f16]| v.iter().map(|h| h.to_bits()).collect::<Vec<_>>();
        assert_eq!(
            bits(&unit),
            bits(&run_time),
            "f16 rms_norm {any:?} on {isa:?}"
        );
    }
}

#[test]
fn any_activation_is_the_unit_type() {
    any_is_the_unit::<NoActivation>(AnyActivation::None);
    any_is_the_unit::<Relu>(AnyActivation::Relu);
    any_is_the_unit::<Silu>(AnyActivation::Silu);
    any_is_the_unit::<Gelu>(AnyActivation::Gelu);
    any_is_the_unit::<GeluTanh>(AnyActivation::GeluTanh);
}
