//! The chat page served at `/`: one hand-written HTML file (inline CSS and
//! JS, no framework, nothing fetched from elsewhere), embedded in the binary
//! so it works offline. It talks to this server's own OpenAI API.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

/// The page, as shipped.
pub const PAGE: &str = include_str!("../ui/index.html");

/// Only this origin: inline script and style (the page is one file), no
/// other host for anything, no framing.
pub const CSP: &str = "default-src 'self'; script-src 'self' 'unsafe-inline'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// `GET /`.
pub async fn page() -> Response {
    let mut resp = PAGE.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    // A new binary may ship a new page: revalidate rather than reuse.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}
