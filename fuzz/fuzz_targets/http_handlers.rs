//! OpenAI and Ollama requests through the whole router (`server::router`:
//! Host and key checks, body limit, handlers, prompt building, streaming)
//! over a scripted engine: every answer must be a well-formed success or a
//! JSON error of the endpoint's flavour, never a panic (libFuzzer aborts on
//! one, in any thread, the engine's included), never a 500 (an engine that
//! died says "stopped before the answer was complete"), and every stream
//! must end (libFuzzer's `-timeout` catches one that does not).
//!
//! Input: byte 0 picks the endpoint (low 3 bits) and the headers (high
//! bits); the rest is the body, or for the GET endpoints a path and a body
//! split at the first NUL byte.
//!
//! The engine answers every request with a short script over Gemma 3's
//! header from `$SOBRE_MODELS` (default `~/.cache/sobre/models`), or over
//! the tiny Gemma 3 seed of the `gguf_parse` corpus without it.

#![no_main]

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use axum::body::{Body, Bytes};
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use engine::{Engine, EngineConfig};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use server::{AppState, ServerOptions};
use tower::ServiceExt;

const KEY: &str = "fuzz-key";

struct World {
    rt: tokio::runtime::Runtime,
    /// Without a key, loopback Host policy.
    open: Router,
    /// With [`KEY`] required and a CORS origin.
    keyed: Router,
}

fn model() -> PathBuf {
    let dir = std::env::var_os("SOBRE_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/sobre/models")
        });
    let gemma = dir.join("gemma-3-270m-q4_k_m.gguf");
    if gemma.is_file() {
        return gemma;
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus/gguf_parse/tiny-gemma3.gguf")
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let path = model();
        let file = gguf::GgufFile::open(&path).expect("open the model");
        let tok = tokenizer::Tokenizer::from_metadata(file.metadata()).expect("tokenizer");
        // Reasoning markers and a stop-string candidate, a few tokens long.
        let script = tok.encode("<think>hm</think>Hi. END", false, true);
        let config = EngineConfig {
            parallel: 2,
            n_ctx: 256,
            threads: 1,
            queue: 4,
            ..EngineConfig::default()
        };
        let engine = Arc::new(Engine::scripted(&path, script, config).expect("scripted engine"));
        let ip = "127.0.0.1".parse().unwrap();
        let base = ServerOptions {
            model_id: "gemma".into(),
            model_path: Some(path),
            allowed_hosts: ServerOptions::host_policy(ip, &[]),
            ..ServerOptions::default()
        };
        let open = server::router(AppState::new(engine.clone(), base.clone()));
        let keyed = server::router(AppState::new(
            engine,
            ServerOptions {
                api_key: Some(KEY.into()),
                cors_origins: vec!["https://ui.example".into()],
                ..base
            },
        ));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        World { rt, open, keyed }
    })
}

const GETS: [&str; 8] = [
    "/health",
    "/metrics",
    "/v1/models",
    "/api/tags",
    "/api/ps",
    "/api/version",
    "/",
    "/v1/models/gemma",
];

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let (method, path, body): (Method, String, &[u8]) = match sel & 7 {
        0 => (Method::POST, "/v1/chat/completions".into(), rest),
        1 => (Method::POST, "/v1/completions".into(), rest),
        2 => (Method::POST, "/api/chat".into(), rest),
        3 => (Method::POST, "/api/generate".into(), rest),
        4 => (Method::POST, "/api/show".into(), rest),
        5 => {
            // A model name in the path.
            let (name, body) = split_nul(rest);
            let name: String = String::from_utf8_lossy(name)
                .chars()
                .map(|c| {
                    if c.is_ascii_graphic() && c != '#' && c != '?' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            (Method::GET, format!("/v1/models/{name}"), body)
        }
        6 => {
            let i = rest.first().copied().unwrap_or(0) as usize;
            (
                Method::GET,
                GETS[i % GETS.len()].into(),
                rest.get(1..).unwrap_or_default(),
            )
        }
        _ => {
            // Any method and path.
            let (head, body) = split_nul(rest);
            let head = String::from_utf8_lossy(head);
            let (m, p) = head.split_once(' ').unwrap_or(("POST", &head));
            let Ok(m) = Method::from_bytes(m.as_bytes()) else {
                return;
            };
            (m, p.to_string(), body)
        }
    };
    let mut req = Request::builder().method(method).uri(&path);
    let Some(uri) = req.uri_ref().cloned() else {
        return;
    };
    if uri.to_string().parse::<axum::http::Uri>().is_err() {
        return;
    }
    req = req.header(
        header::HOST,
        match sel >> 6 {
            0 | 1 => "localhost:8080",
            2 => "127.0.0.1",
            _ => "evil.example",
        },
    );
    if sel & 8 != 0 {
        req = req.header(header::CONTENT_TYPE, "application/json");
    }
    let keyed = sel & 16 != 0;
    if keyed {
        req = req.header(header::AUTHORIZATION, format!("Bearer {KEY}"));
        req = req.header(header::ORIGIN, "https://ui.example");
    }
    // Half the time the body comes in pieces, without a length.
    let body = if sel & 32 != 0 {
        let pieces: Vec<Result<Bytes, std::io::Error>> =
            body.chunks(7).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
        Body::from_stream(futures_util::stream::iter(pieces))
    } else {
        Body::from(body.to_vec())
    };
    let Ok(req) = req.body(body) else {
        return;
    };
    let w = world();
    let app = if keyed { &w.keyed } else { &w.open };
    w.rt.block_on(async {
        let resp = app.clone().oneshot(req).await.expect("infallible");
        let status = resp.status();
        let ctype = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        // Streams end: the script is finite.
        let bytes = axum::body::to_bytes(resp.into_body(), 64 << 20)
            .await
            .expect("the body reads to its end");
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !status.is_server_error() || status == StatusCode::SERVICE_UNAVAILABLE,
            "{status} on {path}: {text}"
        );
        if status.is_client_error() || status.is_server_error() {
            if status == StatusCode::METHOD_NOT_ALLOWED && ctype.is_empty() {
                return;
            }
            let v: Value = serde_json::from_slice(&bytes)
                .unwrap_or_else(|e| panic!("{status} on {path} is not JSON ({e}): {text}"));
            if path.starts_with("/api/") {
                assert!(v["error"].as_str().is_some_and(|m| !m.is_empty()), "{path}: {v}");
            } else {
                assert!(
                    v["error"]["message"].as_str().is_some_and(|m| !m.is_empty()),
                    "{path}: {v}"
                );
                assert!(v["error"]["type"].is_string(), "{path}: {v}");
            }
            return;
        }
        if ctype.starts_with("application/json") {
            serde_json::from_slice::<Value>(&bytes)
                .unwrap_or_else(|e| panic!("{status} on {path} is not JSON ({e}): {text}"));
        } else if ctype.starts_with("text/event-stream") {
            let (mut done, mut failed) = (false, false);
            for event in text.split("\n\n").filter(|e| !e.is_empty()) {
                let data = event
                    .strip_prefix("data: ")
                    .unwrap_or_else(|| panic!("not an SSE event: {event:?}"));
                assert!(!done, "events after [DONE]: {text}");
                if data == "[DONE]" {
                    done = true;
                } else {
                    let v: Value = serde_json::from_str(data)
                        .unwrap_or_else(|e| panic!("SSE data not JSON ({e}): {data:?}"));
                    failed |= v.get("error").is_some();
                }
            }
            assert!(done || failed, "a stream without [DONE] or an error: {text}");
        } else if ctype.starts_with("application/x-ndjson") {
            let lines: Vec<Value> = text
                .lines()
                .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("NDJSON line ({e}): {l:?}")))
                .collect();
            let last = lines.last().expect("an empty NDJSON stream");
            assert!(last["done"] == true || last["error"].is_string(), "{text}");
        }
    });
});

fn split_nul(b: &[u8]) -> (&[u8], &[u8]) {
    match b.iter().position(|&c| c == 0) {
        Some(i) => (&b[..i], &b[i + 1..]),
        None => (b, &[]),
    }
}
