//! Elementwise functions over [`Vector`], for the activation epilogues: branch-free, written
//! once for every instruction set.

// Coefficients as published; the compiler rounds them to f32.
#![allow(clippy::excessive_precision)]

use super::Vector;

/// `e^x` for `x <= 0` as `(mantissa, exponent)`: `e^x = mantissa * 2^exponent`, mantissa in
/// [0.7, 1.42), exponent an integer-valued float down to -251 (never applied here, so the
/// caller can scale a product once, straight into the subnormals without double rounding).
///
/// # Safety
/// `V`'s instruction set is available.
#[inline(always)]
unsafe fn exp_parts<V: Vector>(x: V) -> (V, V) {
    // SAFETY: register arithmetic only.
    unsafe {
        const LOG2E: f32 = core::f32::consts::LOG2_E;
        // ln 2 split so that `n * LN2_HI` is exact for |n| < 2^9.
        const LN2_HI: f32 = 0.693_145_75;
        const LN2_LO: f32 = 1.428_606_8e-6;
        // Far below where any product with e^x underflows (|x| <= 200 times e^-174 is under
        // 2^-150): clamping keeps n within what `scale` applies.
        let x = x.max(V::splat(-174.0));
        let magic = V::splat(12_582_912.0); // 1.5 * 2^23: adding it rounds to an integer
        let n = x.mul_add(V::splat(LOG2E), magic).sub(magic);
        let r = n.mul_add(V::splat(-LN2_HI), x);
        let r = n.mul_add(V::splat(-LN2_LO), r);
        // e^r on |r| <= ln2 / 2: degree-6 Taylor, error below 2e-8 relative.
        let mut p = V::splat(1.0 / 720.0);
        p = p.mul_add(r, V::splat(1.0 / 120.0));
        p = p.mul_add(r, V::splat(1.0 / 24.0));
        p = p.mul_add(r, V::splat(1.0 / 6.0));
        p = p.mul_add(r, V::splat(0.5));
        p = p.mul_add(r, V::splat(1.0));
        p = p.mul_add(r, V::splat(1.0));
        (p, n)
    }
}

/// `v * 2^n` for integer-valued `n` in `-252..=0`, rounded once (in two steps, the first
/// exact for `v` of magnitude near 1, the second rounding where the result is subnormal).
///
/// # Safety
/// `V`'s instruction set is available.
#[inline(always)]
unsafe fn scale<V: Vector>(v: V, n: V) -> V {
    // SAFETY: register arithmetic only.
    unsafe {
        // n = a + b with both in -126..=0.
        let a = n.max(V::splat(-126.0));
        let b = n.sub(a).max(V::splat(-126.0));
        v.mul(a.pow2i()).mul(b.pow2i())
    }
}

/// `sigmoid(x) = 1 / (1 + e^-x)` times `x`, and the activations built on it.
///
/// `x * sigmoid(x)`: with `t = e^-|x|`, `sigmoid(x)` is `1 / (1 + t)` for `x >= 0` and
/// `t / (1 + t)` below, so nothing overflows; where `t` is tiny the product is scaled by its
/// power of two last, rounding once.
///
/// # Safety
/// `V`'s instruction set is available.
#[inline(always)]
pub(crate) unsafe fn silu<V: Vector>(x: V) -> V {
    // SAFETY: register arithmetic only.
    unsafe { x_sigmoid(x, x) }
}

/// `x * sigmoid(k)`.
///
/// # Safety
/// `V`'s instruction set is available.
#[inline(always)]
unsafe fn x_sigmoid<V: Vector>(x: V, k: V) -> V {
    // SAFETY: register arithmetic only.
    unsafe {
        let (m, n) = exp_parts(k.abs().mul(V::splat(-1.0)));
        let one = V::splat(1.0);
        let t = scale(m, n);
        let denominator = one.add(t);
        // k >= 0: x / (1 + t); k < 0: x * t / (1 + t), scaled last. Below x = -200 the result
        // underflows to -0 (k <= x for both users), as it does with x clamped there.
        let positive = x.div(denominator);
        let tail_x = x.max(V::splat(-200.0));
        let negative = scale(tail_x.mul(m).div(denominator), n);
        k.select_negative(negative, positive)
    }
}

/// `max(x, 0)`, a NaN kept (Relu must poison as the normalization does).
///
/// # Safety
/// `V`'s instruction set is available.
#[inline(always)]
pub(crate) unsafe fn relu<V: Vector>(x: V) -> V {
    // SAFETY: register arithmetic only. `Vector::max` returns its second operand when either
    // is NaN, so a NaN `x` comes through.
    unsafe { V::splat(0.0).max(x) }
}

/// GELU with the tanh approximation: `0.5 x (1 + tanh(u)) = x * sigmoid(2u)` for
/// `u = √(2/π) (x + 0.044715 x³)`, which has no cancellation for negative `x`.
///
/// # Safety
/// `V`'s instruction set is available.
#[inline(always)]
pub(crate) unsafe fn gelu_tanh<V: Vector>(x: V) -> V {
    // SAFETY: register arithmetic only.
    unsafe {
        const TWO_SQRT_2_OVER_PI: f32 = 1.595_769_1; // 2 √(2/π)
        let x2 = x.mul(x);
        let inner = x2.mul_add(V::splat(0.044_715), V::splat(1.0)).mul(x);
        x_sigmoid(x, inner.mul(V::splat(TWO_SQRT_2_OVER_PI)))
    }
}

/// GELU: `x * Φ(x) = 0.5 x erfc(-x / √2)`. `erfc(z)` for `z >= 0` is `t * e^(-z² + P(t))` with
/// `t = 1 / (1 + z / 2)` (a Chebyshev fit, relative error below 1.2e-7); `z²` is formed
/// from a split of `z` so that its rounding does not grow with `z`; for `x > 0`,
/// `Φ(x) = 1 - Φ(-x)`.
///
/// # Safety
/// `V`'s instruction set is available.
#[inline(always)]
pub(crate) unsafe fn gelu<V: Vector>(x: V) -> V {
    // SAFETY: register arithmetic only.
    unsafe {
        const FRAC_1_SQRT_2: f32 = core::f32::consts::FRAC_1_SQRT_2;
        let one = V::splat(1.0);
        let z = x.abs().mul(V::splat(FRAC_1_SQRT_2));
        let t = one.div(z.mul_add(V::splat(0.5), one));
        const C: [f32; 10] = [
            0.170_872_77,
            -0.822_152_23,
            1.488_515_87,
            -1.135_203_98,
            0.278_868_07,
            -0.186_288_06,
            0.096_784_18,
            0.374_091_96,
            1.000_023_68,
            -1.265_512_23,
        ];
        let mut p = V::splat(C[0]);
        for &c in &C[1..] {
            p = p.mul_add(t, V::splat(c));
        }
        // z² = s² + (z - s)(z + s), s the top 12 bits of z (Veltkamp split): s² is exact.
        let split = z.mul(V::splat(4097.0));
        let s = split.sub(split.sub(z));
        let low = z.sub(s).mul(z.add(s));
        let (m, n) = exp_parts(p.sub(s.mul(s)).sub(low));
        // tail = Φ(-|x|) = 0.5 erfc(z) = 0.5 t m 2^n.
        let half = V::splat(0.5);
        let tail_scaled = t.mul(m).mul(half);
        let tail = scale(tail_scaled, n);
        // x < 0: x * tail (scaled last); x >= 0: x * (1 - tail).
        let negative = scale(x.max(V::splat(-200.0)).mul(tail_scaled), n);
        let positive = x.mul(one.sub(tail));
        x.select_negative(negative, positive)
    }
}
