//! Every bad request gets the right 4xx with an OpenAI-style error body
//! (Ollama's `{"error": "..."}` on /api), and the server goes on.

mod common;

use axum::http::StatusCode;
use common::*;

const CHAT: &str = "/v1/chat/completions";

#[tokio::test]
async fn bad_chat_requests_get_400_with_the_field_named() {
    let app = gemma_app(options("gemma"));
    let hi = r#"[{"role": "user", "content": "hi"}]"#;
    let cases: Vec<(String, StatusCode, Option<&str>)> = vec![
        ("not json".into(), StatusCode::BAD_REQUEST, None),
        ("".into(), StatusCode::BAD_REQUEST, None),
        ("[1, 2]".into(), StatusCode::BAD_REQUEST, None),
        ("{}".into(), StatusCode::BAD_REQUEST, Some("messages")),
        (
            r#"{"messages": "hi"}"#.into(),
            StatusCode::BAD_REQUEST,
            Some("messages"),
        ),
        (
            r#"{"messages": []}"#.into(),
            StatusCode::BAD_REQUEST,
            Some("messages"),
        ),
        (
            r#"{"messages": [{"content": "no role"}]}"#.into(),
            StatusCode::BAD_REQUEST,
            Some("messages[0].role"),
        ),
        (
            format!(r#"{{"messages": {hi}, "max_tokens": -1}}"#),
            StatusCode::BAD_REQUEST,
            Some("max_tokens"),
        ),
        (
            format!(r#"{{"messages": {hi}, "max_completion_tokens": 0}}"#),
            StatusCode::BAD_REQUEST,
            Some("max_completion_tokens"),
        ),
        (
            format!(r#"{{"messages": {hi}, "max_tokens": "ten"}}"#),
            StatusCode::BAD_REQUEST,
            Some("max_tokens"),
        ),
        (
            format!(r#"{{"messages": {hi}, "model": "gpt-4o"}}"#),
            StatusCode::NOT_FOUND,
            Some("model"),
        ),
        (
            format!(r#"{{"messages": {hi}, "logprobs": true, "top_logprobs": 21}}"#),
            StatusCode::BAD_REQUEST,
            Some("top_logprobs"),
        ),
        (
            format!(r#"{{"messages": {hi}, "n": 2}}"#),
            StatusCode::BAD_REQUEST,
            Some("n"),
        ),
        (
            format!(r#"{{"messages": {hi}, "temperature": 3}}"#),
            StatusCode::BAD_REQUEST,
            Some("temperature"),
        ),
        (
            format!(r#"{{"messages": {hi}, "stop": [1]}}"#),
            StatusCode::BAD_REQUEST,
            Some("stop"),
        ),
        (
            format!(r#"{{"messages": {hi}, "stream": "yes"}}"#),
            StatusCode::BAD_REQUEST,
            Some("stream"),
        ),
        (
            format!(r#"{{"messages": {hi}, "tools": [{{"type": "function"}}]}}"#),
            StatusCode::BAD_REQUEST,
            Some("tools"),
        ),
    ];
    for (body, status, param) in cases {
        let (got, v) = call(&app, CHAT, &body).await;
        assert_eq!(got, status, "{body} -> {v}");
        assert_openai_error(&v);
        if let Some(p) = param {
            assert_eq!(v["error"]["param"], p, "{body} -> {v}");
        }
    }
    // The server goes on.
    let (status, v) = call(&app, CHAT, &format!(r#"{{"messages": {hi}, "max_tokens": 4}}"#)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["object"], "chat.completion");
}

#[tokio::test]
async fn model_may_be_omitted_or_ours() {
    let app = gemma_app(options("gemma"));
    let msgs = r#""messages": [{"role": "user", "content": "hi"}], "max_tokens": 2"#;
    for model in [r#""model": "gemma","#, r#""model": "","#, r#""model": null,"#, ""] {
        let body = format!("{{{model} {msgs}}}");
        let (status, v) = call(&app, CHAT, &body).await;
        assert_eq!(status, StatusCode::OK, "{body} -> {v}");
        assert_eq!(v["model"], "gemma");
    }
}

#[tokio::test]
async fn completions_errors() {
    let app = gemma_app(options("gemma"));
    for (body, status, param) in [
        (r#"{}"#, StatusCode::BAD_REQUEST, "prompt"),
        (r#"{"prompt": ["a", "b"]}"#, StatusCode::BAD_REQUEST, "prompt"),
        (r#"{"prompt": 3}"#, StatusCode::BAD_REQUEST, "prompt"),
        (
            r#"{"prompt": "a", "logprobs": 21}"#,
            StatusCode::BAD_REQUEST,
            "logprobs",
        ),
        (r#"{"prompt": "a", "n": 3}"#, StatusCode::BAD_REQUEST, "n"),
        (r#"{"prompt": [999999999]}"#, StatusCode::BAD_REQUEST, "prompt"),
        (
            r#"{"prompt": "a", "model": "other"}"#,
            StatusCode::NOT_FOUND,
            "model",
        ),
    ] {
        let (got, v) = call(&app, "/v1/completions", body).await;
        assert_eq!(got, status, "{body} -> {v}");
        assert_openai_error(&v);
        assert_eq!(v["error"]["param"], param, "{body} -> {v}");
    }
}

#[tokio::test]
async fn context_overflow_is_a_400_that_says_so() {
    let engine = scripted(GEMMA, "ok", config(1, 32, 4));
    let app = server::router(server::AppState::new(engine, options("gemma")));
    let long = "word ".repeat(100);
    let (status, v) = call(
        &app,
        CHAT,
        &format!(r#"{{"messages": [{{"role": "user", "content": "{long}"}}]}}"#),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["error"]["code"], "context_length_exceeded", "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("context"), "{v}");
    // Ollama says it its way.
    let (status, v) = call(
        &app,
        "/api/generate",
        &format!(r#"{{"prompt": "{long}", "raw": true}}"#),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert!(v["error"].as_str().unwrap().contains("context"), "{v}");
}

#[tokio::test]
async fn unknown_routes_and_methods() {
    let app = gemma_app(options("gemma"));
    let resp = send(&app, get("/v1/nothing")).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_openai_error(&json(resp).await);
    let resp = send(&app, get(CHAT)).await;
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_openai_error(&json(resp).await);
    let resp = send(&app, get("/v1/models/other")).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn ollama_errors_are_plain_strings() {
    let app = gemma_app(options("gemma"));
    for (uri, body, status) in [
        ("/api/chat", "nope", StatusCode::BAD_REQUEST),
        (
            "/api/chat",
            r#"{"model": "llama3", "messages": [{"role": "user", "content": "hi"}]}"#,
            StatusCode::NOT_FOUND,
        ),
        ("/api/chat", r#"{"messages": "hi"}"#, StatusCode::BAD_REQUEST),
        (
            "/api/generate",
            r#"{"prompt": "hi", "options": {"temperature": "hot"}}"#,
            StatusCode::BAD_REQUEST,
        ),
        (
            "/api/generate",
            r#"{"prompt": "hi", "format": "json"}"#,
            StatusCode::BAD_REQUEST,
        ),
        ("/api/show", r#"{"model": "llama3"}"#, StatusCode::NOT_FOUND),
    ] {
        let (got, v) = call(&app, uri, body).await;
        assert_eq!(got, status, "{uri} {body} -> {v}");
        assert!(
            v["error"].as_str().is_some_and(|m| !m.is_empty()),
            "{uri} {body} -> {v}"
        );
    }
}

#[tokio::test]
async fn a_full_queue_answers_503_with_retry_after() {
    // One slot, one waiting place; a long script keeps the slot busy.
    let engine = scripted(GEMMA, &"word ".repeat(400), config(1, 1024, 1));
    let app = server::router(server::AppState::new(engine.clone(), options("gemma")));
    let body = r#"{"prompt": "hi", "stream": true}"#;
    let first = send(&app, post("/v1/completions", body)).await;
    assert_eq!(first.status(), StatusCode::OK);
    // Wait until the first is running, so the second waits in the queue.
    for _ in 0..200 {
        if engine.metrics().snapshot().requests_running == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let second = send(&app, post("/v1/completions", body)).await;
    assert_eq!(second.status(), StatusCode::OK);
    let third = send(&app, post("/v1/completions", body)).await;
    assert_eq!(third.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(third.headers()["retry-after"], "1");
    assert_openai_error(&json(third).await);
    drop((first, second));
}
