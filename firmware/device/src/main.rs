//! Test firmware: runs every case of `cases` on every instruction set this build links (the
//! scalar set: normkern builds no other for targets without SIMD floats), on an
//! emulated Cortex-M4F (`qemu-system-arm -M mps2-an386`) or RV32IMAC (`qemu-system-riscv32 -M
//! virt`), and prints the outputs as f32 bits for the host checker. Bad-input cases are judged
//! here too: the error must come back and every output buffer must keep its sentinel.
//! Then the benchmark shapes: instructions (counter ticks) and stack depth of each operator
//! next to a plain two-pass loop.
//!
//! Output, one line each (values are f32 bits in hex, comma-separated):
//! - `H board=.. cases=..` first; `K n1=.. t1=.. n2=.. t2=..` calibration: ticks of the
//!   `2 n`-instruction loop for two `n`;
//! - `R index name set status fields..` per case and instruction set; an error prints as
//!   `kind:detail@op` (`op`: the operator the error names);
//! - `B name impl ticks=.. stack=.. values=.. y=..` per benchmark; `O ticks=..` the
//!   timer's own overhead; `S empty stack=..` the probe's own depth;
//! - `DONE ok=1` last (`ok=0` if a device-side check failed). `PANIC ..` on a panic.

#![no_std]
#![no_main]

#[cfg_attr(target_arch = "arm", path = "board_arm.rs")]
#[cfg_attr(target_arch = "riscv32", path = "board_riscv.rs")]
mod board;
mod cpu;
mod naive;
mod out;

use calls::{Extras, Io, Set};
use cases::{Case, FullName, Inputs, MAX_LEN, MAX_PARAM, Op, SENTINEL};
use core::fmt::Write;
use core::ptr::{read_volatile, write_volatile};
use out::Out;

#[cfg(target_arch = "arm")]
#[cortex_m_rt::entry]
fn main() -> ! {
    board::exit(run())
}

#[cfg(target_arch = "riscv32")]
#[riscv_rt::entry]
fn main() -> ! {
    board::exit(run())
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let mut out = Out::new(board::Port::open());
    let _ = write!(out, "PANIC {info}");
    out.end();
    board::exit(false)
}

/// Saved and running statistics: one copy for the out-of-place call, one for the in-place.
struct Stats {
    mean: [f32; MAX_PARAM],
    inv_std: [f32; MAX_PARAM],
    run_mean: [f32; MAX_PARAM],
    run_var: [f32; MAX_PARAM],
}

struct Bufs {
    x: [f32; MAX_LEN],
    y: [f32; MAX_LEN],
    xy: [f32; MAX_LEN],
    gamma: [f32; MAX_PARAM],
    beta: [f32; MAX_PARAM],
    stats_mean: [f32; MAX_PARAM],
    stats_var: [f32; MAX_PARAM],
    out_of_place: Stats,
    in_place: Stats,
}

static mut BUFS: Bufs = Bufs {
    x: [0.0; MAX_LEN],
    y: [0.0; MAX_LEN],
    xy: [0.0; MAX_LEN],
    gamma: [0.0; MAX_PARAM],
    beta: [0.0; MAX_PARAM],
    stats_mean: [0.0; MAX_PARAM],
    stats_var: [0.0; MAX_PARAM],
    out_of_place: STATS,
    in_place: STATS,
};

const STATS: Stats = Stats {
    mean: [0.0; MAX_PARAM],
    inv_std: [0.0; MAX_PARAM],
    run_mean: [0.0; MAX_PARAM],
    run_var: [0.0; MAX_PARAM],
};

fn run() -> bool {
    // SAFETY: `run` is entered once, and this is the only reference to `BUFS`.
    // (Through a raw pointer: a reference straight to a `static mut` is denied in edition 2024.)
    #[allow(clippy::deref_addrof)]
    let b = unsafe { &mut *(&raw mut BUFS) };
    let mut out = Out::new(board::Port::open());
    board::init();
    out.str("H board=").str(board::NAME);
    out.str(" detect=").str(calls::detect().name);
    out.field("cases", cases::count() as u32).end();
    calibrate(&mut out);
    let mut ok = true;
    // The `profile` build (`profile.sh`) runs the benchmarks alone.
    for i in 0..cases::count() {
        if cfg!(feature = "profile") {
            break;
        }
        let Some(case) = cases::get(i) else { break };
        calls::sets(|set| ok &= run_case(&mut out, b, i, &case, set));
    }
    benches(&mut out, b);
    out.field("S empty stack", probe(&mut || {}) as u32).end();
    out.str("DONE").field("ok", u32::from(ok)).end();
    ok
}

/// Ticks of `spin(n)` for two `n`: their difference is exactly `2 (n2 - n1)` instructions.
fn calibrate(out: &mut Out) {
    let (n1, n2) = (50_000u32, 100_000u32);
    let t1 = time(|| cpu::spin(n1));
    let t2 = time(|| cpu::spin(n2));
    out.str("K").field("n1", n1).field("t1", t1);
    out.field("n2", n2).field("t2", t2).end();
}

/// Counter ticks `f` takes.
#[inline(always)]
fn time(f: impl FnOnce()) -> u32 {
    let t0 = board::now();
    f();
    let t1 = board::now();
    t1.wrapping_sub(t0) & board::COUNTER_MASK
}

/// Marks where a benchmark's call starts and ends in an instruction trace (`profile.sh`: the
/// instructions between the two are that call's); `profile` builds only.
#[cfg(feature = "profile")]
mod marks {
    // Each passes its own value through `black_box`: kept, and not folded into one function.
    #[unsafe(no_mangle)]
    #[inline(never)]
    pub extern "C" fn profile_start() {
        core::hint::black_box(1u32);
    }

    #[unsafe(no_mangle)]
    #[inline(never)]
    pub extern "C" fn profile_end() {
        core::hint::black_box(2u32);
    }
}

/// `f`, between the trace marks in a `profile` build.
#[inline(always)]
fn marked<T>(f: impl FnOnce() -> T) -> T {
    #[cfg(feature = "profile")]
    marks::profile_start();
    let r = f();
    #[cfg(feature = "profile")]
    marks::profile_end();
    r
}

const PAINT: u32 = 0x5AA5_C33C;
const PROBE_BYTES: usize = 64 * 1024;

/// Stack bytes `f` uses below the caller's frame: paints the 64 KiB under the stack pointer,
/// runs `f`, and finds the deepest word that changed. Nothing else runs meanwhile (no
/// interrupts are enabled).
#[inline(never)]
fn probe(f: &mut dyn FnMut()) -> usize {
    let sp = cpu::sp() & !3;
    let lo = cpu::stack_floor().max(sp - PROBE_BYTES);
    let mut a = lo;
    while a < sp {
        // SAFETY: free stack memory below the stack pointer, above the end of `.bss`.
        unsafe { write_volatile(a as *mut u32, PAINT) };
        a += 4;
    }
    f();
    let mut a = lo;
    // SAFETY: as above.
    while a < sp && unsafe { read_volatile(a as *const u32) } == PAINT {
        a += 4;
    }
    sp - a
}

fn fill(v: &mut [f32], with: f32) {
    for x in v {
        *x = with;
    }
}

fn same_bits(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

fn all_sentinel(v: &[f32]) -> bool {
    v.iter().all(|x| x.to_bits() == SENTINEL.to_bits())
}

/// Fills gamma, beta and BatchNorm's given statistics of case `index`.
fn params(b: &mut Bufs, inputs: &Inputs) {
    let case = &inputs.case;
    if let Some(n) = case.gamma_len() {
        inputs.gamma(&mut b.gamma[..n]);
    }
    if let Some(n) = case.beta_len() {
        inputs.beta(&mut b.beta[..n]);
    }
    if let Some((m, v)) = case.stats_len() {
        inputs.stats_mean(&mut b.stats_mean[..m]);
        inputs.stats_var(&mut b.stats_var[..v]);
    }
}

/// Sentinels in the saved statistics, the case's initial values in the running ones.
fn reset(s: &mut Stats, inputs: &Inputs) {
    let case = &inputs.case;
    if let Some((m, i)) = case.saved_len() {
        fill(&mut s.mean[..m], SENTINEL);
        fill(&mut s.inv_std[..i], SENTINEL);
    }
    if let Some((m, v)) = case.running_len() {
        inputs.running_mean(&mut s.run_mean[..m]);
        inputs.running_var(&mut s.run_var[..v]);
    }
}

/// Whether saved statistics still hold sentinels and running ones their initial values.
fn stats_untouched(s: &Stats, inputs: &Inputs) -> bool {
    let case = &inputs.case;
    let mut ok = true;
    if let Some((m, i)) = case.saved_len() {
        ok &= all_sentinel(&s.mean[..m]) && all_sentinel(&s.inv_std[..i]);
    }
    if let Some((m, v)) = case.running_len() {
        let (mut rm, mut rv) = ([0.0f32; MAX_PARAM], [0.0f32; MAX_PARAM]);
        inputs.running_mean(&mut rm[..m]);
        inputs.running_var(&mut rv[..v]);
        ok &= same_bits(&s.run_mean[..m], &rm[..m]) && same_bits(&s.run_var[..v], &rv[..v]);
    }
    ok
}

/// The parameter slices and statistics buffers `case` passes.
fn extras<'a>(
    case: &Case,
    gamma: &'a [f32],
    beta: &'a [f32],
    stats: (&'a [f32], &'a [f32]),
    s: &'a mut Stats,
) -> Extras<'a> {
    Extras {
        gamma: case.gamma_len().map(|n| &gamma[..n]),
        beta: case.beta_len().map(|n| &beta[..n]),
        stats: case
            .stats_len()
            .map(|(m, v)| (&stats.0[..m], &stats.1[..v])),
        saved: match case.saved_len() {
            Some((m, i)) => Some((&mut s.mean[..m], &mut s.inv_std[..i])),
            None => None,
        },
        running: match case.running_len() {
            Some((m, v)) => Some((&mut s.run_mean[..m], &mut s.run_var[..v])),
            None => None,
        },
    }
}

fn status(out: &mut Out, name: &str, r: Result<(), calls::Error>) {
    match r {
        Ok(()) => out.str(" ").str(name).str("=ok"),
        Err(e) => out
            .str(" ")
            .str(name)
            .str("=")
            .str(e.kind)
            .str(":")
            .str(e.detail)
            .str("@")
            .str(e.op),
    };
}

fn print_stats(out: &mut Out, s: &Stats, case: &Case, in_place: bool) {
    let name = |plain: &'static str, ip: &'static str| if in_place { ip } else { plain };
    if let Some((m, i)) = case.saved_len() {
        if m > 0 {
            out.values(name("mean", "mean_ip"), &s.mean[..m]);
        }
        out.values(name("inv", "inv_ip"), &s.inv_std[..i]);
    }
    if let Some((m, v)) = case.running_len() {
        out.values(name("rmean", "rmean_ip"), &s.run_mean[..m]);
        out.values(name("rvar", "rvar_ip"), &s.run_var[..v]);
    }
}

/// `case` on `set` from `b.x` into `b.y`, timed and probed for stack: `(result, ticks, stack)`,
/// the one measured call of both the cases and the benchmarks.
fn run_out_of_place(
    b: &mut Bufs,
    case: &Case,
    set: Set,
    xl: usize,
    yl: usize,
) -> (Result<(), calls::Error>, u32, usize) {
    let Bufs {
        x,
        y,
        gamma,
        beta,
        stats_mean,
        stats_var,
        out_of_place,
        ..
    } = b;
    let mut result = Ok(());
    let mut ticks = 0;
    let mut call = || {
        let e = extras(case, gamma, beta, (stats_mean, stats_var), out_of_place);
        let io = Io::OutOfPlace(&x[..xl], &mut y[..yl]);
        ticks = time(|| result = marked(|| calls::run(set, case, io, e)));
    };
    let stack = probe(&mut call);
    (result, ticks, stack)
}

/// Runs case `index` on `set`, out of place and in place; prints its line. `false` if a
/// device-side check failed (bad input accepted, or an output written).
fn run_case(out: &mut Out, b: &mut Bufs, index: usize, case: &Case, set: Set) -> bool {
    let inputs = Inputs::new(index, *case);
    let (xl, yl) = (case.x_len(), case.y_len());
    inputs.x(&mut b.x[..xl]);
    out.str("R ").dec(index as u32).str(" ");
    let _ = write!(out, "{}", FullName(case));
    out.str(" ").str(set.name);
    out.str(" xsum=").hex(cases::checksum(&b.x[..xl]));
    if case.op == Op::Moments {
        let mut m = [[0.0; 4]; 3];
        let x = &b.x[..xl];
        let stack = probe(&mut || m = calls::moments(set, x));
        out.str(" result=ok").field("stack", stack as u32);
        out.values("moments", m.as_flattened()).end();
        return true;
    }
    params(b, &inputs);

    // Out of place.
    fill(&mut b.y[..yl], SENTINEL);
    reset(&mut b.out_of_place, &inputs);
    let (result, ticks, stack) = run_out_of_place(b, case, set, xl, yl);
    status(out, "result", result);
    out.field("stack", stack as u32).field("ticks", ticks);

    // In place (not with a short output: there is only one buffer).
    let in_place = case.defect != Some(cases::Defect::YLen);
    let mut ip_result = Ok(());
    if in_place {
        b.xy[..xl].copy_from_slice(&b.x[..xl]);
        reset(&mut b.in_place, &inputs);
        let e = extras(
            case,
            &b.gamma,
            &b.beta,
            (&b.stats_mean, &b.stats_var),
            &mut b.in_place,
        );
        ip_result = calls::run(set, case, Io::InPlace(&mut b.xy[..xl]), e);
        status(out, "ip", ip_result);
    }

    if case.expects_error() {
        let mut untouched = all_sentinel(&b.y[..yl]);
        untouched &= stats_untouched(&b.out_of_place, &inputs);
        if in_place {
            untouched &= same_bits(&b.xy[..xl], &b.x[..xl]);
            untouched &= stats_untouched(&b.in_place, &inputs);
        }
        out.field("untouched", u32::from(untouched)).end();
        return untouched && result.is_err() && (!in_place || ip_result.is_err());
    }

    out.values("y", &b.y[..yl]);
    print_stats(out, &b.out_of_place, case, false);
    let same = same_bits(&b.xy[..xl], &b.y[..yl]) && same_stats(&b.out_of_place, &b.in_place, case);
    if same {
        out.str(" ip_same=1");
    } else {
        out.str(" ip_same=0");
        out.values("y_ip", &b.xy[..xl]);
        print_stats(out, &b.in_place, case, true);
    }
    out.end();
    true
}

fn same_stats(a: &Stats, b: &Stats, case: &Case) -> bool {
    let mut same = true;
    if let Some((m, i)) = case.saved_len() {
        same &=
            same_bits(&a.mean[..m], &b.mean[..m]) && same_bits(&a.inv_std[..i], &b.inv_std[..i]);
    }
    if let Some((m, v)) = case.running_len() {
        same &= same_bits(&a.run_mean[..m], &b.run_mean[..m])
            && same_bits(&a.run_var[..v], &b.run_var[..v]);
    }
    same
}

/// The benchmark shapes: each instruction set, then the plain loop, each timed and probed
/// for stack; outputs printed so the checker can check the plain loops too.
fn benches(out: &mut Out, b: &mut Bufs) {
    out.str("O").field("ticks", time(|| {})).end();
    for (i, case) in cases::BENCHES.iter().enumerate() {
        let inputs = Inputs::new(cases::BENCH_BASE + i, *case);
        let len = case.x_len();
        inputs.x(&mut b.x[..len]);
        params(b, &inputs);
        let mut bench = |set: Set| {
            fill(&mut b.y[..len], SENTINEL);
            let (result, ticks, stack) = run_out_of_place(b, case, set, len, len);
            let ok = result.is_ok();
            line(out, i, case, set.name, ticks, stack, ok, &b.y[..len]);
        };
        calls::sets(&mut bench);

        fill(&mut b.y[..len], SENTINEL);
        let c = case.dims.c;
        let stats = (&b.stats_mean[..c], &b.stats_var[..c]);
        let (x, y, gamma, beta) = (&b.x[..len], &mut b.y[..len], &b.gamma[..c], &b.beta[..c]);
        let mut ticks = 0;
        let mut ran = false;
        let stack = probe(&mut || {
            ticks = time(|| ran = marked(|| naive::run(case, x, y, gamma, beta, stats)))
        });
        line(out, i, case, "naive", ticks, stack, ran, y);
    }
}

#[allow(clippy::too_many_arguments)]
fn line(
    out: &mut Out,
    i: usize,
    case: &Case,
    who: &str,
    ticks: u32,
    stack: usize,
    ok: bool,
    y: &[f32],
) {
    out.str("B ").dec(i as u32).str(" ");
    let _ = write!(out, "{}", FullName(case));
    out.str(" ").str(who).field("ok", u32::from(ok));
    out.field("ticks", ticks).field("stack", stack as u32);
    out.values("y", y).end();
}
