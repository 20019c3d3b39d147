//! Puts the board's memory layout on the linker's path as `memory.x` and adds the runtime's
//! linker script: `cortex-m-rt`'s `link.x` includes `memory.x` itself; `riscv-rt` wants it
//! first on the command line.

use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    let arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let memory = match arch.as_str() {
        "arm" => "memory-mps2-an386.x",
        "riscv32" => "memory-riscv-virt.x",
        _ => return, // host builds (cargo check) need no layout
    };
    fs::copy(memory, out.join("memory.x")).unwrap();
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed={memory}");
    println!("cargo:rerun-if-changed=build.rs");
    if arch == "riscv32" {
        println!("cargo:rustc-link-arg=-Tmemory.x");
    }
    println!("cargo:rustc-link-arg=-Tlink.x");
}
