#!/usr/bin/env python3
"""Side-by-side timing (pip install onnxruntime onnx openvino numpy) of normalization ops in the peers a user would pick instead
(onnxruntime, OpenVINO) and the memory-bandwidth limit (a plain copy of the same bytes),
single-threaded, on the same shapes as the crate's own benchmarks.
Prints one JSON object per line: op, shape, engine, median_us, gbps (input+output bytes / time).

normkern's copy of ../shared/tools/peers.py, with onnxruntime's com.microsoft
SkipLayerNormalization in float32 and float16 on the shape of benches/engine.rs's
add_layer_norm group (512 tokens of 768; its output and the input + skip + bias sum):

    python3 tools/peers.py 30                 # every case
    python3 tools/peers.py 30 Skip            # the cases whose op contains "Skip"
    python3 tools/peers.py 30 --json benches/record/zen4/peers.json   # also one JSON file

Each line also names the crate's benchmark group of the same shape (`group`, null if none).
The --json file holds those lines as `results`, with the CPU, the date, the engines' versions
and the command, for tools/bench_ratios.py --write and tools/bench_plot.py. OpenVINO is
skipped if it is not installed.
"""
import argparse, datetime, json, sys, time
import numpy as np
import onnx
from onnx import helper, TensorProto

ARGS = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ARGS.add_argument("reps", nargs="?", type=int, default=30, help="calls timed per case")
ARGS.add_argument("only", nargs="?", default="", help="only the ops containing this")
ARGS.add_argument("--json", metavar="FILE", help="also write every result to FILE")
ARGS = ARGS.parse_args()
REPS, ONLY = ARGS.reps, ARGS.only

CASES = [
    # op, shape, attrs, params(shape list)
    ("LayerNormalization", (512, 768), {"axis": -1, "epsilon": 1e-5}, [(768,), (768,)]),
    ("LayerNormalization", (128, 4096), {"axis": -1, "epsilon": 1e-5}, [(4096,), (4096,)]),
    ("LayerNormalization", (4096, 64), {"axis": -1, "epsilon": 1e-5}, [(64,), (64,)]),
    ("LayerNormalization", (8192, 2048), {"axis": -1, "epsilon": 1e-5}, [(2048,), (2048,)]),
    ("RMSNormalization", (128, 4096), {"axis": -1, "epsilon": 1e-6}, [(4096,)]),
    ("BatchNormalization", (1, 64, 112, 112), {"epsilon": 1e-5}, [(64,)] * 4),
    ("BatchNormalization", (8, 256, 14, 14), {"epsilon": 1e-5}, [(256,)] * 4),
    ("BatchNormalization", (8, 256, 14, 14), {"epsilon": 1e-5, "training_mode": 1}, [(256,)] * 4),
    ("BatchNormalization", (32, 64, 56, 56), {"epsilon": 1e-5, "training_mode": 1}, [(64,)] * 4),
    ("InstanceNormalization", (1, 64, 128, 128), {"epsilon": 1e-5}, [(64,), (64,)]),
    ("GroupNormalization", (1, 320, 64, 64), {"epsilon": 1e-5, "num_groups": 32}, [(320,), (320,)]),
    # com.microsoft: input, skip (same shape), gamma, beta, bias; outputs output, mean,
    # inv_std_var, input_skip_bias_sum (mean and inv_std_var not asked for).
    ("SkipLayerNormalization", (1, 512, 768), {"epsilon": 1e-5}, [(768,)] * 3),
    ("SkipLayerNormalization:float16", (1, 512, 768), {"epsilon": 1e-5}, [(768,)] * 3),
]


def skip_model(op, shape, attrs, params):
    """SkipLayerNormalization (com.microsoft) in float32 or float16 (`op:float16`)."""
    half = op.endswith(":float16")
    dtype, proto = (np.float16, TensorProto.FLOAT16) if half else (np.float32, TensorProto.FLOAT)
    rng = np.random.default_rng(0)
    inits = [onnx.numpy_helper.from_array(rng.standard_normal(p).astype(dtype), f"p{i}")
             for i, p in enumerate(params)]
    outs = ["Y", "", "", "S"]
    node = helper.make_node("SkipLayerNormalization", ["X", "K", "p0", "p1", "p2"], outs,
                            domain="com.microsoft", **attrs)
    inputs = [helper.make_tensor_value_info(n, proto, list(shape)) for n in ("X", "K")]
    g = helper.make_graph([node], "g", inputs,
        [helper.make_tensor_value_info(o, proto, None) for o in ("Y", "S")], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 21),
                                               helper.make_opsetid("com.microsoft", 1)])

def model(op, shape, attrs, params):
    rng = np.random.default_rng(0)
    inits = []
    names = []
    for i, p in enumerate(params):
        a = rng.standard_normal(p).astype(np.float32)
        if op == "BatchNormalization" and i == 3:
            a = np.abs(a) + 0.5  # running var
        n = f"p{i}"
        inits.append(onnx.numpy_helper.from_array(a, n))
        names.append(n)
    outs = ["Y", "running_mean", "running_var"] if attrs.get("training_mode") else ["Y"]
    node = helper.make_node(op, ["X"] + names, outs, **attrs)
    g = helper.make_graph([node], "g",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, list(shape))],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outs], inits)
    opset = 23 if op == "RMSNormalization" else 15 if op == "BatchNormalization" else 21
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])

def group(op, shape, attrs):
    """The benchmark group (benches/norms.rs, benches/engine.rs) of the same op and shape."""
    dims = "x".join(map(str, shape))
    return {
        "LayerNormalization": f"layer_norm/{dims}",
        "RMSNormalization": f"rms_norm/{dims}",
        "BatchNormalization": f"batch_norm_{'train' if attrs.get('training_mode') else 'infer'}/nchw_{dims}",
        "InstanceNormalization": f"instance_norm/nchw_{dims}",
        "GroupNormalization": f"group_norm/nchw_{dims}",
        "SkipLayerNormalization:float16": "add_layer_norm/f16_" + "x".join(map(str, shape[1:])),
    }.get(op)

def timeit(fn):
    fn(); fn()
    ts = []
    for _ in range(REPS):
        t = time.perf_counter_ns(); fn(); ts.append(time.perf_counter_ns() - t)
    return float(np.median(ts)) / 1e3

def main():
    import onnxruntime as ort
    try:
        import openvino as ov
        core = ov.Core()
        core.set_property("CPU", {"INFERENCE_NUM_THREADS": 1, "INFERENCE_PRECISION_HINT": "f32"})
    except ImportError:
        ov = None
        print(json.dumps({"engine": "openvino", "error": "not installed, skipped"}), file=sys.stderr)
    results = []
    for op, shape, attrs, params in CASES:
        if ONLY not in op:
            continue
        skip = op.startswith("SkipLayerNormalization")
        dtype = np.float16 if op.endswith(":float16") else np.float32
        x = (np.random.default_rng(1).standard_normal(shape) * 3 + 1).astype(dtype)
        feeds = {"X": x}
        if skip:
            feeds["K"] = np.random.default_rng(2).standard_normal(shape).astype(dtype)
        # Bytes moved: every input read and every output written (skip: x, skip, y, sum).
        nbytes = 4 * x.nbytes if skip else 2 * x.nbytes
        m = skip_model(op, shape, attrs, params) if skip else model(op, shape, attrs, params)
        rows = []
        outs = [np.empty_like(x) for _ in range(2 if skip else 1)]
        sources = [feeds["X"], feeds.get("K", x)]
        rows.append(("copy-limit", timeit(lambda: [np.copyto(o, s) for o, s in zip(outs, sources)])))
        so = ort.SessionOptions(); so.intra_op_num_threads = 1; so.inter_op_num_threads = 1
        try:
            s = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
            rows.append(("onnxruntime", timeit(lambda: s.run(None, feeds))))
        except Exception as e:
            rows.append(("onnxruntime", None)); print(json.dumps({"op": op, "error": str(e)[:200]}), file=sys.stderr)
        if ov is not None:
            try:
                if skip:
                    raise RuntimeError("OpenVINO has no com.microsoft SkipLayerNormalization")
                cm = core.compile_model(core.read_model(m.SerializeToString(), b""), "CPU")
                req = cm.create_infer_request()
                rows.append(("openvino", timeit(lambda: req.infer({0: x}))))
            except Exception as e:
                rows.append(("openvino", None)); print(json.dumps({"op": op, "engine": "openvino", "error": str(e)[:300]}), file=sys.stderr)
        for eng, us in rows:
            results.append({"op": op + ("(training)" if attrs.get("training_mode") else ""), "shape": list(shape), "engine": eng,
                            "median_us": None if us is None else round(us, 1),
                            "gbps": None if us is None else round(nbytes / us / 1e3, 2),
                            "group": group(op, shape, attrs)})
            print(json.dumps(results[-1]))
        sys.stdout.flush()
    if ARGS.json:
        from bench_record import cpu  # tools/bench_record.py, beside this file
        info = {"cpu": cpu(), "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                "onnxruntime": ort.__version__, "openvino": getattr(ov, "__version__", None),
                "reps": REPS, "command": " ".join(["python3"] + sys.argv), "results": results}
        with open(ARGS.json, "w") as f:
            f.write(json.dumps(info, indent=1) + "\n")

if __name__ == "__main__":
    main()
