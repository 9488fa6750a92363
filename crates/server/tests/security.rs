//! Who may connect: API key, Host check (DNS rebinding), CORS, body limit.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use server::ServerOptions;

fn with_host(uri: &str, host: &str) -> Request<Body> {
    Request::get(uri)
        .header("host", host)
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn api_key_is_required_everywhere_but_health() {
    let app = gemma_app(ServerOptions {
        api_key: Some("s3cret".into()),
        ..options("gemma")
    });
    for uri in ["/v1/models", "/metrics", "/api/tags", "/api/version", "/nowhere"] {
        let resp = send(&app, get(uri)).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{uri}");
        let v = json(resp).await;
        if uri.starts_with("/api/") {
            assert!(v["error"].is_string(), "{v}");
        } else {
            assert_openai_error(&v);
            assert_eq!(v["error"]["code"], "invalid_api_key");
        }
    }
    for auth in ["Bearer wrong", "s3cret", "Basic s3cret", "Bearer s3cretX"] {
        let req = Request::get("/v1/models")
            .header("host", "localhost")
            .header("authorization", auth)
            .body(Body::empty())
            .unwrap();
        assert_eq!(send(&app, req).await.status(), StatusCode::UNAUTHORIZED, "{auth}");
    }
    let resp = send(&app, get("/health")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(json(resp).await["status"], "ok");
    let req = Request::post("/v1/chat/completions")
        .header("host", "localhost")
        .header("authorization", "Bearer s3cret")
        .body(Body::from(
            r#"{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}"#,
        ))
        .unwrap();
    assert_eq!(send(&app, req).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn loopback_bind_accepts_only_loopback_hosts() {
    let ip = "127.0.0.1".parse().unwrap();
    let app = gemma_app(ServerOptions {
        allowed_hosts: ServerOptions::host_policy(ip, &["My.Box".to_string()]),
        ..options("gemma")
    });
    for host in [
        "localhost",
        "localhost:8080",
        "127.0.0.1:1",
        "[::1]:8080",
        "[::1]",
        "LOCALHOST",
        "my.box:80",
    ] {
        assert_eq!(
            send(&app, with_host("/health", host)).await.status(),
            StatusCode::OK,
            "{host}"
        );
    }
    for host in [
        "evil.com",
        "evil.com:8080",
        "localhost.evil.com",
        "127.0.0.2",
        "[::2]:80",
    ] {
        let resp = send(&app, with_host("/v1/models", host)).await;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{host}");
        assert_openai_error(&json(resp).await);
    }
    let no_host = Request::get("/health").body(Body::empty()).unwrap();
    assert_eq!(send(&app, no_host).await.status(), StatusCode::FORBIDDEN);
    // Elsewhere than loopback, any host unless restricted.
    assert_eq!(ServerOptions::host_policy("0.0.0.0".parse().unwrap(), &[]), None);
}

#[tokio::test]
async fn bodies_over_8_mib_get_413() {
    let app = gemma_app(options("gemma"));
    let big = format!(r#"{{"prompt": "{}"}}"#, "a".repeat(server::BODY_LIMIT + 10));
    for uri in ["/v1/completions", "/v1/chat/completions"] {
        let resp = send(&app, post(uri, big.clone())).await;
        assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE, "{uri}");
        assert_openai_error(&json(resp).await);
    }
    let resp = send(&app, post("/api/generate", big)).await;
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(json(resp).await["error"].is_string());
    // Without Content-Length (chunked), the limit holds too.
    let chunks = futures_util::stream::iter(
        (0..9).map(|_| Ok::<_, std::io::Error>(axum::body::Bytes::from(vec![b' '; 1 << 20]))),
    );
    let req = Request::post("/v1/completions")
        .header("host", "localhost")
        .body(Body::from_stream(chunks))
        .unwrap();
    assert_eq!(send(&app, req).await.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn cors_only_for_configured_origins() {
    let plain = gemma_app(options("gemma"));
    let req = Request::get("/v1/models")
        .header("host", "localhost")
        .header("origin", "https://evil.example")
        .body(Body::empty())
        .unwrap();
    let resp = send(&plain, req).await;
    assert!(resp.headers().get("access-control-allow-origin").is_none());

    let app = gemma_app(ServerOptions {
        api_key: Some("k".into()),
        cors_origins: vec!["https://ui.example".into()],
        ..options("gemma")
    });
    let preflight = Request::options("/v1/chat/completions")
        .header("host", "localhost")
        .header("origin", "https://ui.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization, content-type")
        .body(Body::empty())
        .unwrap();
    let resp = send(&app, preflight).await;
    assert!(resp.status().is_success(), "{}", resp.status());
    assert_eq!(
        resp.headers()["access-control-allow-origin"],
        "https://ui.example"
    );
    let other = Request::get("/health")
        .header("host", "localhost")
        .header("origin", "https://evil.example")
        .body(Body::empty())
        .unwrap();
    let resp = send(&app, other).await;
    assert!(resp.headers().get("access-control-allow-origin").is_none());
}
