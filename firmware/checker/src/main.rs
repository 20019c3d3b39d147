//! Host side of normkern's firmware tests.
//!
//! ```text
//! normkern-fw-checker check OUTPUT...          # each file: one board's firmware output
//! normkern-fw-checker sizes [--callers] LABEL=ELF...  # .text and soft-float routines
//! ```
//!
//! `check` regenerates every case's inputs from the shared case table, computes the float64
//! answer with normkern-reference, compares every value the device printed within the
//! tolerance of normkern's tests, and prints the instructions-per-value and stack tables.
//! It ends with `checker: N passed, M failed` and exits 1 on any failure.

mod elf;
mod parse;
mod tables;
mod verify;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("check") => check(&args[1..]),
        Some("sizes") => sizes(&args[1..]),
        _ => {
            eprintln!(
                "usage: normkern-fw-checker check OUTPUT... | sizes [--callers] LABEL=ELF..."
            );
            ExitCode::from(2)
        }
    }
}

fn check(files: &[String]) -> ExitCode {
    let mut tally = verify::Tally::default();
    let mut outputs = vec![];
    for f in files {
        let text = match std::fs::read_to_string(f) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("checker: cannot read {f}: {e}");
                return ExitCode::FAILURE;
            }
        };
        let mut out = parse::parse(&text);
        if out.board.is_empty() {
            out.board = f.clone();
        }
        let before = (
            tally.passed,
            tally.failures.len(),
            tally.values,
            tally.refused,
        );
        tally.board(&out);
        println!(
            "{}: {} records checked ({} values), {} failed, {} bad-input calls refused with \
             every output untouched",
            out.board,
            tally.passed - before.0,
            tally.values - before.2,
            tally.failures.len() - before.1,
            tally.refused - before.3
        );
        outputs.push(out);
    }
    for f in &tally.failures {
        println!("MISMATCH {} {} {}: {}", f.board, f.who, f.case, f.what);
    }
    println!();
    tables::tolerance(&tally);
    for out in &outputs {
        tables::instructions(out);
        tables::stack(out);
    }
    println!(
        "checker: {} passed, {} failed",
        tally.passed,
        tally.failures.len()
    );
    if tally.failures.is_empty() && !outputs.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn sizes(args: &[String]) -> ExitCode {
    let mut bins = vec![];
    let callers = args.iter().any(|a| a == "--callers");
    for a in args.iter().filter(|a| *a != "--callers") {
        let Some((label, path)) = a.split_once('=') else {
            eprintln!("checker: expected LABEL=ELF, got {a}");
            return ExitCode::from(2);
        };
        match std::fs::read(path)
            .map_err(|e| e.to_string())
            .and_then(elf::Elf::parse)
        {
            Ok(e) => bins.push((label.to_string(), e)),
            Err(e) => {
                eprintln!("checker: {path}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    tables::sizes(&bins, callers);
    ExitCode::SUCCESS
}
