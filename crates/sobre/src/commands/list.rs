//! `sobre list [--json]`: the models in the store.

use std::io::Write;

use serde_json::json;

use crate::cli::ListArgs;

/// `1.5 GiB`-style sizes, as `ls -h` prints them.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

pub fn run(args: &ListArgs) -> anyhow::Result<()> {
    let store = store::Store::open_default()?;
    let models = store.list()?;
    let mut out = std::io::stdout().lock();
    if args.json {
        let rows: Vec<_> = models
            .iter()
            .map(|m| {
                json!({
                    "name": m.name,
                    "sha256": m.entry.sha256,
                    "bytes": m.entry.bytes,
                    "path": m.path,
                    "source": m.entry.source,
                    "architecture": m.entry.architecture,
                    "quantization": m.entry.quantization,
                    "pulled_at": m.entry.pulled_at,
                })
            })
            .collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&rows)?)?;
        return Ok(());
    }
    if models.is_empty() {
        writeln!(
            out,
            "no models in {}: `sobre pull gemma3:270m` fetches one",
            store.root().display()
        )?;
        return Ok(());
    }
    let width = models.iter().map(|m| m.name.len()).max().unwrap_or(4).max(4);
    writeln!(
        out,
        "{:width$}  {:>10}  {:12}  {:10}  {:8}  SOURCE",
        "NAME", "SIZE", "SHA256", "ARCH", "QUANT"
    )?;
    for m in &models {
        writeln!(
            out,
            "{:width$}  {:>10}  {:12}  {:10}  {:8}  {}",
            m.name,
            human_bytes(m.entry.bytes),
            m.entry.sha256.get(..12).unwrap_or(&m.entry.sha256),
            m.entry.architecture.as_deref().unwrap_or("-"),
            m.entry.quantization.as_deref().unwrap_or("-"),
            m.entry.source
        )?;
    }
    Ok(())
}
