#!/usr/bin/env python3
"""Markdown table of the `norms` benchmark: median time, GB/s and ratio to `copy` per group.

Reads what criterion writes for each benchmark under CRITERION_DIR (default
target/criterion): `<group>/<function>/new/benchmark.json` (ids and throughput) and
`.../new/estimates.json` (the median's point estimate, in ns). Group directory names have `/`
replaced by `_`, so the real group name is taken from benchmark.json.

    python3 tools/bench_ratios.py [CRITERION_DIR] [--filter SUBSTRING]
    python3 tools/bench_ratios.py RUN_DIR RUN_DIR ... --summary   # copies of CRITERION_DIR

With several directories (one `target/criterion` copied after each whole run) and --summary,
one line per group: each path's ratio as the median over the runs (normkern's with the range),
GB/s of normkern's median run, the issue's target with whether the median meets it, and the
`floor` function (one scale and shift over the same bytes) over copy and under normkern.

GB/s is input + output bytes (the group's Throughput::Bytes) / median, in 10^9 bytes per
second. `x copy` is the median over the median of the group's `copy` function: 1.00 means as
fast as copying the input into the output buffer.
"""

import argparse
import json
import re
import sys
from pathlib import Path

# Function order inside a group; unknown names (other instruction sets) sort after these.
ORDER = {"normkern": 0, "copy": 99, "floor": 98.5, "scalar": 98}


def load(criterion_dir):
    """{group: {function: (median_ns, bytes or None)}} from every `new` directory."""
    groups = {}
    for bench_file in sorted(Path(criterion_dir).glob("**/new/benchmark.json")):
        estimates_file = bench_file.with_name("estimates.json")
        if not estimates_file.exists():
            continue
        bench = json.loads(bench_file.read_text())
        estimates = json.loads(estimates_file.read_text())
        group = bench.get("group_id")
        function = bench.get("function_id") or ""
        if bench.get("value_str"):
            function = f"{function}/{bench['value_str']}" if function else bench["value_str"]
        throughput = bench.get("throughput") or {}
        nbytes = throughput.get("Bytes", throughput.get("BytesDecimal"))
        median_ns = estimates["median"]["point_estimate"]
        groups.setdefault(group, {})[function] = (median_ns, nbytes)
    return groups


def fmt_time(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}" if ns / scale < 100 else f"{ns / scale:.0f} {unit}"
    return f"{ns:.3g} ns"


def natural_key(name):
    """`layer_norm/512x768` before `layer_norm/4096x64`: digit runs compare as numbers."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def function_key(name):
    if name in ORDER:
        return (ORDER[name], name)
    if name.startswith("normkern_"):
        return (1, name)
    return (50, name)


def table(groups, name_filter=None):
    lines = [
        "| group | function | median | GB/s | x copy |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for group in sorted(groups, key=natural_key):
        if name_filter and name_filter not in group:
            continue
        functions = groups[group]
        copy = functions.get("copy")
        for function in sorted(functions, key=function_key):
            median_ns, nbytes = functions[function]
            gbs = f"{nbytes / median_ns:.1f}" if nbytes else "-"
            ratio = f"{median_ns / copy[0]:.2f}" if copy else "-"
            name = f"**{function}**" if function == "normkern" else function
            lines.append(f"| {group} | {name} | {fmt_time(median_ns)} | {gbs} | {ratio} |")
    return "\n".join(lines)


# The speed issue's targets: normkern's time over copy's, by group name prefix (longest wins).
TARGETS = {
    "layer_norm/": 1.5,
    "layer_norm/8192x2048": 1.2,
    "rms_norm/": 1.3,
    "batch_norm_infer/": 1.1,
    "batch_norm_train/": 2.0,
    "instance_norm/": 1.6,
    "group_norm/": 1.6,
}


def target(group):
    keys = [k for k in TARGETS if group.startswith(k)]
    return TARGETS[max(keys, key=len)] if keys else None


def median(values):
    values = sorted(values)
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def summary(runs, name_filter=None):
    """One line per group over several whole runs (each a load() result)."""
    names = sorted({g for run in runs for g in run}, key=natural_key)
    paths = sorted(
        {f for run in runs for g in run.values() for f in g if f.startswith("normkern_")}
    )
    head = ["group", f"normkern x copy, median of {len(runs)} (range)", "GB/s", "target", "met"]
    head += ["floor x copy", "normkern x floor"]
    head += [p.removeprefix("normkern_") for p in paths] + ["naive loop"]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for group in names:
        if name_filter and name_filter not in group:
            continue

        def ratios(function):
            out = []
            for run in runs:
                f = run.get(group, {})
                if function in f and "copy" in f:
                    out.append((f[function][0] / f["copy"][0], f[function]))
            return out

        own = ratios("normkern")
        if not own:
            continue
        values = [r for r, _ in own]
        mid = median(values)
        # GB/s of the run whose ratio is the median (the lower middle for an even count).
        _, (ns, nbytes) = sorted(own, key=lambda pair: pair[0])[(len(own) - 1) // 2]
        gbs = f"{nbytes / ns:.1f}" if nbytes else "-"
        goal = target(group)
        row = [
            f"`{group}`",
            f"{mid:.2f} ({min(values):.2f}–{max(values):.2f})",
            gbs,
            f"≤ {goal}" if goal else "-",
            ("yes" if mid <= goal else "no") if goal else "-",
        ]
        floors = ratios("floor")
        if floors:
            # normkern's time over floor's, run by run.
            over = [
                run[group]["normkern"][0] / run[group]["floor"][0]
                for run in runs
                if {"normkern", "floor"} <= run.get(group, {}).keys()
            ]
            row += [f"{median([r for r, _ in floors]):.2f}", f"{median(over):.2f}"]
        else:
            row += ["—", "—"]
        for function in paths + ["scalar"]:
            rs = [r for r, _ in ratios(function)]
            row.append(f"{median(rs):.2f}" if rs else "—")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("criterion_dirs", nargs="*", default=["target/criterion"])
    parser.add_argument("--filter", help="only groups whose name contains this")
    parser.add_argument("--summary", action="store_true", help="one line per group")
    args = parser.parse_args()
    runs = [load(d) for d in args.criterion_dirs]
    for d, groups in zip(args.criterion_dirs, runs):
        if not groups:
            sys.exit(f"no criterion results under {d}")
    if args.summary:
        print(summary(runs, args.filter))
    else:
        for groups in runs:
            print(table(groups, args.filter))


if __name__ == "__main__":
    main()
