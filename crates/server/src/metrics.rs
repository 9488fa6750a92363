//! `/metrics` in Prometheus' text format (0.0.4), from the engine's
//! counters.

use std::fmt::Write;

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use engine::{Histogram, MetricsSnapshot};

use crate::state::AppState;

/// Upper bounds of the engine's latency buckets, in its order.
const BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0, 30.0,
];

pub async fn metrics(State(state): State<AppState>) -> Response {
    let text = render(&state.engine.metrics().snapshot(), &state.options.model_id);
    let mut resp = text.into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    resp
}

pub fn render(s: &MetricsSnapshot, model: &str) -> String {
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, value: String| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
    };
    metric(
        "sobre_requests_running",
        "gauge",
        "Requests being decoded.",
        s.requests_running.to_string(),
    );
    metric(
        "sobre_requests_queued",
        "gauge",
        "Requests waiting for a slot.",
        s.requests_queued.to_string(),
    );
    metric(
        "sobre_requests_finished_total",
        "counter",
        "Requests finished or cancelled.",
        s.requests_finished.to_string(),
    );
    metric(
        "sobre_tokens_generated_total",
        "counter",
        "Tokens generated.",
        s.tokens_generated_total.to_string(),
    );
    metric(
        "sobre_prompt_tokens_total",
        "counter",
        "Prompt tokens processed.",
        s.prompt_tokens_total.to_string(),
    );
    metric(
        "sobre_energy_joules_total",
        "counter",
        "Energy charged to requests, in joules.",
        number(s.energy_joules_total),
    );
    histogram(
        &mut out,
        "sobre_time_to_first_token_seconds",
        "Time from submission to the first generated token.",
        &s.ttft_seconds,
    );
    histogram(
        &mut out,
        "sobre_inter_token_latency_seconds",
        "Time between consecutive tokens of a request.",
        &s.itl_seconds,
    );
    let _ = writeln!(
        out,
        "# HELP sobre_model_info The served model.\n# TYPE sobre_model_info gauge\nsobre_model_info{{model=\"{}\"}} 1",
        escape(model)
    );
    out
}

fn histogram(out: &mut String, name: &str, help: &str, h: &Histogram) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
    for (le, count) in BUCKETS.iter().zip(&h.buckets) {
        let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {count}");
    }
    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", h.count);
    let _ = writeln!(out, "{name}_sum {}", number(h.sum));
    let _ = writeln!(out, "{name}_count {}", h.count);
}

fn number(x: f64) -> String {
    if x.is_finite() {
        format!("{x}")
    } else {
        "NaN".to_string()
    }
}

/// Label values escape `\`, `"` and newlines.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative_with_inf() {
        let s = MetricsSnapshot {
            requests_running: 1,
            requests_queued: 2,
            requests_finished: 3,
            tokens_generated_total: 4,
            prompt_tokens_total: 5,
            energy_joules_total: 6.5,
            ttft_seconds: Histogram {
                buckets: vec![1; 14],
                count: 2,
                sum: 0.5,
            },
            itl_seconds: Histogram::default(),
        };
        let text = render(&s, "m\"x");
        assert!(text.contains("sobre_requests_running 1\n"));
        assert!(text.contains("sobre_energy_joules_total 6.5\n"));
        assert!(text.contains("sobre_time_to_first_token_seconds_bucket{le=\"0.005\"} 1\n"));
        assert!(text.contains("sobre_time_to_first_token_seconds_bucket{le=\"+Inf\"} 2\n"));
        assert!(text.contains("sobre_inter_token_latency_seconds_count 0\n"));
        assert!(text.contains("model=\"m\\\"x\""));
    }
}
