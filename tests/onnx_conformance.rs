//! ONNX conformance: runs every case folder of a corpus against normkern, on every instruction
//! set this CPU has.
//!
//! The corpus is the directory named by `NORMKERN_CONFORMANCE_DIR` (any folder of cases), by
//! default `tests/conformance/onnx` in this crate: the ONNX project's own node tests for the
//! normalization operators, float32. Its format is described in `tests/conformance/README.md`:
//! each folder holds a `case.json` (operator, opset, attributes, inputs, outputs, tolerances)
//! and raw little-endian tensors. Any corpus in that format runs unchanged: shapes of any rank
//! are mapped onto the crate's `[N, C, spatial]` and `[rows, cols]` views, and a case the
//! mapping cannot express fails with the reason instead of being skipped.
//!
//! `tests/conformance/engine` holds the engine corpus beside it (float16 and bfloat16 tensors,
//! onnxruntime's `com.microsoft` fused operators, activations after the normalization). It is
//! not part of the default run: its cases need element types and operators this runner does not
//! have yet. `NORMKERN_CONFORMANCE_DIR=tests/conformance/engine` runs it as it stands.

use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use normkern::{Isa, Kernels};

/// Loading a case folder: `case.json` and its tensors.
mod corpus {
    use serde_json::{Map, Value};
    use std::fs;
    use std::path::{Path, PathBuf};

    /// A tensor named in `case.json`, with its values read from its `.bin` file.
    #[derive(Debug)]
    pub struct Tensor {
        pub name: String,
        pub shape: Vec<usize>,
        pub data: Vec<f32>,
    }

    /// One case folder.
    #[derive(Debug)]
    pub struct Case {
        pub op: String,
        pub opset: i64,
        pub attrs: Map<String, Value>,
        /// In the operator's input order; `None` for an omitted optional input.
        pub inputs: Vec<Option<Tensor>>,
        /// Expected outputs in the operator's output order; `None` for an omitted one.
        pub outputs: Vec<Option<Tensor>>,
        pub atol: f64,
        pub rtol: f64,
    }

    /// The case folders of `dir` (every subdirectory), sorted by name.
    pub fn case_dirs(dir: &Path) -> Result<Vec<PathBuf>, String> {
        let entries = fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut dirs = Vec::new();
        for entry in entries {
            let path = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
            if path.is_dir() {
                dirs.push(path);
            }
        }
        dirs.sort();
        Ok(dirs)
    }

    /// Product of `dims`, or an error if it overflows `usize`.
    pub fn product(dims: &[usize]) -> Result<usize, String> {
        dims.iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| format!("shape {dims:?} has more elements than fit in usize"))
    }

    impl Case {
        pub fn load(dir: &Path) -> Result<Case, String> {
            let path = dir.join("case.json");
            let text = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let json: Value =
                serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            let op = json
                .get("op")
                .and_then(Value::as_str)
                .ok_or("case.json: missing string `op`")?;
            let opset = json
                .get("opset")
                .and_then(Value::as_i64)
                .ok_or("case.json: missing integer `opset`")?;
            let attrs = match json.get("attrs") {
                None | Some(Value::Null) => Map::new(),
                Some(Value::Object(map)) => map.clone(),
                Some(other) => return Err(format!("case.json: `attrs` is not an object: {other}")),
            };
            Ok(Case {
                op: op.to_owned(),
                opset,
                attrs,
                inputs: tensors(dir, &json, "inputs")?,
                outputs: tensors(dir, &json, "outputs")?,
                atol: number(&json, "atol")?,
                rtol: number(&json, "rtol")?,
            })
        }
    }

    fn number(json: &Value, key: &str) -> Result<f64, String> {
        json.get(key)
            .and_then(Value::as_f64)
            .ok_or_else(|| format!("case.json: missing number `{key}`"))
    }

    fn tensors(dir: &Path, json: &Value, key: &str) -> Result<Vec<Option<Tensor>>, String> {
        let list = match json.get(key) {
            None | Some(Value::Null) => return Ok(Vec::new()),
            Some(Value::Array(list)) => list,
            Some(_) => return Err(format!("case.json: `{key}` is not an array")),
        };
        list.iter()
            .enumerate()
            .map(|(i, v)| tensor(dir, v).map_err(|e| format!("{key}[{i}]: {e}")))
            .collect()
    }

    fn tensor(dir: &Path, v: &Value) -> Result<Option<Tensor>, String> {
        if v.is_null() {
            return Ok(None);
        }
        let name = v.get("name").and_then(Value::as_str).unwrap_or("?");
        let shape = v
            .get("shape")
            .and_then(Value::as_array)
            .ok_or("missing `shape`")?
            .iter()
            .map(|d| d.as_u64().and_then(|d| usize::try_from(d).ok()))
            .collect::<Option<Vec<usize>>>()
            .ok_or("`shape` is not a list of non-negative integers")?;
        let file = v
            .get("file")
            .and_then(Value::as_str)
            .ok_or("missing `file`")?;
        let bytes = fs::read(dir.join(file)).map_err(|e| format!("{file}: {e}"))?;
        if !bytes.len().is_multiple_of(4) {
            return Err(format!(
                "{file}: {} bytes is not a whole number of f32",
                bytes.len()
            ));
        }
        let data: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let expected = product(&shape)?;
        if data.len() != expected {
            return Err(format!(
                "{file}: {} values, but shape {shape:?} has {expected}",
                data.len()
            ));
        }
        Ok(Some(Tensor {
            name: name.to_owned(),
            shape,
            data,
        }))
    }
}

/// Checking produced outputs against the expected ones.
mod compare {
    use crate::corpus::{Case, Tensor};

    /// Checks every output the case lists (by position). `Err` describes each failing output
    /// by its worst element.
    pub fn outputs(case: &Case, got: &[Vec<f32>]) -> Result<(), String> {
        let mut problems = Vec::new();
        for (i, want) in case.outputs.iter().enumerate() {
            let Some(want) = want else { continue };
            let result = match got.get(i) {
                Some(got) => tensor(got, want, case.atol, case.rtol),
                None => Err("not produced".to_owned()),
            };
            if let Err(e) = result {
                problems.push(format!("output {i} `{}`: {e}", want.name));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }

    /// `|got - want| <= atol + rtol * |want|` element by element; NaN only where NaN is
    /// expected, an infinity only where the same infinity is expected.
    pub fn tensor(got: &[f32], want: &Tensor, atol: f64, rtol: f64) -> Result<(), String> {
        if got.len() != want.data.len() {
            return Err(format!(
                "{} values, expected {} (shape {:?})",
                got.len(),
                want.data.len(),
                want.shape
            ));
        }
        let mut worst: Option<(usize, f64)> = None;
        let mut bad = 0;
        for (i, (&g, &w)) in got.iter().zip(&want.data).enumerate() {
            let e = excess(g, w, atol, rtol);
            if e > 0.0 {
                bad += 1;
                if worst.is_none_or(|(_, worst_e)| e > worst_e) {
                    worst = Some((i, e));
                }
            }
        }
        let Some((i, e)) = worst else { return Ok(()) };
        let (g, w) = (got[i], want.data[i]);
        let error = if e.is_infinite() {
            "NaN/infinity mismatch".to_owned()
        } else {
            format!(
                "|error| {:.3e} > tolerance {:.3e}",
                (f64::from(g) - f64::from(w)).abs(),
                atol + rtol * f64::from(w).abs()
            )
        };
        Err(format!(
            "worst at {:?}: got {g:e}, want {w:e}, {error} ({bad} of {} values out of tolerance)",
            index(i, &want.shape),
            got.len()
        ))
    }

    /// How far `got` lies beyond the tolerance around `want`: `<= 0` passes, infinite for a
    /// NaN or infinity mismatch.
    fn excess(got: f32, want: f32, atol: f64, rtol: f64) -> f64 {
        let (g, w) = (f64::from(got), f64::from(want));
        if g.is_nan() || w.is_nan() {
            return if g.is_nan() && w.is_nan() {
                0.0
            } else {
                f64::INFINITY
            };
        }
        if g.is_infinite() || w.is_infinite() {
            return if g == w { 0.0 } else { f64::INFINITY };
        }
        (g - w).abs() - (atol + rtol * w.abs())
    }

    /// Multi-dimensional index of flat position `flat` in `shape`.
    fn index(mut flat: usize, shape: &[usize]) -> Vec<usize> {
        let mut idx = vec![0; shape.len()];
        for (slot, &d) in idx.iter_mut().zip(shape).rev() {
            if d > 0 {
                *slot = flat % d;
                flat /= d;
            }
        }
        idx
    }
}

/// Mapping ONNX operators and attributes onto normkern: one function per operator, each
/// returning the outputs it produces in ONNX output order.
mod onnx {
    use crate::corpus::{Case, Tensor, product};
    use normkern::{
        BatchNorm, BatchNormTraining, GroupNorm, InOut, InstanceNorm, Kernels, LayerNorm,
        MeanVarianceNorm, Momentum, MvnAxes, NormError, RmsNorm, RunningStats, SavedStats, Shape,
    };
    use serde_json::Value;

    type Outputs = Result<Vec<Vec<f32>>, String>;

    /// Runs the case's operator; fails if the case lists more outputs than it produces.
    pub fn run(case: &Case, k: &Kernels) -> Outputs {
        let outputs = match case.op.as_str() {
            "BatchNormalization" => batch_normalization(case, k)?,
            "LayerNormalization" => layer_normalization(case, k)?,
            "RMSNormalization" => rms_normalization(case, k)?,
            "InstanceNormalization" => instance_normalization(case, k)?,
            "GroupNormalization" => group_normalization(case, k)?,
            "MeanVarianceNormalization" => mean_variance_normalization(case, k)?,
            other => return Err(format!("unsupported operator `{other}`")),
        };
        if case.outputs.len() > outputs.len() {
            return Err(format!(
                "unsupported: the case lists {} outputs, this mapping produces {}",
                case.outputs.len(),
                outputs.len()
            ));
        }
        Ok(outputs)
    }

    fn crate_error(e: NormError) -> String {
        format!("normkern error: {e}")
    }

    // ---- attributes and inputs ----

    fn attr<'c>(case: &'c Case, key: &str) -> Option<&'c Value> {
        case.attrs.get(key).filter(|v| !v.is_null())
    }

    fn as_int(v: &Value) -> Option<i64> {
        v.as_i64()
            .or_else(|| v.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
    }

    fn attr_f32(case: &Case, key: &str, default: f32) -> Result<f32, String> {
        attr(case, key).map_or(Ok(default), |v| {
            v.as_f64()
                .map(|f| f as f32)
                .ok_or_else(|| format!("attribute `{key}` is not a number: {v}"))
        })
    }

    fn attr_int(case: &Case, key: &str, default: i64) -> Result<i64, String> {
        attr(case, key).map_or(Ok(default), |v| {
            as_int(v).ok_or_else(|| format!("attribute `{key}` is not an integer: {v}"))
        })
    }

    fn attr_ints(case: &Case, key: &str) -> Result<Option<Vec<i64>>, String> {
        let Some(v) = attr(case, key) else {
            return Ok(None);
        };
        v.as_array()
            .and_then(|list| list.iter().map(as_int).collect::<Option<Vec<_>>>())
            .map(Some)
            .ok_or_else(|| format!("attribute `{key}` is not a list of integers: {v}"))
    }

    fn input(case: &Case, i: usize) -> Option<&Tensor> {
        case.inputs.get(i).and_then(Option::as_ref)
    }

    fn required<'c>(case: &'c Case, i: usize, what: &str) -> Result<&'c Tensor, String> {
        input(case, i).ok_or_else(|| format!("required input {i} ({what}) is missing"))
    }

    /// ONNX axis in `-rank..rank` to `0..rank`.
    fn axis(axis: i64, rank: usize) -> Result<usize, String> {
        let r = rank as i64;
        let a = if axis < 0 { axis + r } else { axis };
        if (0..r).contains(&a) {
            Ok(a as usize)
        } else {
            Err(format!(
                "axis {axis} is out of range for a rank-{rank} input"
            ))
        }
    }

    /// `[N, C, D1, ..., Dk]` as channels-first `(N, C, D1·...·Dk)`; `[N, C]` has spatial 1.
    fn channels_first(x: &Tensor) -> Result<Shape, String> {
        match x.shape.as_slice() {
            [n, c, spatial @ ..] => Ok(Shape::channels_first(*n, *c, product(spatial)?)),
            _ => Err(format!(
                "unsupported: rank-{} input {:?}; expected [N, C, D1, ...]",
                x.shape.len(),
                x.shape
            )),
        }
    }

    /// `t`'s values broadcast (NumPy rules, aligned to the right) to `target`, row-major.
    fn broadcast(t: &Tensor, target: &[usize]) -> Result<Vec<f32>, String> {
        let fail = || {
            format!(
                "unsupported: input `{}` of shape {:?} does not broadcast to {target:?}",
                t.name, t.shape
            )
        };
        if t.shape == target {
            return Ok(t.data.clone());
        }
        let extra = t.shape.len().saturating_sub(target.len());
        if t.shape[..extra].iter().any(|&d| d != 1) {
            return Err(fail());
        }
        // t's shape padded with leading 1s to target's rank, and its strides (0 where broadcast).
        let mut src = vec![1; target.len() - (t.shape.len() - extra)];
        src.extend_from_slice(&t.shape[extra..]);
        let mut strides = vec![0; target.len()];
        let mut stride = 1;
        for i in (0..target.len()).rev() {
            if src[i] == target[i] {
                strides[i] = stride;
                stride *= src[i];
            } else if src[i] != 1 {
                return Err(fail());
            }
        }
        let total = product(target)?;
        let mut out = Vec::with_capacity(total);
        for flat in 0..total {
            let (mut rest, mut at) = (flat, 0);
            for i in (0..target.len()).rev() {
                at += (rest % target[i]) * strides[i];
                rest /= target[i];
            }
            out.push(t.data[at]);
        }
        Ok(out)
    }

    // ---- operators ----

    /// Inputs X, scale, B, input_mean, input_var. Inference: Y. Training (`training_mode=1`,
    /// or before opset 14 more than one output): Y, running_mean, running_var with ONNX's
    /// momentum convention.
    fn batch_normalization(case: &Case, k: &Kernels) -> Outputs {
        let x = required(case, 0, "X")?;
        let shape = channels_first(x)?;
        let per_channel = |i: usize, what: &str| broadcast(required(case, i, what)?, &[shape.c()]);
        let scale = per_channel(1, "scale")?;
        let bias = per_channel(2, "B")?;
        let mean = per_channel(3, "input_mean")?;
        let var = per_channel(4, "input_var")?;
        let eps = attr_f32(case, "epsilon", 1e-5)?;
        if attr_int(case, "spatial", 1)? == 0 {
            return Err("unsupported: BatchNormalization spatial=0".to_owned());
        }
        let training =
            attr_int(case, "training_mode", 0)? != 0 || (case.opset < 14 && case.outputs.len() > 1);
        let mut y = vec![0.0; x.data.len()];
        if !training {
            let bn = BatchNorm::new(&mean, &var)
                .eps(eps)
                .gamma(&scale)
                .beta(&bias);
            k.batch_norm_inference(&bn, shape, InOut::new(&x.data, &mut y))
                .map_err(crate_error)?;
            return Ok(vec![y]);
        }
        let momentum = attr_f32(case, "momentum", 0.9)?;
        let (mut running_mean, mut running_var) = (mean.clone(), var.clone());
        let p = BatchNormTraining::new().eps(eps).gamma(&scale).beta(&bias);
        let running = RunningStats::new(
            &mut running_mean,
            &mut running_var,
            Momentum::Onnx(momentum),
        );
        let io = InOut::new(&x.data, &mut y);
        k.batch_norm_training(&p, shape, io, Some(running), None)
            .map_err(crate_error)?;
        Ok(vec![y, running_mean, running_var])
    }

    /// The normalized trailing dims `dims[axis..]` (`axis` default -1, negative counted from
    /// the end) and the tensor as `Shape::rows(rows, cols)`: rows = product of
    /// `dims[..axis]`, cols = product of `dims[axis..]`.
    fn rows(case: &Case, x: &Tensor) -> Result<(usize, Shape), String> {
        let a = axis(attr_int(case, "axis", -1)?, x.shape.len())?;
        Ok((
            a,
            Shape::rows(product(&x.shape[..a])?, product(&x.shape[a..])?),
        ))
    }

    /// Inputs X, Scale, B (optional). Outputs Y, Mean, InvStdDev (one value per row).
    fn layer_normalization(case: &Case, k: &Kernels) -> Outputs {
        let x = required(case, 0, "X")?;
        let (a, shape) = rows(case, x)?;
        let normalized = &x.shape[a..];
        let scale = input(case, 1)
            .map(|t| broadcast(t, normalized))
            .transpose()?;
        let bias = input(case, 2)
            .map(|t| broadcast(t, normalized))
            .transpose()?;
        let mut p = LayerNorm::new().eps(attr_f32(case, "epsilon", 1e-5)?);
        if let Some(scale) = &scale {
            p = p.gamma(scale);
        }
        if let Some(bias) = &bias {
            p = p.beta(bias);
        }
        let mut y = vec![0.0; x.data.len()];
        let rows = shape.n();
        let (mut mean, mut inv_std) = (vec![0.0; rows], vec![0.0; rows]);
        let stats = SavedStats::new(&mut mean, &mut inv_std);
        k.layer_norm(&p, shape, InOut::new(&x.data, &mut y), Some(stats))
            .map_err(crate_error)?;
        Ok(vec![y, mean, inv_std])
    }

    /// Opset 23: inputs X, scale. Output Y; and, when the case lists one, the inverse root
    /// mean square of each row (one value per row, `1 / sqrt(mean(X²) + epsilon)`): second,
    /// as onnxruntime's SimplifiedLayerNormalization orders its outputs (Y, inv_std_var), or
    /// third after an omitted Mean, as LayerNormalization's are (Y, Mean, InvStdDev).
    fn rms_normalization(case: &Case, k: &Kernels) -> Outputs {
        let x = required(case, 0, "X")?;
        if input(case, 2).is_some() {
            return Err("unsupported: RMSNormalization with a third input".to_owned());
        }
        let (a, shape) = rows(case, x)?;
        let scale = input(case, 1)
            .map(|t| broadcast(t, &x.shape[a..]))
            .transpose()?;
        let mut p = RmsNorm::new().eps(attr_f32(case, "epsilon", 1e-5)?);
        if let Some(scale) = &scale {
            p = p.gamma(scale);
        }
        let listed = |i: usize| case.outputs.get(i).is_some_and(Option::is_some);
        let inv_rms_at = match (listed(1), listed(2)) {
            (true, _) => Some(1),
            (false, true) => Some(2),
            (false, false) => None,
        };
        let mut y = vec![0.0; x.data.len()];
        let mut inv_rms = vec![0.0; shape.n()];
        let io = InOut::new(&x.data, &mut y);
        k.rms_norm(&p, shape, io, inv_rms_at.map(|_| &mut inv_rms[..]))
            .map_err(crate_error)?;
        Ok(match inv_rms_at {
            Some(1) => vec![y, inv_rms],
            Some(_) => vec![y, vec![], inv_rms],
            None => vec![y],
        })
    }

    /// Inputs input `[N, C, D...]`, scale, B (per channel). Output Y.
    fn instance_normalization(case: &Case, k: &Kernels) -> Outputs {
        let x = required(case, 0, "input")?;
        let shape = channels_first(x)?;
        let scale = broadcast(required(case, 1, "scale")?, &[shape.c()])?;
        let bias = broadcast(required(case, 2, "B")?, &[shape.c()])?;
        let p = InstanceNorm::new()
            .eps(attr_f32(case, "epsilon", 1e-5)?)
            .gamma(&scale)
            .beta(&bias);
        let mut y = vec![0.0; x.data.len()];
        k.instance_norm(&p, shape, InOut::new(&x.data, &mut y), None)
            .map_err(crate_error)?;
        Ok(vec![y])
    }

    /// Inputs X `[N, C, D...]`, scale, bias: per channel from opset 21, per group before
    /// (expanded to every channel of the group). Attribute num_groups. Output Y.
    fn group_normalization(case: &Case, k: &Kernels) -> Outputs {
        let x = required(case, 0, "X")?;
        let shape = channels_first(x)?;
        let groups =
            attr(case, "num_groups").ok_or("required attribute `num_groups` is missing")?;
        let groups = as_int(groups)
            .and_then(|g| usize::try_from(g).ok())
            .ok_or_else(|| format!("attribute `num_groups` is not a count: {groups}"))?;
        let per_channel = |i: usize, what: &str| -> Result<Vec<f32>, String> {
            let t = required(case, i, what)?;
            if case.opset >= 21 || groups == 0 || !shape.c().is_multiple_of(groups) {
                return broadcast(t, &[shape.c()]);
            }
            let per_group = broadcast(t, &[groups])?;
            let size = shape.c() / groups;
            Ok((0..shape.c()).map(|c| per_group[c / size]).collect())
        };
        let scale = per_channel(1, "scale")?;
        let bias = per_channel(2, "bias")?;
        let p = GroupNorm::new(groups)
            .eps(attr_f32(case, "epsilon", 1e-5)?)
            .gamma(&scale)
            .beta(&bias);
        let mut y = vec![0.0; x.data.len()];
        k.group_norm(&p, shape, InOut::new(&x.data, &mut y), None)
            .map_err(crate_error)?;
        Ok(vec![y])
    }

    /// Input X of any rank, attribute axes (default `[0, 2, 3]`, negative counted from the
    /// end). Output Y.
    fn mean_variance_normalization(case: &Case, k: &Kernels) -> Outputs {
        if case.opset < 9 {
            return Err(format!(
                "unsupported: MeanVarianceNormalization opset {} (across_channels form)",
                case.opset
            ));
        }
        let x = required(case, 0, "X")?;
        let axes = attr_ints(case, "axes")?.unwrap_or_else(|| vec![0, 2, 3]);
        // An empty list reduces every axis, as ReduceMean (MVN's function body) does.
        let mut reduced = vec![axes.is_empty(); x.shape.len()];
        for &a in &axes {
            reduced[axis(a, x.shape.len())?] = true;
        }
        let plan = MvnPlan::new(&x.shape, &reduced)
            .ok_or_else(|| format!("unsupported axes {axes:?} for shape {:?}", x.shape))?;
        let p = MeanVarianceNorm::new().axes(plan.axes);
        let mut y = vec![0.0; x.data.len()];
        for o in 0..plan.outer {
            let block = o * plan.block..(o + 1) * plan.block;
            let io = InOut::new(&x.data[block.clone()], &mut y[block]);
            k.mean_variance_norm(&p, plan.shape, io)
                .map_err(crate_error)?;
        }
        Ok(vec![y])
    }

    /// How arbitrary MVN axes map onto the crate: the tensor is `outer` independent blocks of
    /// `block` values, each normalized as `shape` over `axes`.
    #[derive(Debug)]
    struct MvnPlan {
        outer: usize,
        block: usize,
        shape: Shape,
        axes: MvnAxes,
    }

    impl MvnPlan {
        /// Dims are classified kept or reduced; size-1 dims are dropped (they change nothing)
        /// and neighbours of one kind merged. Leading kept dims become the outer loop; the
        /// rest must be `[R]`, `[R K]` or `[R K R]`. `None` for any other pattern.
        fn new(dims: &[usize], reduced: &[bool]) -> Option<MvnPlan> {
            let mut runs: Vec<(bool, usize)> = Vec::new();
            for (&d, &r) in dims.iter().zip(reduced) {
                match runs.last_mut() {
                    _ if d == 1 => {}
                    Some((kind, n)) if *kind == r => *n = n.checked_mul(d)?,
                    _ => runs.push((r, d)),
                }
            }
            let outer = match runs.first() {
                Some(&(false, n)) => {
                    runs.remove(0);
                    n
                }
                _ => 1,
            };
            let (shape, axes) = match runs.as_slice() {
                [] => (Shape::channels_first(1, 1, 1), MvnAxes::Spatial),
                [(true, r)] => (Shape::channels_first(1, 1, *r), MvnAxes::Spatial),
                [(true, r), (false, k)] => {
                    (Shape::channels_last(1, *r, *k), MvnAxes::BatchAndSpatial)
                }
                [(true, r1), (false, k), (true, r2)] => (
                    Shape::channels_first(*r1, *k, *r2),
                    MvnAxes::BatchAndSpatial,
                ),
                _ => return None,
            };
            let block = shape.len()?;
            Some(MvnPlan {
                outer,
                block,
                shape,
                axes,
            })
        }
    }
}

/// `NORMKERN_CONFORMANCE_DIR`, else the ONNX corpus committed with the tests.
fn corpus_dir() -> PathBuf {
    std::env::var_os("NORMKERN_CONFORMANCE_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance/onnx"),
        PathBuf::from,
    )
}

/// Runs one case on one instruction set; `Err` says why it failed. A panic counts as a failure.
fn run_on(case: &corpus::Case, isa: Isa) -> Result<(), String> {
    let k = Kernels::new(isa).map_err(|e| e.to_string())?;
    let outputs =
        panic::catch_unwind(AssertUnwindSafe(|| onnx::run(case, &k))).map_err(|p| {
            let msg = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            format!("panicked: {msg}")
        })??;
    compare::outputs(case, &outputs)
}

/// Runs one case folder on every instruction set; returns each distinct failure with the
/// instruction sets it happened on (empty if the case passed).
fn run_case(dir: &Path, isas: &[Isa]) -> Vec<(String, Vec<Isa>)> {
    let case = match corpus::Case::load(dir) {
        Ok(case) => case,
        Err(e) => return vec![(format!("cannot load case: {e}"), isas.to_vec())],
    };
    let mut failures: Vec<(String, Vec<Isa>)> = Vec::new();
    for &isa in isas {
        let Err(msg) = run_on(&case, isa) else {
            continue;
        };
        let msg = format!("{}: {msg}", case.op);
        match failures.iter_mut().find(|(m, _)| *m == msg) {
            Some((_, on)) => on.push(isa),
            None => failures.push((msg, vec![isa])),
        }
    }
    failures
}

#[test]
fn onnx_conformance() {
    let dir = corpus_dir();
    let cases = corpus::case_dirs(&dir)
        .unwrap_or_else(|e| panic!("cannot read the conformance corpus: {e}"));
    assert!(
        !cases.is_empty(),
        "no conformance cases in {}",
        dir.display()
    );
    let isas: Vec<Isa> = Isa::available().collect();
    let names: Vec<&str> = isas.iter().map(|isa| isa.name()).collect();
    println!(
        "conformance corpus {}: {} cases on {}",
        dir.display(),
        cases.len(),
        names.join(", ")
    );

    let (mut passed, mut failed) = (0, 0);
    for case_dir in &cases {
        let failures = run_case(case_dir, &isas);
        if failures.is_empty() {
            passed += 1;
            continue;
        }
        failed += 1;
        let name = case_dir.file_name().unwrap_or_default().to_string_lossy();
        for (msg, on) in failures {
            let on: Vec<&str> = on.iter().map(|isa| isa.name()).collect();
            println!("FAIL {name} [{}]: {msg}", on.join(", "));
        }
    }
    println!("conformance: {passed} passed, {failed} failed");
    assert_eq!(failed, 0, "{failed} conformance case(s) failed");
}
