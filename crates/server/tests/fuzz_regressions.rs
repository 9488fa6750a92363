//! Inputs that once crashed or hung the server (found by the
//! `http_handlers` fuzz target or by reading its findings), each named
//! after what it was. See fuzz/README.md.

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use common::*;

/// Sends `body` to `uri` and reads the whole answer, in bounded time.
async fn answer(app: &axum::Router, uri: &str, body: &str) -> (StatusCode, Vec<u8>) {
    tokio::time::timeout(Duration::from_secs(20), async {
        let resp = send(app, post(uri, body.to_string())).await;
        let status = resp.status();
        (status, bytes(resp).await)
    })
    .await
    .unwrap_or_else(|_| panic!("{uri} {body}: no complete answer in 20 s"))
}

#[tokio::test]
async fn repeat_last_n_minus_one_or_huge_overflowed_the_sampler_history() {
    // `VecDeque::with_capacity(penalty_last_n + 1)`: -1 became usize::MAX
    // (an overflow), 10^12 a 4 TB allocation that aborts the process.
    let app = gemma_app(options("gemma"));
    for n in ["-1", "1000000000000", "9007199254740991", "0", "64"] {
        for (uri, body) in [
            (
                "/api/generate",
                format!(
                    r#"{{"prompt": "hi", "stream": false, "options": {{"repeat_last_n": {n}, "num_predict": 2}}}}"#
                ),
            ),
            (
                "/api/chat",
                format!(
                    r#"{{"messages": [{{"role": "user", "content": "hi"}}], "stream": true,
                        "options": {{"repeat_last_n": {n}, "num_predict": 2}}}}"#
                ),
            ),
        ] {
            let (status, b) = answer(&app, uri, &body).await;
            assert_eq!(
                status,
                StatusCode::OK,
                "{body} -> {}",
                String::from_utf8_lossy(&b)
            );
            assert!(String::from_utf8_lossy(&b).contains("\"done\":true"), "{body}");
        }
    }
    // The engine is still alive.
    let (status, _) = answer(&app, "/api/generate", r#"{"prompt": "hi", "stream": false}"#).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_message_without_content_failed_the_template_with_a_500() {
    // fuzz/artifacts crash-c763fa35: `"contend"` for `"content"` in a system
    // message; Gemma's template adds the missing content to a string.
    let app = gemma_app(options("gemma"));
    for messages in [
        r#"[{"role": "system", "contend": "Be brief."}, {"role": "user", "content": "hi"}]"#,
        r#"[{"role": "user"}]"#,
        r#"[{"role": "user", "content": null}]"#,
        r#"[{"role": "user", "content": "hi"}, {"role": "assistant"}, {"role": "user", "content": "and?"}]"#,
    ] {
        for stream in ["true", "false"] {
            let body = format!(r#"{{"messages": {messages}, "stream": {stream}, "max_tokens": 2}}"#);
            let (status, b) = answer(&app, "/v1/chat/completions", &body).await;
            assert!(
                status == StatusCode::OK || status == StatusCode::BAD_REQUEST,
                "{body} -> {status}"
            );
            let v: serde_json::Value = serde_json::from_slice(&b).unwrap_or_default();
            if status == StatusCode::BAD_REQUEST {
                assert_openai_error(&v);
                assert_eq!(v["error"]["param"], "messages", "{v}");
            }
            let body = format!(r#"{{"messages": {messages}, "stream": false}}"#);
            let (status, _) = answer(&app, "/api/chat", &body).await;
            assert!(
                status == StatusCode::OK || status == StatusCode::BAD_REQUEST,
                "{body} -> {status}"
            );
        }
    }
}
