//! Conformance: runs every case folder of a corpus against normkern, on every instruction set
//! this CPU has.
//!
//! By default two corpora run, both in this crate: `tests/conformance/onnx`, the ONNX project's
//! own node tests for the normalization operators (float32), and `tests/conformance/engine`,
//! what inference engines run around a normalization (float16 and bfloat16 tensors,
//! onnxruntime's `com.microsoft` SkipLayerNormalization, SkipSimplifiedLayerNormalization and
//! GroupNorm, activations after the normalization). `NORMKERN_CONFORMANCE_DIR` names any other
//! folder of cases, which then runs alone.
//!
//! The format is described in `tests/conformance/README.md`: each folder holds a `case.json`
//! (operator, domain, opset, attributes, inputs, outputs, tolerances, activations after the
//! operator) and raw little-endian tensors of their dtype. Any corpus in that format runs
//! unchanged:
//!
//! - shapes of any rank are mapped onto the crate's `[N, C, spatial]` and `[rows, cols]` views;
//! - the data tensors (X, skip) go in as their own dtype (`InOut<f16>`, `Residual<bf16>`, ...),
//!   parameters of any dtype convert exactly to the f32 the crate takes; the element outputs
//!   (Y, `input_skip_bias_sum`) come back in the input's dtype, the f32 statistics are rounded
//!   to the dtype the case lists for them (a cast in the graph);
//! - `then` and com.microsoft GroupNorm's `activation` become the layer's `.then(..)`: the
//!   activation fused into the normalize pass;
//! - each output is compared with its own `atol`/`rtol` where the case gives them, else the
//!   case's.
//!
//! A case the crate cannot express (an unknown operator, dtype or activation, an output in
//! another dtype than the input, two activations in a row, an activation after an operator
//! that takes none, ...) fails with the reason: it is never skipped.

use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use normkern::{Isa, Kernels};

/// Loading a case folder: `case.json` and its tensors.
mod corpus {
    use crate::common::engine::{Act, Elem};
    use normkern::{bf16, f16};
    use serde_json::{Map, Value};
    use std::fs;
    use std::path::{Path, PathBuf};

    /// The dtype of a tensor.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum DType {
        F32,
        F16,
        Bf16,
    }

    impl DType {
        fn parse(v: Option<&Value>) -> Result<DType, String> {
            match v {
                None | Some(Value::Null) => Ok(DType::F32),
                Some(v) => match v.as_str() {
                    Some("float32") => Ok(DType::F32),
                    Some("float16") => Ok(DType::F16),
                    Some("bfloat16") => Ok(DType::Bf16),
                    _ => Err(format!(
                        "unsupported dtype {v} (normkern takes float32, float16 and bfloat16)"
                    )),
                },
            }
        }

        pub fn name(self) -> &'static str {
            match self {
                DType::F32 => f32::NAME,
                DType::F16 => f16::NAME,
                DType::Bf16 => bf16::NAME,
            }
        }

        fn size(self) -> usize {
            match self {
                DType::F32 => 4,
                DType::F16 | DType::Bf16 => 2,
            }
        }

        /// One value from its little-endian bytes, widened to f32 (exact).
        fn decode(self, b: &[u8]) -> f32 {
            match self {
                DType::F32 => f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
                DType::F16 => f16::from_le_bytes([b[0], b[1]]).to_f32(),
                DType::Bf16 => bf16::from_le_bytes([b[0], b[1]]).to_f32(),
            }
        }

        /// `v` rounded to this dtype (to nearest even) and widened back.
        pub fn round(self, v: f32) -> f32 {
            match self {
                DType::F32 => v,
                DType::F16 => <f16 as Elem>::round(v).widen(),
                DType::Bf16 => <bf16 as Elem>::round(v).widen(),
            }
        }
    }

    /// A tensor named in `case.json`, with its values read from its `.bin` file (widened to
    /// f32, exactly) and its own tolerances, if any.
    #[derive(Debug)]
    pub struct Tensor {
        pub name: String,
        pub shape: Vec<usize>,
        pub dtype: DType,
        pub data: Vec<f32>,
        pub atol: Option<f64>,
        pub rtol: Option<f64>,
    }

    /// One case folder.
    #[derive(Debug)]
    pub struct Case {
        pub op: String,
        /// `""` for ONNX's own operators (also written `ai.onnx`), else e.g. `com.microsoft`.
        pub domain: String,
        pub opset: i64,
        pub attrs: Map<String, Value>,
        /// In the operator's input order; `None` for an omitted optional input.
        pub inputs: Vec<Option<Tensor>>,
        /// Expected outputs in the operator's output order; `None` for an omitted one.
        pub outputs: Vec<Option<Tensor>>,
        /// The case's tolerances, for the outputs without their own.
        pub atol: Option<f64>,
        pub rtol: Option<f64>,
        /// Activations applied, in order, to the first output (`then`).
        pub then: Vec<Act>,
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
            let domain = match json.get("domain") {
                None | Some(Value::Null) => "",
                Some(v) => v.as_str().ok_or("case.json: `domain` is not a string")?,
            };
            let opset = json
                .get("opset")
                .and_then(Value::as_i64)
                .ok_or("case.json: missing integer `opset`")?;
            Ok(Case {
                op: op.to_owned(),
                domain: domain.to_owned(),
                opset,
                attrs: attrs(&json).map_err(|e| format!("case.json: {e}"))?,
                inputs: tensors(dir, &json, "inputs")?,
                outputs: tensors(dir, &json, "outputs")?,
                atol: number(&json, "atol")?,
                rtol: number(&json, "rtol")?,
                then: then(&json)?,
            })
        }
    }

    /// The `attrs` object of `json` (empty when absent).
    fn attrs(json: &Value) -> Result<Map<String, Value>, String> {
        match json.get("attrs") {
            None | Some(Value::Null) => Ok(Map::new()),
            Some(Value::Object(map)) => Ok(map.clone()),
            Some(other) => Err(format!("`attrs` is not an object: {other}")),
        }
    }

    /// An optional number.
    fn number(json: &Value, key: &str) -> Result<Option<f64>, String> {
        match json.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_f64()
                .map(Some)
                .ok_or_else(|| format!("`{key}` is not a number: {v}")),
        }
    }

    /// The `then` list: `{"op": "Relu"}`, `{"op": "Silu"}`, `{"op": "Gelu", "attrs":
    /// {"approximate": "none" | "tanh"}}`.
    fn then(json: &Value) -> Result<Vec<Act>, String> {
        let list = match json.get("then") {
            None | Some(Value::Null) => return Ok(Vec::new()),
            Some(Value::Array(list)) => list,
            Some(other) => return Err(format!("case.json: `then` is not a list: {other}")),
        };
        list.iter()
            .map(|step| {
                let op = step.get("op").and_then(Value::as_str);
                let attrs = attrs(step)?;
                let approximate = attrs.get("approximate").and_then(Value::as_str);
                match (op, approximate) {
                    (Some("Relu"), _) => Ok(Act::Relu),
                    (Some("Silu"), _) => Ok(Act::Silu),
                    (Some("Gelu"), None | Some("none")) => Ok(Act::Gelu),
                    (Some("Gelu"), Some("tanh")) => Ok(Act::GeluTanh),
                    _ => Err(format!(
                        "unsupported `then` step {step} (normkern applies Relu, Silu and Gelu \
                         with approximate none or tanh)"
                    )),
                }
            })
            .collect()
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
        let dtype = DType::parse(v.get("dtype"))?;
        let file = v
            .get("file")
            .and_then(Value::as_str)
            .ok_or("missing `file`")?;
        let bytes = fs::read(dir.join(file)).map_err(|e| format!("{file}: {e}"))?;
        if !bytes.len().is_multiple_of(dtype.size()) {
            return Err(format!(
                "{file}: {} bytes is not a whole number of {}",
                bytes.len(),
                dtype.name()
            ));
        }
        let data: Vec<f32> = bytes
            .chunks_exact(dtype.size())
            .map(|b| dtype.decode(b))
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
            dtype,
            data,
            atol: number(v, "atol")?,
            rtol: number(v, "rtol")?,
        }))
    }
}

/// Checking produced outputs against the expected ones.
mod compare {
    use super::corpus::{Case, Tensor};

    /// Checks every output the case lists (by position), each with its own tolerances or else
    /// the case's. `Err` describes each failing output by its worst element.
    pub fn outputs(case: &Case, got: &[Vec<f32>]) -> Result<(), String> {
        let mut problems = Vec::new();
        for (i, want) in case.outputs.iter().enumerate() {
            let Some(want) = want else { continue };
            let tolerance = want
                .atol
                .or(case.atol)
                .zip(want.rtol.or(case.rtol))
                .ok_or("no `atol` and `rtol`, of its own or the case's".to_owned());
            let result = match (got.get(i), tolerance) {
                (Some(got), Ok((atol, rtol))) => tensor(got, want, atol, rtol),
                (None, _) => Err("not produced".to_owned()),
                (_, Err(e)) => Err(e),
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

/// Mapping ONNX and onnxruntime operators and attributes onto normkern: one function per
/// operator, generic over the element type of its input and the activation after it, each
/// returning the outputs it produces in the operator's output order.
mod onnx {
    use super::corpus::{Case, DType, Tensor, product};
    use crate::common::adapt::{MaybeBeta, MaybeGamma};
    use crate::common::engine::{self, Act, Elem, with_activation};
    use normkern::{
        Activation, BatchNorm, BatchNormTraining, GroupNorm, InOut, InstanceNorm, Kernels,
        LayerNorm, MeanVarianceNorm, Momentum, MvnAxes, NormError, Residual, RmsNorm, RunningStats,
        SavedStats, Shape, bf16, f16,
    };
    use serde_json::Value;

    type Outputs = Result<Vec<Vec<f32>>, String>;

    /// Where an operator comes from.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Domain {
        Onnx,
        Microsoft,
    }

    fn domain(case: &Case) -> Result<Domain, String> {
        match case.domain.as_str() {
            "" | "ai.onnx" => Ok(Domain::Onnx),
            "com.microsoft" => Ok(Domain::Microsoft),
            other => Err(format!("unsupported domain `{other}`")),
        }
    }

    /// The outputs written in the input's element type: the first, and the Skip operators'
    /// `input_skip_bias_sum`. The others are f32 statistics.
    fn element_outputs(case: &Case) -> &'static [usize] {
        match case.op.as_str() {
            "SkipLayerNormalization" | "SkipSimplifiedLayerNormalization" => &[0, 3],
            _ => &[0],
        }
    }

    /// Runs the case's operator in the element type of its first input; fails if the case
    /// lists more outputs than it produces, or an element output in another dtype than the
    /// input's. The f32 statistics come back rounded to the dtype the case lists for them.
    pub fn run(case: &Case, k: &Kernels) -> Outputs {
        let x = required(case, 0, "the data input")?;
        let element = element_outputs(case);
        for (i, want) in case.outputs.iter().enumerate() {
            if let Some(want) = want
                && element.contains(&i)
                && want.dtype != x.dtype
            {
                return Err(format!(
                    "unsupported: output {i} `{}` is {} but the input is {}: normkern writes \
                     it in the input's element type",
                    want.name,
                    want.dtype.name(),
                    x.dtype.name()
                ));
            }
        }
        let outputs = match x.dtype {
            DType::F32 => typed::<f32>(case, k)?,
            DType::F16 => typed::<f16>(case, k)?,
            DType::Bf16 => typed::<bf16>(case, k)?,
        };
        if case.outputs.len() > outputs.len() {
            return Err(format!(
                "unsupported: the case lists {} outputs, this mapping produces {}",
                case.outputs.len(),
                outputs.len()
            ));
        }
        Ok(outputs
            .into_iter()
            .enumerate()
            .map(|(i, values)| match case.outputs.get(i) {
                Some(Some(want)) if !element.contains(&i) => {
                    values.into_iter().map(|v| want.dtype.round(v)).collect()
                }
                _ => values,
            })
            .collect())
    }

    /// [`run`] with `T` the input's element type: the activation picked, then the operator.
    fn typed<T: Elem>(case: &Case, k: &Kernels) -> Outputs {
        with_activation!(activation(case)?, a => operator::<T, _>(case, k, a))
    }

    /// The activation fused after the operator: the case's `then`, and com.microsoft
    /// GroupNorm's `activation` attribute (0 none, 1 SiLU); at most one in all.
    fn activation(case: &Case) -> Result<Act, String> {
        let mut acts = Vec::new();
        if domain(case)? == Domain::Microsoft && case.op == "GroupNorm" {
            let a = attr(case, "activation").ok_or("required attribute `activation` is missing")?;
            match as_int(a) {
                Some(0) => {}
                Some(1) => acts.push(Act::Silu),
                _ => {
                    return Err(format!(
                        "unsupported: GroupNorm activation {a} (0 none and 1 SiLU are defined)"
                    ));
                }
            }
        }
        acts.extend(&case.then);
        match acts.as_slice() {
            [] => Ok(Act::None),
            [one] => Ok(*one),
            more => Err(format!(
                "unsupported: {} activations in a row ({more:?}); a layer applies one",
                more.len()
            )),
        }
    }

    fn operator<T: Elem, A: Activation>(case: &Case, k: &Kernels, act: A) -> Outputs {
        match (domain(case)?, case.op.as_str()) {
            (Domain::Onnx, "BatchNormalization") => batch_normalization::<T, A>(case, k, act),
            (Domain::Onnx, "LayerNormalization") => layer_normalization::<T, A>(case, k, act),
            (Domain::Onnx, "RMSNormalization" | "SimplifiedLayerNormalization") => {
                rms_normalization::<T, A>(case, k, act)
            }
            (Domain::Onnx, "InstanceNormalization") => instance_normalization::<T, A>(case, k, act),
            (Domain::Onnx, "GroupNormalization") => group_normalization::<T, A>(case, k, act),
            (Domain::Onnx, "MeanVarianceNormalization") => {
                takes_no_activation(act, "MeanVarianceNormalization")?;
                mean_variance_normalization::<T>(case, k)
            }
            (Domain::Microsoft, "SkipLayerNormalization") => {
                skip_layer_normalization::<T, A>(case, k, act, false)
            }
            (Domain::Microsoft, "SkipSimplifiedLayerNormalization") => {
                skip_layer_normalization::<T, A>(case, k, act, true)
            }
            (Domain::Microsoft, "GroupNorm") => ms_group_norm::<T, A>(case, k, act),
            (_, other) => Err(format!(
                "unsupported operator `{other}` in domain `{}`",
                case.domain
            )),
        }
    }

    fn crate_error(e: NormError) -> String {
        format!("normkern error: {e}")
    }

    fn takes_no_activation<A: Activation>(act: A, what: &str) -> Result<(), String> {
        if engine::is_none(act) {
            Ok(())
        } else {
            Err(format!(
                "unsupported: an activation after {what}, which has no `then`"
            ))
        }
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

    /// A required count attribute (`num_groups`, `groups`).
    fn attr_count(case: &Case, key: &str) -> Result<usize, String> {
        let v = attr(case, key).ok_or_else(|| format!("required attribute `{key}` is missing"))?;
        as_int(v)
            .and_then(|g| usize::try_from(g).ok())
            .ok_or_else(|| format!("attribute `{key}` is not a count: {v}"))
    }

    /// `stash_type` (LayerNormalization, RMSNormalization, GroupNormalization): the statistics'
    /// precision; normkern's are float32 (1, the default).
    fn stash_type(case: &Case) -> Result<(), String> {
        match attr_int(case, "stash_type", 1)? {
            1 => Ok(()),
            other => Err(format!(
                "unsupported: stash_type {other} (normkern computes its statistics in float32)"
            )),
        }
    }

    fn input(case: &Case, i: usize) -> Option<&Tensor> {
        case.inputs.get(i).and_then(Option::as_ref)
    }

    fn required<'c>(case: &'c Case, i: usize, what: &str) -> Result<&'c Tensor, String> {
        input(case, i).ok_or_else(|| format!("required input {i} ({what}) is missing"))
    }

    /// Whether the case lists output `i`.
    fn listed(case: &Case, i: usize) -> bool {
        case.outputs.get(i).is_some_and(Option::is_some)
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

    /// `[N, D1, ..., Dk, C]` as channels-last `(N, D1·...·Dk, C)`.
    fn channels_last(x: &Tensor) -> Result<Shape, String> {
        match x.shape.as_slice() {
            [n, spatial @ .., c] => Ok(Shape::channels_last(*n, product(spatial)?, *c)),
            _ => Err(format!(
                "unsupported: rank-{} input {:?}; expected [N, D1, ..., C]",
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

    /// A data tensor's values in its element type `T` (exact: they were read as `T`).
    fn elements<T: Elem>(values: &[f32]) -> Vec<T> {
        engine::round_all(values)
    }

    /// Runs `f` on the data tensor `x` in its element type and a separate output; returns the
    /// output widened to f32.
    fn normalize<T: Elem>(
        x: &Tensor,
        f: impl FnOnce(InOut<'_, T>) -> Result<(), NormError>,
    ) -> Result<Vec<f32>, String> {
        let x: Vec<T> = elements(&x.data);
        let mut y = vec![T::round(0.0); x.len()];
        f(InOut::new(&x, &mut y)).map_err(crate_error)?;
        Ok(engine::widen_all(&y))
    }

    // ---- operators ----

    /// Inputs X, scale, B, input_mean, input_var. Inference: Y, then the activation if any.
    /// Training (`training_mode=1`, or before opset 14 more than one output): Y, running_mean,
    /// running_var with ONNX's momentum convention; no activation.
    fn batch_normalization<T: Elem, A: Activation>(case: &Case, k: &Kernels, act: A) -> Outputs {
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
        if !training {
            let bn = BatchNorm::new(&mean, &var)
                .eps(eps)
                .gamma(&scale)
                .beta(&bias)
                .then(act);
            let y = normalize::<T>(x, |io| k.batch_norm_inference(&bn, shape, io))?;
            return Ok(vec![y]);
        }
        takes_no_activation(act, "BatchNormalization in training mode")?;
        let momentum = attr_f32(case, "momentum", 0.9)?;
        let (mut running_mean, mut running_var) = (mean.clone(), var.clone());
        let p = BatchNormTraining::new().eps(eps).gamma(&scale).beta(&bias);
        let running = RunningStats::new(
            &mut running_mean,
            &mut running_var,
            Momentum::Onnx(momentum),
        );
        let y = normalize::<T>(x, |io| {
            k.batch_norm_training(&p, shape, io, Some(running), None)
        })?;
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

    /// Inputs X, Scale, B (optional). Outputs Y (then the activation, if any), Mean, InvStdDev
    /// (one value per row).
    fn layer_normalization<T: Elem, A: Activation>(case: &Case, k: &Kernels, act: A) -> Outputs {
        let x = required(case, 0, "X")?;
        stash_type(case)?;
        let (a, shape) = rows(case, x)?;
        let normalized = &x.shape[a..];
        let scale = input(case, 1)
            .map(|t| broadcast(t, normalized))
            .transpose()?;
        let bias = input(case, 2)
            .map(|t| broadcast(t, normalized))
            .transpose()?;
        let p = LayerNorm::new()
            .eps(attr_f32(case, "epsilon", 1e-5)?)
            .maybe_gamma(scale.as_deref())
            .maybe_beta(bias.as_deref())
            .then(act);
        let rows = shape.n();
        let (mut mean, mut inv_std) = (vec![0.0; rows], vec![0.0; rows]);
        let stats = SavedStats::new(&mut mean, &mut inv_std);
        let y = normalize::<T>(x, |io| k.layer_norm(&p, shape, io, Some(stats)))?;
        Ok(vec![y, mean, inv_std])
    }

    /// RMSNormalization (opset 23; onnxruntime's SimplifiedLayerNormalization alike): inputs
    /// X, scale. Output Y (then the activation, if any); and, when the case lists one, the
    /// inverse root mean square of each row (one value per row, `1 / sqrt(mean(X²) +
    /// epsilon)`): second, as SimplifiedLayerNormalization orders its outputs (Y,
    /// inv_std_var), or third after an omitted Mean, as LayerNormalization's are (Y, Mean,
    /// InvStdDev).
    fn rms_normalization<T: Elem, A: Activation>(case: &Case, k: &Kernels, act: A) -> Outputs {
        let x = required(case, 0, "X")?;
        if input(case, 2).is_some() {
            return Err(format!("unsupported: {} with a third input", case.op));
        }
        stash_type(case)?;
        let (a, shape) = rows(case, x)?;
        let scale = input(case, 1)
            .map(|t| broadcast(t, &x.shape[a..]))
            .transpose()?;
        let p = RmsNorm::new()
            .eps(attr_f32(case, "epsilon", 1e-5)?)
            .maybe_gamma(scale.as_deref())
            .then(act);
        let inv_rms_at = match (listed(case, 1), listed(case, 2)) {
            (true, _) => Some(1),
            (false, true) => Some(2),
            (false, false) => None,
        };
        let mut inv_rms = vec![0.0; shape.n()];
        let out = inv_rms_at.map(|_| &mut inv_rms[..]);
        let y = normalize::<T>(x, |io| k.rms_norm(&p, shape, io, out))?;
        Ok(match inv_rms_at {
            Some(1) => vec![y, inv_rms],
            Some(_) => vec![y, vec![], inv_rms],
            None => vec![y],
        })
    }

    /// Inputs input `[N, C, D...]`, scale, B (per channel). Output Y (then the activation, if
    /// any).
    fn instance_normalization<T: Elem, A: Activation>(case: &Case, k: &Kernels, act: A) -> Outputs {
        let x = required(case, 0, "input")?;
        let shape = channels_first(x)?;
        let scale = broadcast(required(case, 1, "scale")?, &[shape.c()])?;
        let bias = broadcast(required(case, 2, "B")?, &[shape.c()])?;
        let p = InstanceNorm::new()
            .eps(attr_f32(case, "epsilon", 1e-5)?)
            .gamma(&scale)
            .beta(&bias)
            .then(act);
        Ok(vec![normalize::<T>(x, |io| {
            k.instance_norm(&p, shape, io, None)
        })?])
    }

    /// GroupNorm of `x` as `shape` with per-channel scale and bias, then `act`: output Y.
    #[allow(clippy::too_many_arguments)]
    fn group_norm<T: Elem, A: Activation>(
        k: &Kernels,
        x: &Tensor,
        shape: Shape,
        groups: usize,
        eps: f32,
        scale: &[f32],
        bias: &[f32],
        act: A,
    ) -> Outputs {
        let p = GroupNorm::new(groups)
            .eps(eps)
            .gamma(scale)
            .beta(bias)
            .then(act);
        Ok(vec![normalize::<T>(x, |io| {
            k.group_norm(&p, shape, io, None)
        })?])
    }

    /// Inputs X `[N, C, D...]`, scale, bias: per channel from opset 21, per group before
    /// (expanded to every channel of the group). Attribute num_groups. Output Y (then the
    /// activation, if any).
    fn group_normalization<T: Elem, A: Activation>(case: &Case, k: &Kernels, act: A) -> Outputs {
        let x = required(case, 0, "X")?;
        stash_type(case)?;
        let shape = channels_first(x)?;
        let groups = attr_count(case, "num_groups")?;
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
        let eps = attr_f32(case, "epsilon", 1e-5)?;
        group_norm::<T, A>(k, x, shape, groups, eps, &scale, &bias, act)
    }

    /// onnxruntime's com.microsoft GroupNorm: input X `[N, H, W, C]` (`channels_last` = 1,
    /// the default; `[N, C, H, W]` with 0), gamma and beta per channel, attributes epsilon
    /// (default 1e-5), groups, activation (taken by [`activation`]). Output Y.
    fn ms_group_norm<T: Elem, A: Activation>(case: &Case, k: &Kernels, act: A) -> Outputs {
        let x = required(case, 0, "X")?;
        let shape = match attr_int(case, "channels_last", 1)? {
            1 => channels_last(x)?,
            0 => channels_first(x)?,
            other => return Err(format!("unsupported: channels_last {other}")),
        };
        let groups = attr_count(case, "groups")?;
        let gamma = broadcast(required(case, 1, "gamma")?, &[shape.c()])?;
        let beta = broadcast(required(case, 2, "beta")?, &[shape.c()])?;
        let eps = attr_f32(case, "epsilon", 1e-5)?;
        group_norm::<T, A>(k, x, shape, groups, eps, &gamma, &beta, act)
    }

    /// onnxruntime's com.microsoft SkipLayerNormalization (`simplified`:
    /// SkipSimplifiedLayerNormalization, RMSNorm) as the fused `add_layer_norm` (`add_rms_norm`):
    /// inputs input `[..., hidden]`, skip (the input's shape, or one that broadcasts to it),
    /// gamma, beta (optional; not in the simplified form), bias (optional), all three of the
    /// hidden size; attribute epsilon (default 1e-12). Outputs output (then the activation, if
    /// any), mean and inv_std_var (one value per row; the simplified form never produces its
    /// mean), input_skip_bias_sum (`(input + skip) + bias` in the input's element type).
    fn skip_layer_normalization<T: Elem, A: Activation>(
        case: &Case,
        k: &Kernels,
        act: A,
        simplified: bool,
    ) -> Outputs {
        let x = required(case, 0, "input")?;
        let skip = required(case, 1, "skip")?;
        if skip.dtype != x.dtype {
            return Err(format!(
                "unsupported: `skip` is {} but `input` is {}: the fused add takes both in one \
                 element type",
                skip.dtype.name(),
                x.dtype.name()
            ));
        }
        let Some((&hidden, outer)) = x.shape.split_last() else {
            return Err("unsupported: a rank-0 input".to_owned());
        };
        let shape = Shape::rows(product(outer)?, hidden);
        let per_hidden = |t: &Tensor| broadcast(t, &[hidden]);
        let gamma = per_hidden(required(case, 2, "gamma")?)?;
        let (beta, bias, extra) = if simplified {
            (None, input(case, 3), input(case, 4))
        } else {
            (input(case, 3), input(case, 4), input(case, 5))
        };
        if let Some(extra) = extra {
            return Err(format!("unsupported: an extra input `{}`", extra.name));
        }
        let beta = beta.map(per_hidden).transpose()?;
        let bias = bias.map(per_hidden).transpose()?;
        if simplified && listed(case, 1) {
            return Err(
                "unsupported: SkipSimplifiedLayerNormalization's `mean` (it is never produced)"
                    .to_owned(),
            );
        }
        let eps = attr_f32(case, "epsilon", 1e-12)?;
        let xs: Vec<T> = elements(&x.data);
        let skip: Vec<T> = elements(&broadcast(skip, &x.shape)?);
        let mut y = vec![T::round(0.0); xs.len()];
        let mut sum = vec![T::round(0.0); if listed(case, 3) { xs.len() } else { 0 }];
        let mut residual = Residual::new(&skip);
        if let Some(bias) = &bias {
            residual = residual.bias(bias);
        }
        if listed(case, 3) {
            residual = residual.sum_to(&mut sum);
        }
        let io = InOut::new(&xs, &mut y);
        let rows = shape.n();
        let (mut mean, mut inv_std) = (vec![0.0; rows], vec![0.0; rows]);
        let result = if simplified {
            let p = RmsNorm::new().eps(eps).gamma(&gamma).then(act);
            let inv_rms = listed(case, 2).then_some(&mut inv_std[..]);
            k.add_rms_norm(&p, shape, io, residual, inv_rms)
        } else {
            let p = LayerNorm::new()
                .eps(eps)
                .gamma(&gamma)
                .maybe_beta(beta.as_deref())
                .then(act);
            let saved = (listed(case, 1) || listed(case, 2))
                .then(|| SavedStats::new(&mut mean, &mut inv_std));
            k.add_layer_norm(&p, shape, io, residual, saved)
        };
        result.map_err(crate_error)?;
        Ok(vec![
            engine::widen_all(&y),
            mean,
            inv_std,
            engine::widen_all(&sum),
        ])
    }

    /// Input X of any rank, attribute axes (default `[0, 2, 3]`, negative counted from the
    /// end). Output Y.
    fn mean_variance_normalization<T: Elem>(case: &Case, k: &Kernels) -> Outputs {
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
        let xs: Vec<T> = elements(&x.data);
        let mut y = vec![T::round(0.0); xs.len()];
        for o in 0..plan.outer {
            let block = o * plan.block..(o + 1) * plan.block;
            let io = InOut::new(&xs[block.clone()], &mut y[block]);
            k.mean_variance_norm(&p, plan.shape, io)
                .map_err(crate_error)?;
        }
        Ok(vec![engine::widen_all(&y)])
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

/// `NORMKERN_CONFORMANCE_DIR` alone, else both corpora committed with the tests.
fn corpus_dirs() -> Vec<PathBuf> {
    match std::env::var_os("NORMKERN_CONFORMANCE_DIR") {
        Some(dir) => vec![PathBuf::from(dir)],
        None => ["onnx", "engine"]
            .iter()
            .map(|c| {
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("tests/conformance")
                    .join(c)
            })
            .collect(),
    }
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
    let name = match case.domain.as_str() {
        "" => case.op.clone(),
        domain => format!("{domain}.{}", case.op),
    };
    let mut failures: Vec<(String, Vec<Isa>)> = Vec::new();
    for &isa in isas {
        let Err(msg) = run_on(&case, isa) else {
            continue;
        };
        let msg = format!("{name}: {msg}");
        match failures.iter_mut().find(|(m, _)| *m == msg) {
            Some((_, on)) => on.push(isa),
            None => failures.push((msg, vec![isa])),
        }
    }
    failures
}

/// Runs every case of `dir` on every instruction set; prints each failure and returns the
/// number of cases that passed and failed.
fn run_corpus(dir: &Path, isas: &[Isa]) -> (usize, usize) {
    let cases = corpus::case_dirs(dir)
        .unwrap_or_else(|e| panic!("cannot read the conformance corpus: {e}"));
    assert!(
        !cases.is_empty(),
        "no conformance cases in {}",
        dir.display()
    );
    let names: Vec<&str> = isas.iter().map(|isa| isa.name()).collect();
    println!(
        "conformance corpus {}: {} cases on {}",
        dir.display(),
        cases.len(),
        names.join(", ")
    );
    let (mut passed, mut failed) = (0, 0);
    for case_dir in &cases {
        let failures = run_case(case_dir, isas);
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
    println!(
        "conformance {}: {passed} passed, {failed} failed",
        dir.display()
    );
    (passed, failed)
}

#[test]
fn onnx_conformance() {
    let isas: Vec<Isa> = Isa::available().collect();
    let (mut passed, mut failed) = (0, 0);
    for dir in corpus_dirs() {
        let (p, f) = run_corpus(&dir, &isas);
        passed += p;
        failed += f;
    }
    println!(
        "conformance: {passed} passed, {failed} failed, each on {} instruction sets",
        isas.len()
    );
    assert_eq!(failed, 0, "{failed} conformance case(s) failed");
}
