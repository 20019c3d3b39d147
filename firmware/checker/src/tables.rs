//! The tables: tolerance use, instructions per value, stack depth, code size and soft-float
//! routines. Printed as Markdown.

use crate::elf::{self, Elf};
use crate::parse::Output;
use crate::verify::Tally;
use cases::{Case, Layout, Op};
use std::collections::{BTreeMap, BTreeSet};

fn thousands(v: f64) -> String {
    let s = format!("{:.0}", v);
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

pub fn tolerance(t: &Tally) {
    println!("### Worst error / tolerance (64u x mag) per operator\n");
    println!("| operator | board | worst ratio |");
    println!("|---|---|---:|");
    for ((op, board), r) in &t.worst {
        println!("| {op} | {board} | {r:.3} |");
    }
    println!();
}

fn sets_of(out: &Output) -> Vec<String> {
    let mut sets: Vec<String> = vec![];
    for r in &out.benches {
        if r.who != "naive" && !sets.contains(&r.who) {
            sets.push(r.who.clone());
        }
    }
    sets
}

/// Instructions per input value of each benchmark on each instruction set and the plain
/// loop, with the ratios.
pub fn instructions(out: &Output) {
    let Some(k) = out.per_tick() else { return };
    let sets = sets_of(out);
    println!(
        "### Instructions per value, {} (`-icount shift=0`: {k:.0} instructions per counter \
         tick, timer overhead {} ticks subtracted; `Kernels::detect()` picks {})\n",
        out.board, out.overhead_ticks, out.detect
    );
    print!("| operator | shape | values |");
    for s in &sets {
        print!(" {s} |");
    }
    print!(" plain two-pass loop |");
    for s in &sets {
        print!(" {s} / plain |");
    }
    println!();
    println!("|---|---|---:|{}", "---:|".repeat(2 * sets.len() + 1));
    for (i, case) in cases::BENCHES.iter().enumerate() {
        let values = case.x_len() as f64;
        let ins = |who: &str| {
            out.benches
                .iter()
                .find(|r| r.index == i && r.who == who)
                .and_then(|r| out.instructions(r.number("ticks")?))
        };
        let cell = |v: Option<f64>| match v {
            Some(v) => format!("{:.1} ({})", v / values, thousands(v)),
            None => "—".into(),
        };
        print!(
            "| {} | {} | {} |",
            case.op.name(),
            shape(case),
            case.x_len()
        );
        for s in &sets {
            print!(" {} |", cell(ins(s)));
        }
        let plain = ins("naive");
        print!(" {} |", cell(plain));
        for s in &sets {
            match (ins(s), plain) {
                (Some(a), Some(b)) if b > 0.0 => print!(" {:.2} |", a / b),
                _ => print!(" — |"),
            }
        }
        println!();
    }
    println!();
}

fn shape(case: &Case) -> String {
    let d = case.dims;
    match (case.op, d.layout) {
        (Op::LayerNorm | Op::RmsNorm | Op::Moments, _) => format!("{}x{}", d.n * d.spatial, d.c),
        (_, Layout::ChannelsFirst) => format!("NCHW {}x{}x{}", d.n, d.c, d.spatial),
        (_, Layout::ChannelsLast) => format!("NHWC {}x{}x{}", d.n, d.spatial, d.c),
    }
}

fn layout_of(case: &Case) -> &'static str {
    match (case.op, case.dims.layout) {
        (Op::LayerNorm | Op::RmsNorm | Op::Moments, _) => "rows",
        (_, l) => l.name(),
    }
}

/// Deepest stack per operator and layout over all valid cases, per instruction set; then the
/// benchmark shapes next to the plain loops.
pub fn stack(out: &Output) {
    let sets = sets_of(out);
    let empty = out.empty_stack.unwrap_or(0);
    println!(
        "### Stack high-water mark, {} (bytes below the caller, deepest over each operator's \
         cases; the probe's empty call takes {empty})\n",
        out.board
    );
    let mut deepest: BTreeMap<(usize, &str, &str), (String, u64)> = BTreeMap::new();
    let mut order: Vec<&str> = vec![];
    for r in &out.cases {
        let Some(case) = cases::get(r.index) else {
            continue;
        };
        if case.defect.is_some() {
            continue;
        }
        let op = case.op.name();
        if !order.contains(&op) {
            order.push(op);
        }
        let rank = order.iter().position(|o| *o == op).unwrap_or(0);
        let Some(bytes) = r.number("stack") else {
            continue;
        };
        let key = (rank, layout_of(&case), r.who.as_str());
        let slot = deepest.entry(key).or_insert((String::new(), 0));
        if bytes > slot.1 || slot.0.is_empty() {
            *slot = (r.name.clone(), bytes);
        }
    }
    print!("| operator | layout |");
    for s in &sets {
        print!(" {s} |");
    }
    println!(" deepest case |");
    println!("|---|---|{}---|", "---:|".repeat(sets.len()));
    for (rank, op) in order.iter().enumerate() {
        for layout in ["rows", "nchw", "nhwc"] {
            if !sets
                .iter()
                .any(|s| deepest.contains_key(&(rank, layout, s.as_str())))
            {
                continue;
            }
            print!("| {op} | {layout} |");
            let mut worst = (String::new(), 0);
            for s in &sets {
                match deepest.get(&(rank, layout, s.as_str())) {
                    Some((name, b)) => {
                        print!(" {b} |");
                        if *b > worst.1 || worst.0.is_empty() {
                            worst = (name.clone(), *b);
                        }
                    }
                    None => print!(" — |"),
                }
            }
            println!(" {} |", worst.0);
        }
    }
    println!();
    print!("| benchmark | shape |");
    for s in &sets {
        print!(" {s} |");
    }
    println!(" plain loop |");
    println!("|---|---|{}---:|", "---:|".repeat(sets.len()));
    for (i, case) in cases::BENCHES.iter().enumerate() {
        print!("| {} | {} |", case.op.name(), shape(case));
        for who in sets.iter().map(String::as_str).chain(["naive"]) {
            let b = out
                .benches
                .iter()
                .find(|r| r.index == i && r.who == who)
                .and_then(|r| r.number("stack"));
            match b {
                Some(b) => print!(" {b} |"),
                None => print!(" — |"),
            }
        }
        println!();
    }
    println!();
}

/// A shorter name for a caller: without the `normkern::` prefix and the impl noise.
fn short(name: &str) -> String {
    name.replace("_<impl normkern::kernels::Kernels>::", "Kernels::")
        .replace("normkern::", "")
        .replace("::_$u7b$$u7b$closure$u7d$$u7d$", "::{closure}")
        .replace("$u7b$$u7b$vtable.shim$u7d$$u7d$", "{vtable shim}")
        .replace("_<impl ", "<")
}

/// `.text` of each binary and the software floating-point routines it links; with
/// `callers`, then who calls each routine (Arm: from the `bl` / `b.w` instructions), over
/// all binaries.
pub fn sizes(bins: &[(String, Elf)], callers: bool) {
    println!(
        "| binary | .text | .rodata | soft-float code | soft-float routines and tables linked |"
    );
    println!("|---|---:|---:|---:|---|");
    let mut why: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (label, e) in bins {
        // Names per address, soft-float ones only.
        let mut at: BTreeMap<u32, (BTreeSet<String>, u32)> = BTreeMap::new();
        for s in &e.symbols {
            let name = elf::demangle(&s.name);
            if elf::soft_float(&name).is_some() {
                let slot = at.entry(s.value & !1).or_insert((BTreeSet::new(), 0));
                slot.0.insert(name);
                slot.1 = slot.1.max(s.size);
            }
        }
        let bytes: u32 = at.values().map(|(_, size)| size).sum();
        let mut listed: Vec<String> = at
            .values()
            .map(|(names, _)| {
                names
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .join("/")
            })
            .collect();
        listed.sort();
        listed.dedup();
        let list = if listed.is_empty() {
            "none".to_string()
        } else {
            listed.join(", ")
        };
        println!(
            "| {label} | {} | {} | {bytes} | {list} |",
            e.section_size(".text"),
            e.section_size(".rodata")
        );
        if !callers {
            continue;
        }
        let calls = e.callers();
        let names: BTreeMap<u32, String> = e
            .symbols
            .iter()
            .filter(|s| s.kind == 2)
            .map(|s| (s.value & !1, elf::demangle(&s.name)))
            .collect();
        for (addr, (soft, _)) in &at {
            let key = soft
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join("/");
            for c in calls.get(addr).into_iter().flatten() {
                if !at.contains_key(c)
                    && let Some(n) = names.get(c)
                {
                    why.entry(key.clone()).or_default().insert(short(n));
                }
            }
        }
    }
    if !why.is_empty() {
        println!("\n| routine | called from (every binary above) |");
        println!("|---|---|");
        for (routine, who) in why {
            let who: Vec<&str> = who.iter().map(String::as_str).collect();
            println!("| {routine} | {} |", who.join(", "));
        }
    }
    println!();
}
