//! Helpers for the in-process server tests: scripted engines over the test
//! models' headers, and requests sent straight to the router.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::response::Response;
use axum::Router;
use engine::{Engine, EngineConfig};
use serde_json::Value;
use server::{AppState, ServerOptions};
use tower::ServiceExt;

pub const GEMMA: &str = "gemma-3-270m-q4_k_m.gguf";
pub const DEEPSEEK_PART: &str = "deepseek-r1-distill-qwen-7b-q4_k_m.part0000.gguf";
/// What the scripted DeepSeek engine answers.
pub const REASONING_ANSWER: &str = "<think>\nLet me think.\n</think>\n\nThe answer is 4.";

/// A test model fetched by `scripts/fetch-models` (CI always has them).
pub fn model(name: &str) -> PathBuf {
    let dir = std::env::var_os("SOBRE_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/sobre/models")
        });
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "test model {} is missing: run scripts/fetch-models",
        path.display()
    );
    path
}

pub fn config(parallel: usize, n_ctx: usize, queue: usize) -> EngineConfig {
    EngineConfig {
        parallel,
        n_ctx,
        threads: 1,
        queue,
        ..EngineConfig::default()
    }
}

/// An engine over `file`'s header answering every request with `text`.
pub fn scripted(file: &str, text: &str, config: EngineConfig) -> Arc<Engine> {
    let path = model(file);
    let gguf = gguf::GgufFile::open(&path).expect("open model");
    let tok = tokenizer::Tokenizer::from_metadata(gguf.metadata()).expect("tokenizer");
    let ids = tok.encode(text, false, true);
    Arc::new(Engine::scripted(&path, ids, config).expect("scripted engine"))
}

pub fn options(model_id: &str) -> ServerOptions {
    ServerOptions {
        model_id: model_id.to_string(),
        ..ServerOptions::default()
    }
}

/// The DeepSeek-R1 distill's template and tokenizer, answering
/// [`REASONING_ANSWER`].
pub fn deepseek_app() -> Router {
    let engine = scripted(DEEPSEEK_PART, REASONING_ANSWER, config(2, 512, 8));
    server::router(AppState::new(engine, options("deepseek")))
}

/// Gemma 3's header, answering a plain sentence.
pub fn gemma_app(options: ServerOptions) -> Router {
    let engine = scripted(GEMMA, "Paris is the capital of France.", config(2, 256, 8));
    server::router(AppState::new(engine, options))
}

pub fn post(uri: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post(uri)
        .header("host", "localhost:8080")
        .header("content-type", "application/json")
        .body(body.into())
        .expect("request")
}

pub fn get(uri: &str) -> Request<Body> {
    Request::get(uri)
        .header("host", "localhost:8080")
        .body(Body::empty())
        .expect("request")
}

pub async fn send(app: &Router, req: Request<Body>) -> Response {
    app.clone().oneshot(req).await.expect("infallible")
}

pub async fn bytes(resp: Response) -> Vec<u8> {
    axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .expect("body")
        .to_vec()
}

pub async fn json(resp: Response) -> Value {
    let b = bytes(resp).await;
    serde_json::from_slice(&b).unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&b)))
}

/// Sends `body` to `uri` and returns the status and JSON answer.
pub async fn call(app: &Router, uri: &str, body: &str) -> (StatusCode, Value) {
    let resp = send(app, post(uri, body.to_string())).await;
    let status = resp.status();
    (status, json(resp).await)
}

/// The `data:` payloads of an SSE body, `[DONE]` included as a string.
pub fn sse_events(body: &[u8]) -> Vec<Value> {
    let text = String::from_utf8_lossy(body);
    text.split("\n\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).unwrap_or_else(|_| Value::String(d.to_string())))
        .collect()
}

/// Asserts an OpenAI-style error body.
pub fn assert_openai_error(v: &Value) {
    let e = &v["error"];
    assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
    assert!(e["type"].is_string(), "{v}");
    assert!(e.get("param").is_some() && e.get("code").is_some(), "{v}");
}
