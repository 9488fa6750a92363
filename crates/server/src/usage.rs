//! What an answer cost: tokens, time and energy, in the shapes the APIs use.

use engine::Summary;
use serde_json::{json, Value};

/// The `"energy"` object, field for field what `sobre run --json` prints.
pub fn energy_json(e: &energy::EnergyReport) -> Value {
    json!({
        "joules": e.joules,
        "source": e.source.as_str(),
        "gco2e": e.gco2e,
        "grid_gco2e_per_kwh": e.grid_gco2e_per_kwh,
    })
}

/// OpenAI's `usage`, with the energy beside the token counts.
pub fn openai_usage(s: &Summary) -> Value {
    json!({
        "prompt_tokens": s.prompt_tokens,
        "completion_tokens": s.completion_tokens,
        "total_tokens": s.prompt_tokens + s.completion_tokens,
        "energy": energy_json(&s.energy),
    })
}

/// llama.cpp server's non-standard `timings`, which some UIs display.
pub fn timings(s: &Summary) -> Value {
    let t = &s.timings;
    let per_token = |ms: f64, n: usize| if n > 0 { ms / n as f64 } else { 0.0 };
    json!({
        "queue_ms": t.queue_ms,
        "prompt_n": s.prompt_tokens,
        "prompt_ms": t.prompt_ms,
        "prompt_per_token_ms": per_token(t.prompt_ms, s.prompt_tokens),
        "prompt_per_second": t.prompt_tok_s,
        "predicted_n": s.completion_tokens,
        "predicted_ms": t.generate_ms,
        "predicted_per_token_ms": per_token(t.generate_ms, s.completion_tokens),
        "predicted_per_second": t.generate_tok_s,
    })
}

/// Ollama's closing statistics (durations in nanoseconds) and the energy.
pub fn ollama_stats(s: &Summary, total: std::time::Duration) -> serde_json::Map<String, Value> {
    let ns = |ms: f64| (ms.max(0.0) * 1e6).round() as u64;
    let t = &s.timings;
    let stats = json!({
        "total_duration": total.as_nanos() as u64,
        "load_duration": 0,
        "prompt_eval_count": s.prompt_tokens,
        "prompt_eval_duration": ns(t.prompt_ms),
        "eval_count": s.completion_tokens,
        "eval_duration": ns(t.generate_ms),
        "energy": energy_json(&s.energy),
    });
    match stats {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    }
}
