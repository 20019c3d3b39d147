//! Reading the firmware's output: one line per record, `TAG positional.. key=value..`.

use std::collections::BTreeMap;

/// One `R` (case) or `B` (benchmark) line.
#[derive(Clone, Debug)]
pub struct Record {
    pub index: usize,
    pub name: String,
    /// Instruction set (`scalar`, `portable`, `detect`) or `naive`.
    pub who: String,
    pub fields: BTreeMap<String, String>,
}

impl Record {
    pub fn field(&self, key: &str) -> Option<&str> {
        self.fields.get(key).map(String::as_str)
    }

    pub fn number(&self, key: &str) -> Option<u64> {
        self.field(key)?.parse().ok()
    }

    /// The f32 values of field `key` (hex bits, comma-separated); `None` if absent or garbled.
    pub fn values(&self, key: &str) -> Option<Vec<f32>> {
        let v = self.field(key)?;
        if v.is_empty() {
            return Some(vec![]);
        }
        v.split(',')
            .map(|h| u32::from_str_radix(h, 16).ok().map(f32::from_bits))
            .collect()
    }
}

/// Everything one board printed.
#[derive(Debug, Default)]
pub struct Output {
    pub board: String,
    pub case_count: Option<usize>,
    /// The instruction set `Kernels::detect()` picks there.
    pub detect: String,
    /// `(n1, t1, n2, t2)`: ticks of the `2 n`-instruction loop.
    pub calibration: Option<(u64, u64, u64, u64)>,
    pub overhead_ticks: u64,
    pub empty_stack: Option<u64>,
    pub cases: Vec<Record>,
    pub benches: Vec<Record>,
    pub done: Option<bool>,
    pub panic: Option<String>,
    /// Lines that match no record type.
    pub stray: Vec<String>,
}

impl Output {
    /// Instructions per counter tick, from the calibration loop: `2 (n2 - n1)` instructions
    /// over the difference of the two timings.
    pub fn per_tick(&self) -> Option<f64> {
        let (n1, t1, n2, t2) = self.calibration?;
        (t2 > t1).then(|| 2.0 * (n2 - n1) as f64 / (t2 - t1) as f64)
    }

    /// Instructions of a timing of `ticks`, less the timer's own overhead.
    pub fn instructions(&self, ticks: u64) -> Option<f64> {
        Some(ticks.saturating_sub(self.overhead_ticks) as f64 * self.per_tick()?)
    }
}

fn key_values<'a>(words: impl Iterator<Item = &'a str>) -> BTreeMap<String, String> {
    words
        .filter_map(|w| w.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn record(words: &[&str]) -> Option<Record> {
    Some(Record {
        index: words.get(1)?.parse().ok()?,
        name: words.get(2)?.to_string(),
        who: words.get(3)?.to_string(),
        fields: key_values(words[4..].iter().copied()),
    })
}

pub fn parse(text: &str) -> Output {
    let mut out = Output::default();
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        let words: Vec<&str> = line.split(' ').collect();
        let fields = || key_values(words.iter().copied());
        let num = |k: &str| fields().get(k).and_then(|v| v.parse::<u64>().ok());
        match words[0] {
            "H" => {
                out.board = fields().get("board").cloned().unwrap_or_default();
                out.case_count = num("cases").map(|v| v as usize);
                out.detect = fields().get("detect").cloned().unwrap_or_default();
            }
            "K" => {
                out.calibration = (|| Some((num("n1")?, num("t1")?, num("n2")?, num("t2")?)))();
            }
            "O" => out.overhead_ticks = num("ticks").unwrap_or(0),
            "S" => out.empty_stack = num("stack"),
            "R" => match record(&words) {
                Some(r) => out.cases.push(r),
                None => out.stray.push(line.to_string()),
            },
            "B" => match record(&words) {
                Some(r) => out.benches.push(r),
                None => out.stray.push(line.to_string()),
            },
            "DONE" => out.done = Some(num("ok") == Some(1)),
            "PANIC" => out.panic = Some(line.to_string()),
            "" => {}
            _ => out.stray.push(line.to_string()),
        }
    }
    out
}
