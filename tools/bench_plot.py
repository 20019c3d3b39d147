#!/usr/bin/env python3
"""Throughput (GB/s) against tensor size for one machine's records, as a hand-written SVG.

Reads benches/record/<machine>/ as tools/bench_ratios.py --write does (the criterion runs and
peers.json) and draws one panel per operator, LayerNorm and GroupNorm (the f32 groups of
benches/norms.rs): normkern, `floor`, `copy` and each peer engine (onnxruntime, OpenVINO if
recorded), the x axis the input tensor's bytes on a log scale, the y axis input + output bytes
per second. Points are the median over the runs, bars their range. Plain Python, no plotting
library: nothing to install, and the same records give the same file byte for byte.

    python3 tools/bench_plot.py benches/record/zen4 docs/throughput-zen4.svg
"""

import math
import sys
from pathlib import Path

from bench_ratios import load_machine, load_peers, median

PANELS = [("LayerNorm (f32)", "layer_norm/"), ("GroupNorm (f32, 32 groups)", "group_norm/")]
# (function, colour, dash pattern); peers follow in PEER_COLOURS.
SERIES = [("normkern", "#1f63b4", ""), ("floor", "#e07b00", "7 4"), ("copy", "#555555", "2 3")]
PEER_COLOURS = ["#2a9d2a", "#c0392b", "#8e44ad"]
LAYOUT_MARKERS = {"": "circle", "nchw": "circle", "nhwc": "square", "ntc": "triangle"}
W, PANEL_W, PANEL_H, LEFT, TOP, GAP = 1000, 400, 330, 70, 80, 90


def split(group):
    """`group_norm/nhwc_1x64x64x320` -> ("nhwc", "1x64x64x320"); `layer_norm/512x768` -> ("", ...)."""
    shape = group.split("/", 1)[1]
    layout, _, dims = shape.rpartition("_")
    return layout, dims


def panel_points(runs, peers, prefix):
    """{(series, layout): [(input bytes, median GB/s, lowest, highest, dims)]}."""
    points = {}
    names = {n for g in runs for n in g if n.startswith(prefix) and "floor" in g[n]}
    for name in sorted(names):
        layout, dims = split(name)
        nbytes = next(g[name]["copy"][1] for g in runs if "copy" in g.get(name, {}))
        for function, _, _ in SERIES:
            rates = [g[name][function][1] / g[name][function][0]
                     for g in runs if function in g.get(name, {})]
            if rates:
                point = (nbytes / 2, median(rates), min(rates), max(rates), dims)
                points.setdefault((function, layout), []).append(point)
        for engine, (_, rate) in peers.get(name, {}).items():
            if engine != "copy-limit" and rate:
                points.setdefault((engine, layout), []).append((nbytes / 2, rate, rate, rate, dims))
    return points


def size(nbytes):
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if nbytes >= scale:
            return f"{nbytes / scale:g} {unit}"
    return f"{nbytes:g} B"


def marker(kind, x, y, colour):
    if kind == "square":
        return f'<rect x="{x - 4:.1f}" y="{y - 4:.1f}" width="8" height="8" fill="{colour}"/>'
    if kind == "triangle":
        return f'<path d="M{x:.1f} {y - 5:.1f}L{x + 5:.1f} {y + 4:.1f}L{x - 5:.1f} {y + 4:.1f}Z" fill="{colour}"/>'
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{colour}"/>'


def text(x, y, s, size=12, anchor="start", extra=""):
    s = s.replace("&", "&amp;").replace("<", "&lt;")
    return f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}"{extra}>{s}</text>'


def svg(machine_dir):
    machine_dir = Path(machine_dir)
    records = load_machine(machine_dir)
    if not records:
        sys.exit(f"no runs under {machine_dir}")
    runs = [groups for _, _, groups in records]
    meta = records[-1][1]
    peers, peer_info = load_peers(machine_dir / "peers.json")
    engines = sorted({e for p in peers.values() for e in p if e != "copy-limit"})
    colours = {f: (c, d) for f, c, d in SERIES}
    colours.update({e: (PEER_COLOURS[i % len(PEER_COLOURS)], "") for i, e in enumerate(engines)})
    panels = [(title, panel_points(runs, peers, prefix)) for title, prefix in PANELS]

    # Shared axes: every panel's sizes and rates.
    all_points = [p for _, pts in panels for series in pts.values() for p in series]
    if not all_points:
        sys.exit(f"no LayerNorm or GroupNorm groups with a floor under {machine_dir}")
    lo = math.log2(min(p[0] for p in all_points)) - 1
    hi = math.log2(max(p[0] for p in all_points)) + 1
    top = max(p[3] for p in all_points)
    step = next(s for s in (1, 2, 5, 10, 20, 50, 100, 200) if top / s <= 8)
    ymax = step * math.ceil(top * 1.05 / step)

    cpu = meta.get("cpu", {})
    commits = sorted({(m.get("commit") or "unknown")[:7] + ("+dirty" if m.get("dirty") else "")
                      for _, m, _ in records})
    dates = sorted({m["date"][:10] for _, m, _ in records if m.get("date")})
    height = TOP + PANEL_H + 110
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{height}" '
           f'viewBox="0 0 {W} {height}" font-family="Helvetica, Arial, sans-serif">',
           f'<rect width="{W}" height="{height}" fill="white"/>',
           text(W / 2, 26, f"normkern throughput, one thread: {cpu.get('model_name', '?')}, family "
                f"{cpu.get('family')} model {cpu.get('model')} ({machine_dir.name}), "
                f"commit {', '.join(commits)}", 16, "middle", ' font-weight="bold"'),
           text(W / 2, 46, (f"criterion medians of {len(runs)} runs (bars: their range), "
                            if len(runs) > 1 else "criterion medians of one run, ")
                + f"{', '.join(dates)}; GB/s = (input + output bytes) / time"
                + (f"; peers: tools/peers.py, onnxruntime {peer_info.get('onnxruntime')}"
                   if peers else ""), 12, "middle", ' fill="#444"')]

    for i, (title, points) in enumerate(panels):
        x0, y0 = LEFT + i * (PANEL_W + GAP), TOP
        px = lambda b: x0 + (math.log2(b) - lo) / (hi - lo) * PANEL_W
        py = lambda r: y0 + PANEL_H - r / ymax * PANEL_H
        out.append(text(x0 + PANEL_W / 2, y0 - 10, title, 14, "middle", ' font-weight="bold"'))
        out.append(f'<rect x="{x0}" y="{y0}" width="{PANEL_W}" height="{PANEL_H}" '
                   f'fill="none" stroke="#999"/>')
        for k in range(0, int(ymax / step) + 1):
            y = py(k * step)
            out.append(f'<line x1="{x0}" x2="{x0 + PANEL_W}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>')
            out.append(text(x0 - 6, y + 4, f"{k * step:g}", 11, "end"))
        every = 1 if hi - lo <= 9 else 2
        for e in range(math.ceil(lo), math.floor(hi) + 1):
            if e % every == 0:
                x = px(2**e)
                out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y0}" y2="{y0 + PANEL_H}" stroke="#eee"/>')
                out.append(text(x, y0 + PANEL_H + 16, size(2**e), 11, "middle"))
        out.append(text(x0 + PANEL_W / 2, y0 + PANEL_H + 36, "input tensor size (bytes, log scale)", 12, "middle"))
        out.append(text(x0 - 44, y0 + PANEL_H / 2, "GB/s", 12, "middle",
                        f' transform="rotate(-90 {x0 - 44} {y0 + PANEL_H / 2})"'))
        # Layouts of one size side by side, 8 px apart.
        layouts = sorted({layout for _, layout in points})
        nudge = {l: 8 * (k - (len(layouts) - 1) / 2) for k, l in enumerate(layouts)}
        # Each size's shapes, along its gridline.
        shapes = {}
        for series in points.values():
            for b, *_, dims in series:
                shapes.setdefault(b, set()).add(dims)
        for b, dims in shapes.items():
            x, y = px(b) + min(nudge.values(), default=0) - 6, y0 + PANEL_H - 6
            out.append(text(x, y, ", ".join(sorted(dims)), 10, "start",
                            f' fill="#999" transform="rotate(-90 {x:.1f} {y:.1f})"'))
        for (function, layout), series in sorted(points.items()):
            colour, dash = colours[function]
            series.sort()
            path = " ".join(f"{'M' if j == 0 else 'L'}{px(b) + nudge[layout]:.1f} {py(r):.1f}"
                            for j, (b, r, *_) in enumerate(series))
            dashes = f' stroke-dasharray="{dash}"' if dash else ""
            out.append(f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="2"{dashes}/>')
            for b, r, low, high, _ in series:
                x = px(b) + nudge[layout]
                if high > low:
                    out.append(f'<path d="M{x:.1f} {py(low):.1f}V{py(high):.1f}M{x - 3:.1f} '
                               f'{py(low):.1f}h6M{x - 3:.1f} {py(high):.1f}h6" stroke="{colour}"/>')
                out.append(marker(LAYOUT_MARKERS.get(layout, "circle"), x, py(r), colour))

    # Legend: one entry per series, then the layouts' markers.
    x, y = LEFT, TOP + PANEL_H + 70
    names = [f for f, _, _ in SERIES] + engines
    labels = {"floor": "floor (one scale and shift)", "copy": "copy (copy_from_slice)"}
    for name in names:
        colour, dash = colours[name]
        dashes = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(f'<line x1="{x}" x2="{x + 30}" y1="{y}" y2="{y}" stroke="{colour}" stroke-width="2"{dashes}/>')
        out.append(marker("circle", x + 15, y, colour))
        label = labels.get(name, name)
        if name in engines and peer_info.get(name):
            label += f" {peer_info[name]}"
        out.append(text(x + 36, y + 4, label, 12))
        x += 60 + 6.6 * len(label)
    shapes = {}  # marker -> the layouts drawn with it
    for layout in sorted({layout for _, pts in panels for (_, layout) in pts}):
        shapes.setdefault(LAYOUT_MARKERS.get(layout, "circle"), []).append(layout.upper() or "rows")
    if len(shapes) > 1:
        for kind, names in shapes.items():
            out.append(marker(kind, x, y, "#333"))
            out.append(text(x + 9, y + 4, ", ".join(names), 12))
            x += 40 + 6.5 * len(", ".join(names))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    machine_dir = Path(sys.argv[1])
    target = Path(sys.argv[2] if len(sys.argv) == 3 else f"docs/throughput-{machine_dir.name}.svg")
    target.write_text(svg(machine_dir))
    print(f"{target}: from {machine_dir}")


if __name__ == "__main__":
    main()
