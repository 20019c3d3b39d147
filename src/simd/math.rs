//! Elementwise functions over [`Vector`], for the activation epilogues: branch-free, written
//! once for every instruction set, and accurate over the whole f32 range (the subnormal tails
//! and the saturating ends included) without depending on fused multiply-add.
//!
//! Each function's "max error" is in ulps from the correctly rounded result (the distance
//! in representable f32 values to the float64 reference rounded to f32), the maximum measured
//! on every instruction set over every 997th f32 bit pattern, finer sweeps of the underflow
//! and saturation regions and the special values (`tests/suite/activations.rs`, which asserts
//! these bounds), and once over every 97th bit pattern and over every f32 where the results
//! neither saturate nor underflow (|x| from 0.5 to 120 for SiLU, to 15 for GELU, to 11 for
//! GELU-tanh; every 7th or 13th below 0.5). In fractions of an ulp of the exact value the
//! maxima there are 1.77 (SiLU), 3.29 (GELU, 2.95 with FMA) and 1.88 (GELU-tanh).
//!
//! What keeps them within a few ulps:
//! - arguments of `exp` that are large (`x²/2` up to 105, the tanh approximation's `2u` up
//!   to 113) are carried as two f32 (`hi + lo`, exact products by [`two_prod`]), and reduced
//!   by `ln 2` in two parts, so that the reduced argument is exact to far below an ulp;
//! - `exp` returns `e^r - 1` unrounded next to its power of two, so that `1 + e^-k` rounds
//!   once;
//! - the power of two is applied last, in two steps of which the first is exact, so a result
//!   in the subnormals rounds once;
//! - each result is one quotient of terms that each round once or twice, never a difference
//!   that cancels (GELU near 0 takes a form of its own for that);
//! - NaN reaches the result through `x` itself in every lane, and the infinities through
//!   clamped arguments.

use super::Vector;

/// `(p, e)` with `p = a * b` rounded and `a * b = p + e` exactly, for `|a|, |b| < 2^100` and
/// products far from underflow (near it, `e` is only close): fused multiply-subtract where
/// the set has it, Veltkamp and Dekker's splitting otherwise.
///
/// # Safety
/// `V`'s instruction set is available.
#[inline(always)]
unsafe fn two_prod<V: Vector>(a: V, b: V) -> (V, V) {
    // SAFETY: register arithmetic only.
    unsafe {
        let p = a.mul(b);
        if V::FUSED {
            return (p, a.mul_sub(b, p));
        }
        let (ah, al) = split(a);
        let (bh, bl) = split(b);
        // Each partial product has at most 24 bits and each sum is exact.
        let e = ah
            .mul(bh)
            .sub(p)
            .add(ah.mul(bl))
            .add(al.mul(bh))
            .add(al.mul(bl));
        (p, e)
    }
}

/// `a = hi + lo` with `hi` the top 12 bits of `a` and `lo` the rest (Veltkamp's split).
///
/// # Safety
/// `V`'s instruction set is available.
#[inline(always)]
unsafe fn split<V: Vector>(a: V) -> (V, V) {
    // SAFETY: register arithmetic only.
    unsafe {
        let c = a.mul(V::splat(4097.0)); // 2^12 + 1
        let hi = c.sub(c.sub(a));
        (hi, a.sub(hi))
    }
}

/// `(s, e)` with `s = a + b` rounded and `a + b = s + e` exactly, for `|a| >= |b|`
/// (Dekker's fast two-sum).
///
/// # Safety
/// `V`'s instruction set is available.
#[inline(always)]
unsafe fn fast_two_sum<V: Vector>(a: V, b: V) -> (V, V) {
    // SAFETY: register arithmetic only.
    unsafe {
        let s = a.add(b);
        (s, b.sub(s.sub(a)))
    }
}

/// `-v`, exactly.
///
/// # Safety
/// `V`'s instruction set is available.
#[inline(always)]
unsafe fn neg<V: Vector>(v: V) -> V {
    // SAFETY: register arithmetic only.
    unsafe { v.mul(V::splat(-1.0)) }
}

/// `c[0] + x (c[1] + x (c[2] + ...))`.
///
/// # Safety
/// `V`'s instruction set is available.
#[inline(always)]
unsafe fn polynomial<V: Vector, const N: usize>(x: V, c: &[f32; N]) -> V {
    // SAFETY: register arithmetic only.
    unsafe {
        let mut p = V::splat(c[N - 1]);
        for &coefficient in c[..N - 1].iter().rev() {
            p = p.mul_add(x, V::splat(coefficient));
        }
        p
    }
}

/// `e^(hi + lo) = (1 + s) * 2^n` as `(s, n)`: `s` in [-0.3, 0.42], `n` an integer-valued float,
/// for `|hi| <= 125` and `|lo| <= 2^-12` (a NaN gives a NaN `s`). The error of `1 + s`, with
/// `s` not rounded into it, is below 2^-25 relative.
///
/// # Safety
/// `V`'s instruction set is available.
#[inline(always)]
unsafe fn exp_parts<V: Vector>(hi: V, lo: V) -> (V, V) {
    // SAFETY: register arithmetic only.
    unsafe {
        const LOG2E: f32 = core::f32::consts::LOG2_E;
        // ln 2 = LN2_HI + LN2_LO: LN2_HI has 15 bits, so `n * LN2_HI` is exact for |n| < 2^9,
        // and `hi - n * LN2_HI` is exact too (the two are within a factor of 2, or n = 0).
        const LN2_HI: f32 = 0.693_145_75;
        const LN2_LO: f32 = 1.428_606_8e-6;
        let magic = V::splat(12_582_912.0); // 1.5 * 2^23: adding it rounds to an integer
        let n = hi.mul_add(V::splat(LOG2E), magic).sub(magic);
        let r_hi = n.mul_add(V::splat(-LN2_HI), hi);
        let r_lo = n.mul_add(V::splat(-LN2_LO), lo);
        // r = r_hi + r_lo rounds by at most 2^-26 (|r| < 0.35), a relative error of e^r below
        // 2^-26.
        let r = r_hi.add(r_lo);
        // e^r = 1 + r + r² q(r) on |r| <= 0.3476 (ln 2 / 2 and the reduction's slack):
        // a minimax fit, relative error below 3.3e-9 with these f32 coefficients.
        const Q: [f32; 5] = [
            0.499_999_94,
            0.166_665_2,
            0.041_668_34,
            0.008_368_899,
            0.001_381_398_4,
        ];
        let s = r.mul(r).mul_add(polynomial(r, &Q), r);
        (s, n)
    }
}

/// `2^(n + 64)` for integer-valued `n` in `-190..=63`: a power of two to scale by, exactly,
/// as [`scale`] does, and that times 2^-64 is `2^n` itself where that is representable (a
/// subnormal or 0 below).
///
/// # Safety
/// `V`'s instruction set is available.
#[inline(always)]
unsafe fn pow2_up<V: Vector>(n: V) -> V {
    // SAFETY: register arithmetic only; the exponent is in -126..=127.
    unsafe { n.add(V::splat(64.0)).pow2i() }
}

/// 2^-64.
const DOWN: f32 = f32::from_bits(0x1f80_0000);

/// `v * 2^n` with `up = 2^(n + 64)` from [`pow2_up`], rounded once: `v * up` is exact where it
/// scales up, and where it scales down it stays normal (every caller's `|v|` is above 2^-5
/// where `n < -64`), and the product with 2^-64 rounds where the result is subnormal.
///
/// # Safety
/// `V`'s instruction set is available.
#[inline(always)]
unsafe fn scale<V: Vector>(v: V, up: V) -> V {
    // SAFETY: register arithmetic only.
    unsafe { v.mul(up).mul(V::splat(DOWN)) }
}

/// `a / d` for `|a| <= 2^100` and `d` in `[2^-8, 2^16]`, within 0.5 ulp and 2^-40 relative
/// of the exact quotient (so almost always the correctly rounded one).
///
/// Where the set divides by its estimate ([`Vector::DIVIDE_BY_ESTIMATE`]; it has fused
/// multiply-add too), the estimate refined by one Newton step (relative error below 2^-21)
/// gives the quotient, corrected once by its remainder (exact with FMA): six cheap operations
/// in place of a division that issues once per ~10 cycles per 512-bit register and bounded
/// the activations' speed there. Elsewhere it is the division.
///
/// # Safety
/// `V`'s instruction set is available.
#[inline(always)]
unsafe fn div_bounded<V: Vector>(a: V, d: V) -> V {
    // SAFETY: register arithmetic only.
    unsafe {
        if !(V::FUSED && V::DIVIDE_BY_ESTIMATE) {
            return a.div(d);
        }
        let nd = neg(d);
        let r0 = d.recip_estimate();
        let r1 = r0.mul_add(nd.mul_add(r0, V::splat(1.0)), r0);
        let q0 = a.mul(r1);
        let remainder = nd.mul_add(q0, a);
        remainder.mul_add(r1, q0)
    }
}

/// `x * sigmoid(x) = x / (1 + e^-x)`.
///
/// Max error: 2 ulps on every instruction set (measured: see the module's note).
///
/// `e^-x = (1 + s) 2^n` from [`exp_parts`]; for `x >= 0` (`n <= 0`) the result is
/// `x / ((1 + 2^n) + s 2^n)`, for `x < 0` (`n >= 0`) it is `x / ((1 + 2^-n) + s) * 2^-n`,
/// the power of two applied last. Each denominator rounds once (and by up to 2^-26 more), and
/// the quotient once. The argument is clamped to `|x| <= 120`, where the result has long
/// rounded to `x` or to -0.
///
/// # Safety
/// `V`'s instruction set is available.
#[inline(always)]
pub(crate) unsafe fn silu<V: Vector>(x: V) -> V {
    // SAFETY: register arithmetic only.
    unsafe {
        const LIMIT: f32 = 120.0;
        // -x clamped to [-LIMIT, LIMIT]; `min` and `max` return their second operand for a
        // NaN, so a NaN comes through.
        let u = V::splat(-LIMIT).max(V::splat(LIMIT).min(neg(x)));
        x_sigmoid(x, u, V::splat(0.0), LIMIT)
    }
}

/// `x * sigmoid(k) = x / (1 + e^-k)` for `-k = u_hi + u_lo`, `k` of the sign of `x` (`k`
/// clamped by the caller where the result is `x` or -0, `|u_hi| <= 125`; `x` is clamped to
/// `-limit` here, where the result has underflowed).
///
/// # Safety
/// `V`'s instruction set is available.
#[inline(always)]
unsafe fn x_sigmoid<V: Vector>(x: V, u_hi: V, u_lo: V, limit: f32) -> V {
    // SAFETY: register arithmetic only.
    unsafe {
        let one = V::splat(1.0);
        let (s, n) = exp_parts(u_hi, u_lo);
        // 2^-|n|: 2^n for x >= 0 (n <= 0), 2^-n for x < 0 (n >= 0); 0 or subnormal where
        // it no longer counts next to 1.
        let up = pow2_up(neg(n.abs()));
        let w = up.mul(V::splat(DOWN));
        // 1 + e^-k is (1 + w) + s for x < 0 (scaled by 2^-n) and (1 + w) + s w for x >= 0.
        // `1 + w` is exact only for w >= 2^-23: below, w - 2^-23 goes with the small term.
        let w_hi = w.max(V::splat(f32::EPSILON)); // 2^-23
        let small = x.select_negative(s, s.mul(w)).add(w.sub(w_hi));
        let denominator = one.add(w_hi).add(small);
        // `x` clamped to ±limit for the division (a NaN comes through `min` and `max`);
        // above `limit` the result is `x` itself.
        let clamped = V::splat(-limit).max(V::splat(limit).min(x));
        let quotient = div_bounded(clamped, denominator);
        let quotient = V::splat(limit).sub(x).select_negative(x, quotient);
        x.select_negative(scale(quotient, up), quotient)
    }
}

/// `max(x, 0)`, a NaN kept (Relu must poison as the normalization does). Exact.
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
/// Max error: 2 ulps on every instruction set (measured: see the module's note).
///
/// For `x < 0` the result is `x e^2u / (1 + e^2u)`, whose relative error is the absolute
/// error of `2u` (up to 113 in magnitude before the result underflows): `-2u = x (-c1 - c3 x²)`
/// is computed in two f32 (exact products, the constants `c1 = 2√(2/π)` and
/// `c3 = 0.044715 c1` each as two f32, the sum's rounding error kept), good to about 2^-40
/// relative, then goes through [`x_sigmoid`]. `x` is clamped to ±11, where the result is `x`
/// or has underflowed to -0.
///
/// # Safety
/// `V`'s instruction set is available.
#[inline(always)]
pub(crate) unsafe fn gelu_tanh<V: Vector>(x: V) -> V {
    // SAFETY: register arithmetic only.
    unsafe {
        const LIMIT: f32 = 11.0;
        // c1 = 2 √(2/π) and c3 = 0.044715 c1, each split into its f32 and the remainder.
        const C1: f64 = 1.595_769_121_605_730_8;
        const C3: f64 = C1 * 0.044_715;
        const C1_HI: f32 = C1 as f32;
        const C1_LO: f32 = (C1 - C1_HI as f64) as f32;
        const C3_HI: f32 = C3 as f32;
        const C3_LO: f32 = (C3 - C3_HI as f64) as f32;
        // x clamped to [-LIMIT, LIMIT] (a NaN comes through `min` and `max`).
        let c = V::splat(-LIMIT).max(V::splat(LIMIT).min(x));
        // -k = c (-c1 - c3 c²), in two f32 at each step: c², -c3 c², the sum with -c1 (its
        // rounding error kept exactly), then the product with c.
        let (c2_hi, c2_lo) = two_prod(c, c);
        let (t_hi, e) = two_prod(V::splat(-C3_HI), c2_hi);
        let t_lo = V::splat(-C3_HI).mul_add(c2_lo, V::splat(-C3_LO).mul_add(c2_hi, e));
        // Both terms are negative: the one of larger magnitude is the smaller.
        let (big, small) = (V::splat(-C1_HI).min(t_hi), V::splat(-C1_HI).max(t_hi));
        let (w_hi, e) = fast_two_sum(big, small);
        let w_lo = e.add(t_lo.sub(V::splat(C1_LO)));
        let (u_hi, e) = two_prod(c, w_hi);
        let u_lo = c.mul_add(w_lo, e);
        x_sigmoid(x, u_hi, u_lo, LIMIT)
    }
}

/// GELU: `x * Φ(x) = 0.5 x erfc(-x / √2)`.
///
/// Max error: 3 ulps on every instruction set (measured: see the module's note; 3 is rare,
/// a few inputs in tens of millions).
///
/// With `a = |x|`, the tail is `Φ(-a) = e^(-a²/2) / (√(2π) (a + g(a)))` (Mills' ratio is
/// `1 / (a + g)`): `a²/2` goes as two f32 into [`exp_parts`], and `G = √(2π) g` is `P / Q`, a
/// rational fit of degrees 4 and 5 on [0, 14.5] with positive coefficients, its error
/// weighted by `G / (√(2π) a + G)`, the weight it has in the denominator (so its rounding
/// fades as `a` grows). `√(2π) a + G` is formed with one rounding (two f32 for `√(2π)`, and
/// a split of `a` without FMA). Then `x Φ(x)` is `x Φ(-a)` for `x < 0` (scaled by its power
/// of two last) and `x - a Φ(-a)` for `x >= 0`. `|x|` is clamped to 14.5, where the result is
/// `x` or has underflowed to -0. Below `|x| = 0.5`, where that form would round too often
/// for what is about `x / 2`, it is `x / 2 + x² E(x²)` instead, `E` a polynomial.
///
/// # Safety
/// `V`'s instruction set is available.
#[inline(always)]
pub(crate) unsafe fn gelu<V: Vector>(x: V) -> V {
    // SAFETY: register arithmetic only.
    unsafe {
        const LIMIT: f32 = 14.5;
        // √(2π): in two f32 for the fused form, and as 12 bits (so that its products with
        // the halves of a split `a` are exact) and the rest for the other.
        const K: f64 = 2.506_628_274_631_000_5;
        const K_HI: f32 = K as f32;
        const K_LO: f32 = (K - K_HI as f64) as f32;
        const K_12: f32 = 2567.0 / 1024.0;
        const K_12_LO: f32 = (K - K_12 as f64) as f32;
        const P: [f32; 5] = [2.0, 1.258_992_6, 0.415_550_7, 0.074_565_33, 0.006_225_524];
        const Q: [f32; 6] = [
            1.0,
            1.084_925_9,
            0.565_262_3,
            0.170_474_6,
            0.029_759_761,
            0.002_483_375_8,
        ];
        let one = V::splat(1.0);
        let a = V::splat(LIMIT).min(x.abs()); // a NaN comes through
        // e^(-a²/2) = (1 + s) 2^n.
        let (a2_hi, a2_lo) = two_prod(a, a);
        let half = V::splat(-0.5);
        let (s, n) = exp_parts(a2_hi.mul(half), a2_lo.mul(half));
        // √(2π) (a + g) = √(2π) a + G, rounded once.
        let g = div_bounded(polynomial(a, &P), polynomial(a, &Q));
        let denominator = if V::FUSED {
            V::splat(K_HI).mul_add(a, V::splat(K_LO).mul_add(a, g))
        } else {
            let (a_hi, a_lo) = split(a);
            let rest = V::splat(K_12)
                .mul(a_lo)
                .add(V::splat(K_12_LO).mul_add(a, g));
            V::splat(K_12).mul_add(a_hi, rest)
        };
        // x < 0: x Φ(-a) 2^-n; x >= 0: Φ(-a) 2^-n.
        let base = x.select_negative(V::splat(-LIMIT).max(x), one);
        let quotient = div_bounded(base.mul_add(s, base), denominator);
        // x Φ(-a) for x < 0, Φ(-a) for x >= 0.
        let t = scale(quotient, pow2_up(n));
        // x - a Φ(-a): a is x, or less where Φ(-a) is far below x's last bit.
        let large = x.select_negative(t, neg(t).mul_add(a, x));
        // |x| < 0.5: x/2 + x² E(x²) with E(x²) = erf(x/√2) / 2x, a minimax fit of degree 4
        // (relative error below 2.9e-8, all of it at 0 where x² E weighs nothing).
        const E: [f32; 5] = [
            0.398_942_3,
            -0.066_490_38,
            0.009_973_446,
            -0.001_186_081_3,
            0.000_109_690_86,
        ];
        let w = x.mul(polynomial(x.mul(x), &E));
        let small = w.mul_add(x, x.mul(V::splat(0.5)));
        a.sub(V::splat(0.5)).select_negative(small, large)
    }
}
