//! What one 512-bit conversion between f32 and a 16-bit type costs, against an f32 load:
//! each loop runs four independent conversions per iteration on values kept in registers
//! (opaque to the compiler), so the time per iteration over four is the throughput of one.
//! Medians of 15 rounds, in nanoseconds per instruction and as multiples of an f32 load.
//! x86_64 with AVX-512F and BW only; the bf16 instruction is timed where AVX512_BF16 is.

use std::arch::asm;
use std::arch::x86_64::*;
use std::hint::black_box;
use std::time::Instant;

const ITERS: usize = 20_000_000;

/// Keeps four registers opaque, so that nothing is hoisted out of the loop.
macro_rules! opaque {
    ($($v:ident),*) => { $(unsafe { asm!("/* {0} */", inout(zmm_reg) $v, options(nomem, nostack, preserves_flags)) })* };
}
macro_rules! opaque_ymm {
    ($($v:ident),*) => { $(unsafe { asm!("/* {0} */", inout(ymm_reg) $v, options(nomem, nostack, preserves_flags)) })* };
}

#[target_feature(enable = "avx512f")]
fn f32_load(buf: &[f32]) -> i32 {
    let p = buf.as_ptr();
    // Folded with integer xors (one cycle of latency), so the loads set the pace.
    let mut acc = [_mm512_setzero_si512(); 4];
    for i in 0..ITERS {
        let at = (i * 64) & 4095;
        for (u, a) in acc.iter_mut().enumerate() {
            // SAFETY: `at + 16 * u + 16 <= 4096 = buf.len()`.
            *a = _mm512_xor_si512(*a, unsafe { _mm512_loadu_si512(p.add(at + 16 * u).cast()) });
        }
    }
    let x = _mm512_xor_si512(
        _mm512_xor_si512(acc[0], acc[1]),
        _mm512_xor_si512(acc[2], acc[3]),
    );
    _mm512_reduce_add_epi32(x)
}

/// Four values widened per iteration by `widen`, folded into two sums.
macro_rules! widening {
    ($name:ident, $features:literal, $widen:expr) => {
        #[target_feature(enable = $features)]
        fn $name(seed: u16) -> f32 {
            let (mut a, mut b, mut c, mut d) = (
                _mm256_set1_epi16(seed as i16),
                _mm256_set1_epi16(seed as i16 + 1),
                _mm256_set1_epi16(seed as i16 + 2),
                _mm256_set1_epi16(seed as i16 + 3),
            );
            let w = $widen;
            let (mut s, mut t) = (_mm512_setzero_ps(), _mm512_setzero_ps());
            for _ in 0..ITERS {
                opaque_ymm!(a, b, c, d);
                s = _mm512_add_ps(s, _mm512_add_ps(w(a), w(b)));
                t = _mm512_add_ps(t, _mm512_add_ps(w(c), w(d)));
            }
            _mm512_reduce_add_ps(_mm512_add_ps(s, t))
        }
    };
}

widening!(f16_widen, "avx512f", |v| _mm512_cvtph_ps(v));
widening!(bf16_widen, "avx512f,avx512bw", |v| {
    _mm512_castsi512_ps(_mm512_slli_epi32::<16>(_mm512_cvtepu16_epi32(v)))
});

/// Four values narrowed per iteration by `narrow`, folded with integer xors.
macro_rules! narrowing {
    ($name:ident, $features:literal, $narrow:expr) => {
        #[target_feature(enable = $features)]
        fn $name(seed: f32) -> i32 {
            let (mut a, mut b, mut c, mut d) = (
                _mm512_set1_ps(seed),
                _mm512_set1_ps(seed + 1.0),
                _mm512_set1_ps(seed + 2.0),
                _mm512_set1_ps(seed + 3.0),
            );
            let mut acc = _mm256_setzero_si256();
            for _ in 0..ITERS {
                opaque!(a, b, c, d);
                let n = $narrow;
                let x =
                    _mm256_xor_si256(_mm256_xor_si256(n(a), n(b)), _mm256_xor_si256(n(c), n(d)));
                acc = _mm256_xor_si256(acc, x);
            }
            _mm256_extract_epi32::<0>(acc)
        }
    };
}

narrowing!(f16_narrow, "avx512f", |v| _mm512_cvtps_ph::<
    _MM_FROUND_TO_NEAREST_INT,
>(v));
narrowing!(bf16_narrow_by_shifts, "avx512f,avx512bw", |v: __m512| {
    // normkern's bf16 rounding (to nearest even, NaN kept quiet), then the pack.
    let bits = _mm512_castps_si512(v);
    let odd = _mm512_and_si512(_mm512_srli_epi32::<16>(bits), _mm512_set1_epi32(1));
    let bias = _mm512_add_epi32(odd, _mm512_set1_epi32(0x7fff));
    let rounded = _mm512_srli_epi32::<16>(_mm512_add_epi32(bits, bias));
    let quiet = _mm512_or_si512(_mm512_srli_epi32::<16>(bits), _mm512_set1_epi32(0x40));
    let nan = _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(v, v);
    _mm512_cvtepi32_epi16(_mm512_mask_blend_epi32(nan, rounded, quiet))
});
narrowing!(
    bf16_narrow_vcvtneps2bf16,
    "avx512f,avx512bf16",
    |v: __m512| {
        let n: __m256bh = _mm512_cvtneps_pbh(v);
        // SAFETY: both are 256 bits of plain data.
        _mm256_castps_si256(unsafe { std::mem::transmute::<__m256bh, __m256>(n) })
    }
);

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Nanoseconds per instruction: one call's time over four instructions per iteration.
fn time(f: &mut dyn FnMut()) -> f64 {
    let start = Instant::now();
    f();
    start.elapsed().as_secs_f64() * 1e9 / (4 * ITERS) as f64
}

fn main() {
    assert!(is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bw"));
    let bf16 = is_x86_feature_detected!("avx512bf16");
    let buf = vec![1.0f32; 4096];
    // SAFETY (every call): the features each function enables were detected above.
    /// A named probe whose result is kept opaque.
    macro_rules! probe {
        ($name:literal, $call:expr) => {
            (
                $name,
                Box::new(|| {
                    black_box($call);
                }) as Box<dyn FnMut()>,
            )
        };
    }
    let mut probes = vec![
        probe!("f32 load (vmovups zmm)", unsafe {
            f32_load(black_box(&buf))
        }),
        probe!("f16 widen (vcvtph2ps zmm)", unsafe {
            f16_widen(black_box(0x3c00))
        }),
        probe!("bf16 widen (vpmovzxwd + vpslld zmm)", unsafe {
            bf16_widen(black_box(0x3f80))
        }),
        probe!("f16 narrow (vcvtps2ph zmm)", unsafe {
            f16_narrow(black_box(1.5))
        }),
        probe!("bf16 narrow (normkern's shifts + vpmovdw)", unsafe {
            bf16_narrow_by_shifts(black_box(1.5))
        }),
    ];
    if bf16 {
        probes.push(probe!("bf16 narrow (vcvtneps2bf16 zmm)", unsafe {
            bf16_narrow_vcvtneps2bf16(black_box(1.5))
        }));
    }
    let mut times = vec![Vec::new(); probes.len()];
    for _ in 0..15 {
        for (t, (_, f)) in times.iter_mut().zip(probes.iter_mut()) {
            t.push(time(f.as_mut()));
        }
    }
    let load = median(times[0].clone());
    println!("{:<44} {:>8} {:>10}", "per 16 values", "ns", "x f32 load");
    for ((name, _), t) in probes.iter().zip(times) {
        let m = median(t);
        println!("{name:<44} {m:>8.3} {:>10.2}", m / load);
    }
}
