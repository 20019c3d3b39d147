//! `Moments`: scalar `push`, `push_slice`, `Moments::of_slice` and each instruction set's
//! `Kernels::moments`, over any split of the data merged in any order, against a float64
//! two-pass reference.
#![no_main]
#![allow(clippy::single_range_in_vec_init)] // parts remember lists of ranges

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use normkern::{Kernels, Moments};
use normkern_fuzz::bounds::{self as r, DEV, REL};
use normkern_fuzz::check;
use normkern_fuzz::input::{self as spec, IsaPick};
use normkern_reference::Stats;

#[derive(Arbitrary, Debug, Clone, Copy)]
enum How {
    /// One scalar Welford update per value (at most 1024 values: a plain Welford chain's error
    /// grows with its length, which is why the crate's kernels block theirs at 1024).
    Push,
    PushSlice,
    OfSlice,
    Kernel(IsaPick),
}

#[derive(Arbitrary, Debug)]
struct Piece {
    len: u16,
    how: How,
}

#[derive(Arbitrary, Debug)]
struct Input {
    len: u16,
    /// Up to 40000 values (crosses the 16384-value moments block of AVX-512) instead of 300.
    big: bool,
    data: spec::Data,
    pieces: Vec<Piece>,
    /// Which two partial results to merge next.
    order: Vec<u8>,
}

fuzz_target!(|input: Input| run(input));

fn bits(m: &Moments) -> [u64; 4] {
    [
        m.count(),
        u64::from(m.pivot().to_bits()),
        u64::from(m.mean_offset().to_bits()),
        u64::from(m.variance().unwrap_or(0.0).to_bits()),
    ]
}

fn accumulate(x: &[f32], how: How) -> Moments {
    match how {
        How::Push => {
            let mut m = Moments::default();
            assert_eq!(m, Moments::new());
            for &v in x {
                m.push(v);
            }
            m
        }
        How::PushSlice => {
            let mut m = Moments::new();
            m.push_slice(x);
            m
        }
        How::OfSlice => Moments::of_slice(x),
        How::Kernel(isa) => match Kernels::new(isa.isa()) {
            Ok(k) => k.moments(x),
            Err(_) => Moments::of_slice(x),
        },
    }
}

/// Checks `m` against the reference moments of `x` (or the poisoning rule).
fn check_moments(what: &str, m: &Moments, x: &[f32]) {
    let n = x.len();
    assert_eq!(m.count(), n as u64, "{what}: count");
    assert_eq!(m.mean().is_some(), n > 0, "{what}: mean defined");
    assert_eq!(m.variance().is_some(), n > 0, "{what}: variance defined");
    assert_eq!(
        m.sample_variance().is_some(),
        n > 1,
        "{what}: sample variance defined"
    );
    if n == 0 {
        return;
    }
    let (mean, var) = (m.mean().unwrap(), m.variance().unwrap());
    if x.iter().any(|v| !v.is_finite()) {
        assert!(
            !(mean.is_finite() && var.is_finite()),
            "{what}: non-finite input gave finite mean {mean} and variance {var}"
        );
        return;
    }
    if !r::all_in_domain(x) {
        return;
    }
    let nf = n as f64;
    let want = Stats::of(x);
    let (ref_mean, ref_var) = (want.mean, want.var);
    // See `normkern_fuzz::bounds`: the mean is off by the rounding of the centred values
    // (DEV per sqrt(n)·sigma) and of the final `pivot + offset`; the variance by REL.
    let mean_tol = DEV * (ref_mean.abs() + nf.sqrt() * ref_var.sqrt()) + 1e-38;
    let var_tol = REL * ref_var + 1e-36;
    assert!(
        (f64::from(mean) - ref_mean).abs() <= mean_tol,
        "{what}: mean {mean:e}, reference {ref_mean:e}"
    );
    assert!(
        (f64::from(var) - ref_var).abs() <= var_tol,
        "{what}: variance {var:e}, reference {ref_var:e}"
    );
    let sum = f64::from(m.pivot()) + f64::from(m.mean_offset());
    assert!(
        (sum - ref_mean).abs() <= mean_tol,
        "{what}: pivot + mean_offset = {sum:e}, reference mean {ref_mean:e}"
    );
    if n > 1 {
        let sv = f64::from(m.sample_variance().unwrap());
        let ref_sv = want.sample_var();
        assert!(
            (sv - ref_sv).abs() <= REL * ref_sv + 1e-36,
            "{what}: sample variance {sv:e}, reference {ref_sv:e}"
        );
    }
}

fn run(input: Input) {
    let len = usize::from(input.len) % if input.big { 40_000 } else { 300 };
    let x = input.data.fill(len);

    // Every instruction set over the whole slice, against the reference and each other.
    let whole: Vec<(Kernels, Moments)> = check::kernels().map(|k| (k, k.moments(&x))).collect();
    for (k, m) in &whole {
        check_moments(&format!("moments on {}", k.isa()), m, &x);
    }
    let detected = Kernels::detect().moments(&x);
    assert_eq!(
        bits(&Moments::of_slice(&x)),
        bits(&detected),
        "of_slice is detect().moments"
    );
    if len > 0 && r::all_in_domain(&x) {
        let scalar = whole[0].1;
        let ref_var = f64::from(scalar.variance().unwrap());
        for (k, m) in &whole[1..] {
            let (a, b) = (f64::from(m.variance().unwrap()), ref_var);
            assert!(
                (a - b).abs() <= 2.0 * (REL * b + 1e-36),
                "moments: {} variance {a:e}, scalar {b:e}",
                k.isa()
            );
        }
    }

    // Any split, each part accumulated any way, merged in any order. Each part remembers the
    // ranges of `x` it has seen.
    type Part = (Moments, Vec<std::ops::Range<usize>>);
    let mut parts: Vec<Part> = vec![];
    let mut at = 0;
    for piece in &input.pieces {
        let cap = if matches!(piece.how, How::Push) {
            1024
        } else {
            usize::MAX
        };
        let take = (usize::from(piece.len) % (len - at + 1)).min(cap);
        parts.push((
            accumulate(&x[at..at + take], piece.how),
            Vec::from([at..at + take]),
        ));
        at += take;
    }
    parts.push((Moments::of_slice(&x[at..]), Vec::from([at..len])));
    let mut order = input.order.iter().copied().cycle();
    while parts.len() > 1 {
        let i = usize::from(order.next().unwrap_or(0)) % parts.len();
        let (mut a, mut ra) = parts.swap_remove(i);
        let j = usize::from(order.next().unwrap_or(0)) % parts.len();
        let (b, rb) = parts.swap_remove(j);
        a.merge(&b);
        ra.extend(rb);
        let seen: usize = ra.iter().map(|r| r.len()).sum();
        if seen <= 4096 {
            let values: Vec<f32> = ra
                .iter()
                .flat_map(|r| x[r.clone()].iter().copied())
                .collect();
            check_moments("merge", &a, &values);
        }
        parts.push((a, ra));
    }
    let (total, _) = parts.pop().unwrap();
    check_moments("merged total", &total, &x);
}
