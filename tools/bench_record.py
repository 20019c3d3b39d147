#!/usr/bin/env python3
"""Keep one whole criterion run under benches/record/<machine>/<run>/, small.

Copies, from CRITERION_DIR (what CRITERION_HOME pointed at, or target/criterion), only each
benchmark's `<group>/<function>/new/benchmark.json` and `new/estimates.json`, at the same
relative paths (so tools/bench_ratios.py reads a record as it reads criterion's directory),
and writes `machine.json` beside them: the CPU as /proc/cpuinfo names it (model name, family,
model), the date of the newest estimate, the commit, rustc's version and the command that ran.

    python3 tools/bench_record.py CRITERION_DIR benches/record/zen4/run1 \\
        --command "CRITERION_HOME=/tmp/run1 taskset -c 1 cargo bench --bench norms --bench engine"
"""

import argparse
import datetime
import json
import shutil
import subprocess
import sys
from pathlib import Path


def cpu():
    """The first processor's model name, family and model (and a few ISA flags) from /proc/cpuinfo."""
    fields = {}
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if not line.strip():
            break  # the first processor only
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    flags = fields.get("flags", "").split()
    return {
        "model_name": fields.get("model name", "unknown"),
        "family": int(fields["cpu family"]) if "cpu family" in fields else None,
        "model": int(fields["model"]) if fields.get("model", "").isdigit() else None,
        "isa_flags": [f for f in ("avx512f", "avx512bw", "avx512_bf16", "avx2", "fma", "f16c") if f in flags],
    }


def run(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("criterion_dir", type=Path)
    parser.add_argument("record_dir", type=Path, help="benches/record/<machine>/<run>")
    parser.add_argument("--command", default="cargo bench --bench norms --bench engine",
                        help="the command that produced CRITERION_DIR, recorded as given")
    parser.add_argument("--commit", help="default: git rev-parse HEAD")
    parser.add_argument("--force", action="store_true", help="replace an existing record")
    args = parser.parse_args()

    benches = sorted(args.criterion_dir.glob("**/new/benchmark.json"))
    benches = [b for b in benches if b.with_name("estimates.json").exists()]
    if not benches:
        sys.exit(f"no criterion results (*/new/benchmark.json) under {args.criterion_dir}")
    if args.record_dir.exists():
        if not args.force:
            sys.exit(f"{args.record_dir} exists (--force replaces it)")
        shutil.rmtree(args.record_dir)

    for bench in benches:
        target = args.record_dir / bench.parent.relative_to(args.criterion_dir)
        target.mkdir(parents=True, exist_ok=True)
        for name in ("benchmark.json", "estimates.json"):
            shutil.copyfile(bench.with_name(name), target / name)

    newest = max(b.with_name("estimates.json").stat().st_mtime for b in benches)
    # Uncommitted changes to what the benchmarks compile, if any (others' files do not count).
    # The records themselves (benches/record) are not what the benchmarks compile.
    dirty = run("git", "status", "--porcelain", "--", "src", "benches", ":(exclude)benches/record",
                "Cargo.toml", "Cargo.lock")
    machine = {
        "cpu": cpu(),
        "date": datetime.datetime.fromtimestamp(newest, datetime.timezone.utc)
        .strftime("%Y-%m-%d %H:%M UTC"),
        "commit": args.commit or run("git", "rev-parse", "HEAD"),
        "dirty": bool(dirty),
        "rustc": run("rustc", "--version"),
        "command": args.command,
        "benchmarks": len(benches),
    }
    (args.record_dir / "machine.json").write_text(json.dumps(machine, indent=1) + "\n")
    print(f"{len(benches)} benchmarks -> {args.record_dir}")


if __name__ == "__main__":
    main()
