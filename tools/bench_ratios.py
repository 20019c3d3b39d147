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

With --write, regenerates one machine's section of BENCHMARKS.md from its records (each run a
directory written by tools/bench_record.py, plus peers.json from tools/peers.py --json), between
`<!-- bench:<machine> begin -->` and `<!-- bench:<machine> end -->`, inserted before the first
machine's section (or `## Speed` heading) if not there yet; the rest of the file is left as it
is:

    python3 tools/bench_ratios.py --write BENCHMARKS.md benches/record/zen4
"""

import argparse
import json
import os
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


def target(group, targets=TARGETS):
    keys = [k for k in targets if group.startswith(k)]
    return targets[max(keys, key=len)] if keys else None


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


# ---------------------------------------------------------------------------------------------
# --write: one machine's section of BENCHMARKS.md from benches/record/<machine>/

# The targets for normkern's time over floor's, by group name prefix (longest wins).
FLOOR_TARGETS = {
    "batch_norm_infer/": 1.15,
    "layer_norm/": 1.3,
    "rms_norm/": 1.3,
    "instance_norm/": 1.3,
    "group_norm/nchw": 1.3,
    "batch_norm_train/nchw_8x256x14x14": 1.3,
    "group_norm/nhwc": 1.7,
    "batch_norm_train/ntc": 1.7,
    "batch_norm_train/nchw_32x64x56x56": 1.7,
}
# benches/engine.rs's targets: the fused 16-bit call's time over the f32 call's, the unfused passes'.
ENGINE_TARGETS = {"f32": 0.55, "unfused": 0.6}
# Functions with a column of their own; any other becomes a `× copy` column (`normkern_2t`,
# a thread count, goes to the threads table).
BASE = {"normkern", "copy", "floor", "f32", "unfused"}
THREADED = re.compile(r"_(\d+)t$")


def load_machine(machine_dir):
    """[(run name, machine.json or {}, load() result)] for each run directory, in natural order."""
    runs = []
    for d in sorted((p for p in Path(machine_dir).iterdir() if p.is_dir()),
                    key=lambda p: natural_key(p.name)):
        groups = load(d)
        if groups:
            meta = d / "machine.json"
            runs.append((d.name, json.loads(meta.read_text()) if meta.exists() else {}, groups))
    return runs


def load_peers(path):
    """peers.py's --json file (or its stdout, one object a line): ({group: {engine: (µs, GB/s)}}, info)."""
    path = Path(path)
    if not path.exists():
        return {}, {}
    text = path.read_text()
    try:
        info = json.loads(text)
    except json.JSONDecodeError:
        info = {"results": [json.loads(line) for line in text.splitlines() if line.strip()]}
    peers = {}
    for row in info.get("results", []):
        if row.get("group") and row.get("median_us") is not None:
            peers.setdefault(row["group"], {})[row["engine"]] = (row["median_us"], row["gbps"])
    return peers, info


def spread(runs, group, a, b):
    """a's median time over b's, run by run: (median, min, max) over the runs holding both."""
    rs = [g[group][a][0] / g[group][b][0] for g in runs if {a, b} <= g.get(group, {}).keys()]
    return (median(rs), min(rs), max(rs)) if rs else None


def fmt_spread(s):
    if s is None:
        return "—"
    lo, hi = f"{s[1]:.2f}", f"{s[2]:.2f}"
    return f"{s[0]:.2f}" if lo == hi else f"{s[0]:.2f} ({lo}–{hi})"


def gbs(runs, group, function="normkern"):
    rates = [g[group][function][1] / g[group][function][0]
             for g in runs if function in g.get(group, {}) and g[group][function][1]]
    return f"{median(rates):.1f}" if rates else "—"


def met(s, goal):
    return "—" if s is None or goal is None else ("yes" if s[0] <= goal else "no")


def row(cells):
    return "| " + " | ".join(cells) + " |"


def ratio_table(runs, groups, peers, engine):
    """The floor table (norms.rs's groups) or, with `engine`, the f32/unfused one (engine.rs's)."""
    functions = {f for g in runs for name in groups for f in g.get(name, {})}
    extras = sorted((f for f in functions if f not in BASE and not THREADED.search(f)),
                    key=function_key)
    engines = sorted({e for name in groups for e in peers.get(name, {}) if e != "copy-limit"})
    if engine:
        head = [f"normkern × f32 (≤ {ENGINE_TARGETS['f32']})", "met",
                f"normkern × unfused (≤ {ENGINE_TARGETS['unfused']})", "met", "normkern × copy"]
    else:
        head = ["normkern × floor", "target", "met", "normkern × copy", "floor × copy"]
    head = ["group"] + head + ["GB/s"] + [f"`{f}` × copy" for f in extras]
    head += [f"{e} × its copy" for e in engines]
    lines = [row(head), "|---|" + "---:|" * (len(head) - 1)]
    for name in groups:
        if engine:
            f32, unfused = spread(runs, name, "normkern", "f32"), spread(runs, name, "normkern", "unfused")
            cells = [fmt_spread(f32), met(f32, ENGINE_TARGETS["f32"]),
                     fmt_spread(unfused), met(unfused, ENGINE_TARGETS["unfused"]),
                     fmt_spread(spread(runs, name, "normkern", "copy"))]
        else:
            floor, goal = spread(runs, name, "normkern", "floor"), target(name, FLOOR_TARGETS)
            cells = [fmt_spread(floor), f"≤ {goal}" if goal else "—", met(floor, goal),
                     fmt_spread(spread(runs, name, "normkern", "copy")),
                     fmt_spread(spread(runs, name, "floor", "copy"))]
        cells = [f"`{name}`"] + cells + [gbs(runs, name)]
        cells += [fmt_spread(spread(runs, name, f, "copy")) for f in extras]
        for e in engines:
            p = peers.get(name, {})
            cells.append(f"{p[e][0] / p['copy-limit'][0]:.2f}" if e in p and "copy-limit" in p else "—")
        lines.append(row(cells))
    return "\n".join(lines)


def threads_table(runs, groups):
    """Functions named like `normkern_2t`: × copy, and the speed-up over `normkern`."""
    lines = [row(["group", "function", "× copy", "speed-up over `normkern`", "GB/s"]),
             "|---|---|---:|---:|---:|"]
    for name in groups:
        functions = {f for g in runs for f in g.get(name, {}) if THREADED.search(f)}
        for f in sorted(functions, key=natural_key):
            up = spread(runs, name, "normkern", f)
            lines.append(row([f"`{name}`", f"`{f}`", fmt_spread(spread(runs, name, f, "copy")),
                              fmt_spread(up), gbs(runs, name, f)]))
    return "\n".join(lines) if len(lines) > 2 else ""


def short(commit):
    return (commit or "unknown")[:7]


def section(machine_dir, markdown):
    """The generated section for one machine: heading, provenance, commands, tables."""
    machine_dir = Path(machine_dir)
    machine = machine_dir.name
    records = load_machine(machine_dir)
    if not records:
        sys.exit(f"no runs under {machine_dir}")
    runs = [groups for _, _, groups in records]
    metas = [meta for _, meta, _ in records]
    peers, peer_info = load_peers(machine_dir / "peers.json")
    cpu = next((m["cpu"] for m in metas if m.get("cpu")), {})
    commits = sorted({short(m.get("commit")) + ("+dirty" if m.get("dirty") else "") for m in metas})
    dates = sorted({m["date"] for m in metas if m.get("date")})
    rustcs = list(dict.fromkeys(m["rustc"] for m in metas if m.get("rustc")))
    commands = list(dict.fromkeys(m["command"] for m in metas if m.get("command")))
    rel = lambda p: Path(os.path.relpath(p, Path(markdown).resolve().parent)).as_posix()
    record_link = rel(machine_dir.resolve())
    plot = Path(markdown).resolve().parent / "docs" / f"throughput-{machine}.svg"

    cpu_name = (f"{cpu['model_name']}, family {cpu['family']} model {cpu['model']}" if cpu
                else "a CPU not recorded (no machine.json)")
    out = [f"<!-- bench:{machine} begin -->",
           f"<!-- Generated by `python3 tools/bench_ratios.py --write {Path(markdown).name} "
           f"{record_link}`: edit the records or the script, not this section. -->",
           f"## Speed on {cpu_name} (`{machine}`), commit {', '.join(commits)}", ""]
    flags = ", ".join(cpu.get("isa_flags", []))
    run_names = ", ".join(f"`{name}`" for name, _, _ in records)
    when = " to ".join(dict.fromkeys([dates[0], dates[-1]])) if dates else "undated"
    plural = "s" if len(runs) > 1 else ""
    out.append((f"`/proc/cpuinfo`: \"{cpu['model_name']}\", family {cpu['family']}, model "
                f"{cpu['model']}" + (f" ({flags})" if flags else "") + "; " if cpu else "")
               + f"{', '.join(rustcs) or 'rustc not recorded'}. "
               f"{len(runs)} whole run{plural} ({run_names}), {when}, kept under "
               f"[`{record_link}/`]({record_link}/)" + (", each run by:" if commands else "."))
    out += (["", "```sh"] + commands + ["```"] if commands else []) + [""]
    if plot.exists():
        out += [f"![Throughput against tensor size on {machine}]({rel(plot)})", ""]
    out += ["Each ratio is one function's median time over another's in the same run, then the "
            "median over the runs (their range in brackets); GB/s is input + output bytes over "
            "normkern's median time (median over the runs). The targets are the issue's, on "
            "normkern × `floor` (one scale and shift over the same bytes, the least a kernel that "
            "writes through the cache does). Other functions: the instruction sets forced with "
            "`Kernels::new` and `scalar`, the naive loop."]
    if peers:
        versions = ", ".join(f"{e} {peer_info[e]}" for e in ("onnxruntime", "openvino")
                             if peer_info.get(e))
        out[-1] += (f" Peers ({versions or 'versions not recorded'}; `peers.json`"
                    + (f", {peer_info['date']}" if peer_info.get("date") else "")
                    + "): the engine's median over a numpy copy of the same bytes, single calls, "
                    "one thread, by `tools/peers.py`.")
    names = sorted({n for g in runs for n in g}, key=natural_key)
    is_engine = lambda n: any({"f32", "unfused"} & g.get(n, {}).keys() for g in runs)
    out += ["", ratio_table(runs, [n for n in names if not is_engine(n)], peers, False)]
    engine = [n for n in names if is_engine(n)]
    if engine:
        out += ["", "**16-bit and fused** (`benches/engine.rs`): the fused 16-bit call against "
                "the same call on f32 data and against normkern's separate passes.", "",
                ratio_table(runs, engine, peers, True)]
    threads = threads_table(runs, names)
    if threads:
        out += ["", "**Threads** (functions named `..._<n>t` run on n threads): their time over "
                "`copy`'s, and `normkern`'s one-thread time over theirs.", "", threads]
    out += ["", "To record a run and regenerate this section and the plot:", "", "```sh",
            "CRITERION_HOME=/tmp/runN taskset -c 1 cargo bench --bench norms --bench engine",
            f"python3 tools/bench_record.py /tmp/runN {record_link}/runN --command '<the line above>'",
            f"taskset -c 1 python3 tools/peers.py 30 --json {record_link}/peers.json",
            f"python3 tools/bench_plot.py {record_link} docs/throughput-{machine}.svg",
            f"python3 tools/bench_ratios.py --write {Path(markdown).name} {record_link}",
            "```", "", f"<!-- bench:{machine} end -->"]
    return machine, "\n".join(out)


def write(markdown, machine_dir):
    """Replaces (or inserts before the first machine's section) the machine's section of `markdown`."""
    machine, text = section(machine_dir, markdown)
    path = Path(markdown)
    doc = path.read_text()
    marked = re.compile(rf"<!-- bench:{re.escape(machine)} begin -->.*?"
                        rf"<!-- bench:{re.escape(machine)} end -->", re.DOTALL)
    if marked.search(doc):
        doc = marked.sub(lambda _: text, doc, count=1)
    else:
        # Before the first machine's section (its begin marker precedes its heading).
        at = re.search(r"^(<!-- bench:\S+ begin -->|## Speed)", doc, re.MULTILINE)
        at = at.start() if at else len(doc)
        doc = doc[:at] + text + "\n\n" + doc[at:]
    path.write_text(doc)
    print(f"{path}: section {machine} from {machine_dir}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("criterion_dirs", nargs="*", default=["target/criterion"])
    parser.add_argument("--filter", help="only groups whose name contains this")
    parser.add_argument("--summary", action="store_true", help="one line per group")
    parser.add_argument("--write", metavar="MARKDOWN",
                        help="regenerate each MACHINE_DIR's section (benches/record/<machine>) in it")
    args = parser.parse_args()
    if args.write:
        for machine_dir in args.criterion_dirs:
            write(args.write, machine_dir)
        return
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
