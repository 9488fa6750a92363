//! What every handler shares: the engine, the served model's description
//! and the security settings.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use engine::Engine;

use crate::prompt::PromptBuilder;

/// Host names a loopback-bound server answers to: anything else in a `Host`
/// header is a page on another site reaching us through DNS rebinding.
pub const LOOPBACK_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "[::1]"];

/// How the server is set up.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    /// The model's id in the APIs (`--alias`, or the file's stem).
    pub model_id: String,
    /// The model file, for its size and date in Ollama's listings.
    pub model_path: Option<PathBuf>,
    /// Required as `Authorization: Bearer KEY` everywhere but `/health`.
    pub api_key: Option<String>,
    /// `Host` header names accepted (without port); `None`: any.
    pub allowed_hosts: Option<Vec<String>>,
    /// Origins allowed by CORS; empty: no CORS headers at all.
    pub cors_origins: Vec<String>,
}

impl ServerOptions {
    /// The `Host` policy for a server bound to `ip`: on loopback, only
    /// loopback names plus `extra`; elsewhere `extra` if given, else any.
    pub fn host_policy(ip: IpAddr, extra: &[String]) -> Option<Vec<String>> {
        let extra = extra.iter().map(|h| h.to_ascii_lowercase());
        if ip.is_loopback() {
            Some(
                LOOPBACK_HOSTS
                    .iter()
                    .map(|h| h.to_string())
                    .chain(extra)
                    .collect(),
            )
        } else {
            let list: Vec<String> = extra.collect();
            (!list.is_empty()).then_some(list)
        }
    }
}

/// Handlers' shared state; cloning is cheap.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Inner>);

#[derive(Debug)]
pub struct Inner {
    pub engine: Arc<Engine>,
    pub options: ServerOptions,
    pub prompt: PromptBuilder,
    pub model: ModelInfo,
}

/// The served model as listings describe it.
#[derive(Debug, Clone)]
pub struct ModelInfo {
    pub summary: store::Summary,
    /// Bytes of the file (0 if unknown).
    pub size: u64,
    /// The file's modification time, Unix seconds (else the server's start).
    pub modified: u64,
}

impl AppState {
    pub fn new(engine: Arc<Engine>, options: ServerOptions) -> AppState {
        let prompt = PromptBuilder::new(engine.file(), engine.tokenizer());
        let summary = store::Summary::of(engine.file());
        let meta = options
            .model_path
            .as_ref()
            .and_then(|p| std::fs::metadata(p).ok());
        let now = unix_now();
        let modified = meta
            .as_ref()
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(now, |d| d.as_secs());
        let model = ModelInfo {
            summary,
            size: meta.map_or(0, |m| m.len()),
            modified,
        };
        AppState(Arc::new(Inner {
            engine,
            options,
            prompt,
            model,
        }))
    }

    /// Whether a request's `model` names the served one. Missing is
    /// accepted (most local clients omit it); Ollama's `:latest` tag too.
    pub fn serves(&self, requested: Option<&str>) -> bool {
        match requested {
            None | Some("") => true,
            Some(name) => {
                let id = &self.0.options.model_id;
                name == id || name.strip_suffix(":latest") == Some(id)
            }
        }
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
