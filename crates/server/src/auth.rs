//! Who may talk to the server: the `Host` check that stops DNS rebinding (a
//! web page on another site resolving its own name to 127.0.0.1) and the
//! optional API key.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::Response;

use crate::error::{ApiError, Flavor};
use crate::state::AppState;

/// Refuses requests whose `Host` is not an allowed name (any port).
pub async fn check_host(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if let Some(allowed) = &state.options.allowed_hosts {
        let host = host_of(req.headers(), req.uri());
        let name = host
            .as_deref()
            .map(strip_port)
            .unwrap_or_default()
            .to_ascii_lowercase();
        if !allowed.iter().any(|a| strip_port(a) == name) {
            let flavor = Flavor::for_path(req.uri().path());
            return ApiError::forbidden_host(host.as_deref().unwrap_or("(none)")).response(flavor);
        }
    }
    next.run(req).await
}

/// Requires `Authorization: Bearer KEY` everywhere but `/health`, which
/// load balancers probe without credentials, and `/`, the chat page, which
/// holds no data and asks for the key before its first API call.
pub async fn check_key(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if let Some(key) = &state.options.api_key {
        let path = req.uri().path();
        if !is_public(path) && !bearer_matches(req.headers(), key) {
            return ApiError::unauthorized().response(Flavor::for_path(path));
        }
    }
    next.run(req).await
}

/// Paths served without the key.
fn is_public(path: &str) -> bool {
    matches!(path, "/health" | "/")
}

fn host_of(headers: &HeaderMap, uri: &axum::http::Uri) -> Option<String> {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| uri.authority().map(|a| a.as_str().to_string()))
}

/// `localhost:8080` -> `localhost`, `[::1]:80` -> `[::1]`.
fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return match host.find(']') {
            Some(end) => &host[..=end],
            None => host,
        };
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

fn bearer_matches(headers: &HeaderMap, key: &str) -> bool {
    let Some(value) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let Some((scheme, token)) = value.split_once(' ') else {
        return false;
    };
    scheme.eq_ignore_ascii_case("bearer") && constant_time_eq(token.trim().as_bytes(), key.as_bytes())
}

/// Compares without an early exit, so response times do not reveal how
/// much of a guessed key was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for (i, &x) in a.iter().enumerate() {
        diff |= usize::from(x ^ b.get(i % b.len().max(1)).copied().unwrap_or(0));
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_ignored() {
        assert_eq!(strip_port("localhost:8080"), "localhost");
        assert_eq!(strip_port("[::1]:80"), "[::1]");
        assert_eq!(strip_port("[::1]"), "[::1]");
        assert_eq!(strip_port("127.0.0.1"), "127.0.0.1");
        assert_eq!(strip_port("evil.com:x"), "evil.com:x");
    }

    #[test]
    fn keys_compare_exactly() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secre", b"secret"));
        assert!(!constant_time_eq(b"secretx", b"secret"));
        assert!(!constant_time_eq(b"", b"secret"));
        assert!(constant_time_eq(b"", b""));
    }
}
