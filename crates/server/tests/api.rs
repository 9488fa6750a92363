//! Shapes of the answers: Ollama's NDJSON and listings, OpenAI's models,
//! streams that match whole answers, metrics, and cancelled streams.

mod common;

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use common::*;
use serde_json::Value;

#[tokio::test]
async fn ollama_generate_streams_ndjson() {
    let app = gemma_app(options("gemma"));
    let resp = send(
        &app,
        post("/api/generate", r#"{"model": "gemma", "prompt": "Capital?"}"#),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "application/x-ndjson");
    let body = String::from_utf8(bytes(resp).await).unwrap();
    let lines: Vec<Value> = body
        .lines()
        .map(|l| serde_json::from_str(l).expect("one object per line"))
        .collect();
    assert!(lines.len() >= 2, "{body}");
    let (last, parts) = lines.split_last().unwrap();
    for l in parts {
        assert_eq!(l["done"], false, "{l}");
        assert_eq!(l["model"], "gemma");
        assert!(l["created_at"].as_str().unwrap().ends_with('Z'));
        assert!(l["response"].is_string());
    }
    let text: String = parts.iter().map(|l| l["response"].as_str().unwrap()).collect();
    assert_eq!(text, "Paris is the capital of France.");
    assert_eq!(last["done"], true);
    assert_eq!(last["done_reason"], "stop");
    for k in [
        "total_duration",
        "load_duration",
        "prompt_eval_count",
        "prompt_eval_duration",
        "eval_count",
        "eval_duration",
    ] {
        assert!(last[k].is_u64(), "{k}: {last}");
    }
    assert!(last["energy"]["joules"].is_number(), "{last}");

    // Not streamed: one object, same text.
    let (status, v) = call(
        &app,
        "/api/generate",
        r#"{"prompt": "Capital?", "stream": false, "options": {"num_predict": 3, "temperature": 0}}"#,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["done"], true);
    assert_eq!(v["done_reason"], "length");
    assert_eq!(v["eval_count"], 3);
    assert!(v.get("thinking").is_none());
    // An empty prompt loads the model, as in Ollama.
    let (_, v) = call(&app, "/api/generate", r#"{"model": "gemma"}"#).await;
    assert_eq!(v["done_reason"], "load");
}

#[tokio::test]
async fn ollama_listings() {
    let app = gemma_app(options("gemma"));
    let v = json(send(&app, get("/api/tags")).await).await;
    assert_eq!(v["models"][0]["name"], "gemma");
    assert_eq!(v["models"][0]["details"]["family"], "gemma3");
    assert_eq!(v["models"][0]["details"]["quantization_level"], "Q4_K_M");
    let v = json(send(&app, get("/api/version")).await).await;
    assert!(v["version"].is_string());
    let (status, v) = call(&app, "/api/show", r#"{"model": "gemma"}"#).await;
    assert_eq!(status, StatusCode::OK);
    assert!(v["template"].as_str().unwrap().contains("start_of_turn"), "{v}");
    assert_eq!(v["model_info"]["general.architecture"], "gemma3");
    let v = json(send(&app, get("/api/ps")).await).await;
    assert_eq!(v["models"][0]["model"], "gemma");
}

#[tokio::test]
async fn openai_models() {
    let app = gemma_app(options("gemma"));
    let v = json(send(&app, get("/v1/models")).await).await;
    assert_eq!(v["object"], "list");
    assert_eq!(v["data"][0]["id"], "gemma");
    assert_eq!(v["data"][0]["object"], "model");
    let v = json(send(&app, get("/v1/models/gemma")).await).await;
    assert_eq!(v["id"], "gemma");
}

#[tokio::test]
async fn completion_stream_matches_whole_answer_with_logprobs() {
    let app = gemma_app(options("gemma"));
    let body = r#"{"prompt": "Capital?", "max_tokens": 5, "logprobs": 2, "temperature": 0}"#;
    let (status, whole) = call(&app, "/v1/completions", body).await;
    assert_eq!(status, StatusCode::OK, "{whole}");
    let lp = &whole["choices"][0]["logprobs"];
    assert_eq!(lp["tokens"].as_array().unwrap().len(), 5, "{whole}");
    assert_eq!(lp["token_logprobs"].as_array().unwrap().len(), 5);
    assert_eq!(whole["choices"][0]["finish_reason"], "length");

    let streamed = body.replace("\"temperature\"", "\"stream\": true, \"temperature\"");
    let events = sse_events(&bytes(send(&app, post("/v1/completions", streamed)).await).await);
    let text: String = events
        .iter()
        .filter_map(|e| e["choices"][0]["text"].as_str())
        .collect();
    assert_eq!(text, whole["choices"][0]["text"].as_str().unwrap());
    let n: usize = events
        .iter()
        .filter_map(|e| e["choices"][0]["logprobs"]["tokens"].as_array().map(Vec::len))
        .sum();
    assert_eq!(n, 5);

    let chat = r#"{"messages": [{"role": "user", "content": "x"}], "max_tokens": 3, "logprobs": true, "top_logprobs": 2}"#;
    let (_, v) = call(&app, "/v1/chat/completions", chat).await;
    let content = v["choices"][0]["logprobs"]["content"].as_array().unwrap();
    assert_eq!(content.len(), 3, "{v}");
    assert!(
        content[0]["logprob"].is_number() && content[0]["bytes"].is_array(),
        "{v}"
    );
    assert!(content[0]["top_logprobs"].as_array().unwrap().len() <= 2);
}

#[tokio::test]
async fn metrics_names() {
    let app = gemma_app(options("gemma"));
    let _ = call(&app, "/v1/completions", r#"{"prompt": "a", "max_tokens": 3}"#).await;
    let resp = send(&app, get("/metrics")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = String::from_utf8(bytes(resp).await).unwrap();
    for name in [
        "sobre_requests_running ",
        "sobre_requests_queued ",
        "sobre_tokens_generated_total ",
        "sobre_prompt_tokens_total ",
        "sobre_energy_joules_total ",
        "sobre_time_to_first_token_seconds_bucket{le=\"+Inf\"} ",
        "sobre_time_to_first_token_seconds_sum ",
        "sobre_time_to_first_token_seconds_count ",
        "sobre_inter_token_latency_seconds_bucket{le=\"0.005\"} ",
        "sobre_inter_token_latency_seconds_sum ",
        "sobre_inter_token_latency_seconds_count ",
    ] {
        assert!(text.contains(name), "{name} missing:\n{text}");
    }
    assert!(text.contains("sobre_tokens_generated_total 3\n"), "{text}");
}

#[tokio::test]
async fn a_dropped_stream_frees_its_slot() {
    let engine = scripted(GEMMA, &"word ".repeat(1000), config(1, 2048, 4));
    let app = server::router(server::AppState::new(engine.clone(), options("gemma")));
    let resp = send(
        &app,
        post("/v1/completions", r#"{"prompt": "hi", "stream": true}"#),
    )
    .await;
    let mut body = resp.into_body().into_data_stream();
    use futures_util::StreamExt;
    let first = body.next().await.expect("a first event");
    assert!(first.is_ok());
    assert_eq!(engine.metrics().snapshot().requests_running, 1);
    drop(body);
    let t = Instant::now();
    // The request ends (cancelled) within a step or two...
    while engine.metrics().snapshot().requests_finished != 1 {
        assert!(
            t.elapsed() < Duration::from_secs(1),
            "request not cancelled after 1 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // ...and /metrics says so.
    while engine.metrics().snapshot().requests_running != 0 {
        assert!(
            t.elapsed() < Duration::from_secs(1),
            "sobre_requests_running not 0 after 1 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
