//! The HTTP front: OpenAI- and Ollama-compatible endpoints over the engine.
//!
//! The engine does the model work (scheduling, sampling, detokenizing, stop
//! strings); this crate does what belongs to the APIs: chat templates,
//! splitting reasoning from answers, JSON shapes, errors, streaming, and
//! who may connect. [`router`] builds the whole application without a
//! socket, so tests drive it in-process; [`serve`] runs it on a listener
//! until a shutdown signal, then drains the requests in flight.

mod auth;
mod body;
mod error;
mod generate;
mod ids;
mod listen;
mod metrics;
mod ollama;
mod openai;
mod params;
mod prompt;
mod state;
mod stream;
mod ui;
mod usage;

use std::future::Future;
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{header, HeaderValue, Method};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use tower_http::cors::{AllowOrigin, CorsLayer};

pub use body::BODY_LIMIT;
pub use error::{ApiError, Flavor};
pub use listen::{serve_with, Limits};
pub use ollama::OLLAMA_VERSION;
pub use state::{AppState, ServerOptions, LOOPBACK_HOSTS};
pub use usage::energy_json;

/// The whole application.
pub fn router(state: AppState) -> Router {
    let cors = cors_layer(&state.options.cors_origins);
    let app = Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics::metrics))
        .route("/v1/models", get(openai::list_models))
        .route("/v1/models/{*model}", get(openai::get_model))
        .route("/v1/chat/completions", post(openai::chat_completions))
        .route("/v1/completions", post(openai::completions))
        .route("/api/chat", post(ollama::chat))
        .route("/api/generate", post(ollama::generate))
        .route("/api/tags", get(ollama::tags))
        .route("/api/show", post(ollama::show))
        .route("/api/ps", get(ollama::ps))
        .route("/api/version", get(ollama::version))
        .route("/", get(root))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn_with_state(state.clone(), auth::check_key));
    // CORS answers preflights before the key check (browsers send them
    // without credentials); the Host check comes before everything.
    let app = match cors {
        Some(cors) => app.layer(cors),
        None => app,
    };
    app.layer(middleware::from_fn_with_state(state.clone(), auth::check_host))
        .layer(middleware::from_fn(access_log))
        .with_state(state)
}

/// Serves `app` on `listener` with the default [`Limits`] until `shutdown`
/// completes, then waits for the requests in flight (streams included) to
/// finish. [`serve_with`] sets the timeouts and the connection cap.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, app, shutdown, Limits::default()).await
}

/// Completes on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// Exactly the configured origins; without any, no CORS headers at all, so
/// browsers keep other sites' pages from reading answers.
fn cors_layer(origins: &[String]) -> Option<CorsLayer> {
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    if origins.is_empty() {
        return None;
    }
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE]),
    )
}

async fn health() -> Response {
    Json(serde_json::json!({"status": "ok"})).into_response()
}

/// The chat page (served without the API key: it asks for the key itself).
async fn root() -> Response {
    ui::page().await
}

async fn not_found(req: Request) -> Response {
    let path = req.uri().path();
    ApiError::not_found(format!("No endpoint {} {path}", req.method())).response(Flavor::for_path(path))
}

async fn method_not_allowed(req: Request) -> Response {
    let path = req.uri().path();
    ApiError::method_not_allowed(format!("{} is not allowed on {path}", req.method()))
        .response(Flavor::for_path(path))
}

/// One line per request (streams: when their headers go out).
async fn access_log(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let resp = next.run(req).await;
    let status = resp.status().as_u16();
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    if status >= 500 {
        tracing::warn!(%method, %path, status, ms, "request");
    } else {
        tracing::info!(%method, %path, status, ms, "request");
    }
    resp
}
