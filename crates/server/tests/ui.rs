//! The chat page at `/`: HTML with a strict CSP, reachable without the API
//! key, and nothing in it that points at another host.

mod common;

use axum::http::{header, StatusCode};
use common::*;
use server::ServerOptions;

const LOOPBACK: [&str; 3] = ["127.0.0.1", "localhost", "[::1]"];

/// Every `http://` or `https://` URL in `text` whose host is not loopback.
fn external_urls(text: &str) -> Vec<String> {
    let lower = text.to_ascii_lowercase();
    let mut found = Vec::new();
    for scheme in ["http://", "https://"] {
        for (at, _) in lower.match_indices(scheme) {
            let rest = &lower[at + scheme.len()..];
            let end = rest
                .find(|c: char| c.is_whitespace() || "/\"'`<>)?#".contains(c))
                .unwrap_or(rest.len());
            let authority = &rest[..end];
            let host = authority.rsplit('@').next().unwrap_or_default();
            let name = if host.starts_with('[') {
                host.split_inclusive(']').next().unwrap_or(host)
            } else {
                host.split(':').next().unwrap_or(host)
            };
            if !LOOPBACK.contains(&name) {
                found.push(text[at..at + scheme.len() + end].to_string());
            }
        }
    }
    found
}

#[test]
fn the_scanner_finds_other_hosts() {
    let page = "a http://evil.example/x b HTTPS://cdn.test:443/y <a href='http://127.0.0.1:8080/'> \
                http://localhost/z https://[::1]:9/ http://user@[::1]@h.test/";
    assert_eq!(
        external_urls(page),
        vec![
            "http://evil.example",
            "http://user@[::1]@h.test",
            "HTTPS://cdn.test:443"
        ]
    );
}

#[tokio::test]
async fn root_serves_the_chat_page() {
    let app = gemma_app(options("gemma"));
    let resp = send(&app, get("/")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let h = resp.headers().clone();
    assert_eq!(h[header::CONTENT_TYPE], "text/html; charset=utf-8");
    assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    for directive in [
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "connect-src 'self'",
    ] {
        assert!(
            csp.split(';').any(|d| d.trim() == directive),
            "{directive} missing from {csp}"
        );
    }
    let page = String::from_utf8(bytes(resp).await).unwrap();
    assert!(page.starts_with("<!doctype html>"), "{}", &page[..40]);
    assert!(page.contains("/v1/chat/completions") && page.contains("/v1/models"));
    assert_eq!(
        external_urls(&page),
        Vec::<String>::new(),
        "the page points at other hosts"
    );
    // Nothing loaded from a path either: no external script, style or font files.
    for tag in [
        "<script src",
        "<link rel=\"stylesheet\"",
        "@import",
        "@font-face",
        "url(",
    ] {
        assert!(!page.contains(tag), "the page loads {tag}");
    }
}

#[tokio::test]
async fn the_page_needs_no_key_but_the_api_still_does() {
    let app = gemma_app(ServerOptions {
        api_key: Some("s3cret".into()),
        ..options("gemma")
    });
    let resp = send(&app, get("/")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(String::from_utf8(bytes(resp).await)
        .unwrap()
        .contains("Authorization"));
    for uri in ["/v1/models", "/index.html", "//", "/?x=1/../v1/models"] {
        let status = send(&app, get(uri)).await.status();
        let expected = if uri.starts_with("/?") {
            StatusCode::OK
        } else {
            StatusCode::UNAUTHORIZED
        };
        assert_eq!(status, expected, "{uri}");
    }
    assert_eq!(send(&app, get("/health")).await.status(), StatusCode::OK);
    let resp = send(&app, post("/", "{}")).await;
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
}
