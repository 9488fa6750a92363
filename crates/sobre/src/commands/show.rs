//! `sobre show NAME`: what a model is (architecture, size, quantization,
//! context, license) and its chat template. NAME is a store name or a file.

use std::io::Write;

use anyhow::Context;
use serde_json::json;

use crate::cli::ShowArgs;

pub fn run(args: &ShowArgs) -> anyhow::Result<()> {
    let store = store::Store::open_default()?;
    let path = store.resolve(&args.name)?;
    let entry = store
        .manifest()?
        .models
        .get(&args.name)
        .cloned()
        .filter(|_| !std::path::Path::new(&args.name).exists());
    let summary = store::Summary::open(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = std::io::stdout().lock();
    if args.json {
        let value = json!({
            "name": args.name,
            "path": path,
            "sha256": entry.as_ref().map(|e| &e.sha256),
            "bytes": entry.as_ref().map(|e| e.bytes),
            "source": entry.as_ref().map(|e| &e.source),
            "model_name": summary.name,
            "architecture": summary.architecture,
            "parameters": summary.parameters,
            "quantization": summary.quantization,
            "context_length": summary.context_length,
            "license": summary.license,
            "chat_template": summary.chat_template,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
        return Ok(());
    }
    let dash = |o: Option<String>| o.unwrap_or_else(|| "-".to_string());
    writeln!(out, "name:           {}", args.name)?;
    if let Some(model) = &summary.name {
        writeln!(out, "model:          {model}")?;
    }
    writeln!(out, "file:           {}", path.display())?;
    if let Some(e) = &entry {
        writeln!(
            out,
            "size:           {} ({} bytes)",
            super::list::human_bytes(e.bytes),
            e.bytes
        )?;
        writeln!(out, "sha256:         {}", e.sha256)?;
        writeln!(out, "source:         {}", e.source)?;
        writeln!(out, "pulled:         {}", e.pulled_at)?;
    }
    writeln!(out, "architecture:   {}", dash(summary.architecture.clone()))?;
    writeln!(out, "parameters:     {}", params(summary.parameters))?;
    writeln!(out, "quantization:   {}", dash(summary.quantization.clone()))?;
    writeln!(
        out,
        "context length: {}",
        dash(summary.context_length.map(|c| c.to_string()))
    )?;
    writeln!(out, "license:        {}", dash(summary.license.clone()))?;
    match &summary.chat_template {
        Some(t) => writeln!(out, "chat template:\n{t}")?,
        None => writeln!(out, "chat template:  -")?,
    }
    Ok(())
}

/// `268.1 M`, `7.6 B`: as model cards round them.
fn params(n: u64) -> String {
    let n = n as f64;
    if n >= 1e9 {
        format!("{:.1} B", n / 1e9)
    } else if n >= 1e6 {
        format!("{:.1} M", n / 1e6)
    } else if n >= 1e3 {
        format!("{:.1} K", n / 1e3)
    } else {
        format!("{n}")
    }
}
