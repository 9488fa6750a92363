//! `sobre inspect FILE [--json]`: the header, as a summary or one JSON object.

use std::collections::BTreeMap;
use std::io::{self, Write};

use anyhow::Context;
use gguf::{GgmlType, GgufFile, Value};
use serde_json::{json, Map, Value as Json};

use crate::cli::InspectArgs;

/// Arrays longer than this are summarised as `{"type", "len"}` in JSON.
const MAX_ARRAY_ITEMS: usize = 64;

pub fn run(args: &InspectArgs) -> anyhow::Result<()> {
    let file = GgufFile::open(&args.file).with_context(|| format!("{}", args.file.display()))?;
    let mut out = io::stdout().lock();
    if args.json {
        serde_json::to_writer(&mut out, &to_json(&file))?;
        writeln!(out)?;
    } else {
        write_summary(&mut out, &file)?;
    }
    out.flush()?;
    Ok(())
}

fn to_json(file: &GgufFile) -> Json {
    let metadata: Map<String, Json> = file
        .metadata()
        .iter()
        .map(|(k, v)| (k.to_string(), value_to_json(v)))
        .collect();
    let tensors: Vec<Json> = file
        .tensors()
        .iter()
        .map(|t| {
            json!({
                "name": t.name,
                "type": t.ggml_type.name(),
                "shape": t.shape,
                "offset": file.absolute_offset(t),
                "bytes": t.n_bytes,
            })
        })
        .collect();
    json!({
        "version": file.version(),
        "architecture": file.architecture(),
        "alignment": file.alignment(),
        "data_offset": file.data_offset(),
        "file_bytes": file.file_len(),
        "metadata": metadata,
        "tensors": tensors,
    })
}

/// Floats go through their shortest decimal form so an f32 0.1 prints as 0.1,
/// as numpy shows it; non-finite floats, which JSON cannot hold, as strings.
fn float_json(shortest: String, finite: bool) -> Json {
    if !finite {
        return Json::String(shortest);
    }
    shortest
        .parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map_or(Json::String(shortest), Json::Number)
}

pub(crate) fn value_to_json(v: &Value) -> Json {
    match v {
        Value::U8(x) => json!(x),
        Value::I8(x) => json!(x),
        Value::U16(x) => json!(x),
        Value::I16(x) => json!(x),
        Value::U32(x) => json!(x),
        Value::I32(x) => json!(x),
        Value::U64(x) => json!(x),
        Value::I64(x) => json!(x),
        Value::F32(x) => float_json(x.to_string(), x.is_finite()),
        Value::F64(x) => float_json(x.to_string(), x.is_finite()),
        Value::Bool(x) => json!(x),
        Value::String(s) => json!(s),
        Value::Array(a) if a.len() > MAX_ARRAY_ITEMS => {
            json!({"type": a.elem_type().name(), "len": a.len()})
        }
        Value::Array(a) => Json::Array(a.iter().map(|v| value_to_json(&v)).collect()),
    }
}

fn write_summary(out: &mut impl Write, file: &GgufFile) -> anyhow::Result<()> {
    let md = file.metadata();
    let arch = file.architecture().unwrap_or("(unknown)");
    writeln!(
        out,
        "file:           GGUF v{}, {}",
        file.version(),
        human_bytes(file.file_len())
    )?;
    if let Some(name) = md.get_str("general.name") {
        writeln!(out, "name:           {name}")?;
    }
    writeln!(out, "architecture:   {arch}")?;
    writeln!(out, "parameters:     {}", human_count(file.n_params()))?;
    if let Some(ctx) = md.get_u64(&format!("{arch}.context_length")) {
        writeln!(out, "context length: {ctx}")?;
    }
    for (label, key) in [
        ("layers", "block_count"),
        ("embedding", "embedding_length"),
        ("heads", "attention.head_count"),
        ("kv heads", "attention.head_count_kv"),
    ] {
        if let Some(v) = md.get_u64(&format!("{arch}.{key}")) {
            writeln!(out, "{:<16}{v}", format!("{label}:"))?;
        }
    }
    if let Some(model) = md.get_str("tokenizer.ggml.model") {
        let n = md.get_array("tokenizer.ggml.tokens").map_or(0, |a| a.len());
        writeln!(out, "tokenizer:      {model}, {n} tokens")?;
    }
    let data_end = file
        .tensors()
        .iter()
        .map(|t| file.absolute_offset(t) + t.n_bytes)
        .max()
        .unwrap_or(0);
    if data_end > file.file_len() {
        writeln!(
            out,
            "warning:        file is cut off: tensor data ends at byte {data_end}, file has {}",
            file.file_len()
        )?;
    }
    let mut by_type: BTreeMap<GgmlType, (usize, u64)> = BTreeMap::new();
    for t in file.tensors() {
        let e = by_type.entry(t.ggml_type).or_default();
        e.0 += 1;
        e.1 += t.n_bytes;
    }
    writeln!(out, "tensors:        {}", file.tensors().len())?;
    for (ty, (count, bytes)) in by_type {
        writeln!(
            out,
            "  {:<8} {count:>5} tensors  {:>10}",
            ty.name(),
            human_bytes(bytes)
        )?;
    }
    writeln!(out, "metadata keys:  {}", md.len())?;
    Ok(())
}

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

fn human_count(n: u64) -> String {
    match n {
        n if n >= 1_000_000_000 => format!("{:.2} B", n as f64 / 1e9),
        n if n >= 1_000_000 => format!("{:.1} M", n as f64 / 1e6),
        n if n >= 1_000 => format!("{:.1} K", n as f64 / 1e3),
        n => n.to_string(),
    }
}
