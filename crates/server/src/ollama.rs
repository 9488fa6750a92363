//! Ollama's API: `/api/chat`, `/api/generate`, `/api/tags`, `/api/show`,
//! `/api/ps`, `/api/version`, so Ollama clients and UIs work unchanged.
//! Streams are NDJSON and on by default, as in Ollama.

use std::collections::VecDeque;
use std::time::{Instant, SystemTime};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use crate::body::{self, Fields};
use crate::error::{ApiError, OllamaError};
use crate::generate::{Generation, Piece};
use crate::ids::{rfc3339, rfc3339_secs};
use crate::params;
use crate::prompt;
use crate::state::AppState;
use crate::stream::{self, Framer};
use crate::usage::ollama_stats;

/// The Ollama API version these endpoints follow (thinking came in 0.9).
pub const OLLAMA_VERSION: &str = "0.9.0";

type Result<T> = std::result::Result<T, OllamaError>;

pub async fn chat(
    State(state): State<AppState>,
    body: std::result::Result<Bytes, BytesRejection>,
) -> Response {
    do_chat(state, body)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

pub async fn generate(
    State(state): State<AppState>,
    body: std::result::Result<Bytes, BytesRejection>,
) -> Response {
    do_generate(state, body)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

pub async fn version() -> Response {
    Json(json!({ "version": OLLAMA_VERSION })).into_response()
}

pub async fn tags(State(state): State<AppState>) -> Response {
    Json(json!({ "models": [listing(&state)] })).into_response()
}

pub async fn ps(State(state): State<AppState>) -> Response {
    let mut m = listing(&state);
    m.insert("expires_at".into(), json!("2999-12-31T23:59:59Z"));
    m.insert("size_vram".into(), json!(0));
    m.insert("context_length".into(), json!(state.engine.n_ctx()));
    Json(json!({ "models": [m] })).into_response()
}

pub async fn show(
    State(state): State<AppState>,
    body: std::result::Result<Bytes, BytesRejection>,
) -> Response {
    do_show(state, body).unwrap_or_else(IntoResponse::into_response)
}

fn do_show(state: AppState, body: std::result::Result<Bytes, BytesRejection>) -> Result<Response> {
    let map = body::parse(body)?;
    let f = Fields::new(&map);
    let name = match f.str("model")? {
        Some(m) => Some(m),
        None => f.str("name")?,
    };
    check_model(&state, name)?;
    let s = &state.model.summary;
    let arch = s.architecture.clone().unwrap_or_default();
    let mut info = Map::new();
    info.insert("general.architecture".into(), json!(arch));
    info.insert("general.parameter_count".into(), json!(s.parameters));
    if let Some(n) = &s.name {
        info.insert("general.name".into(), json!(n));
    }
    if let Some(c) = s.context_length {
        info.insert(format!("{arch}.context_length"), json!(c));
    }
    let mut capabilities = vec!["completion"];
    if state.prompt.is_reasoning() {
        capabilities.push("thinking");
    }
    let path = state
        .options
        .model_path
        .as_ref()
        .map_or_else(|| state.options.model_id.clone(), |p| p.display().to_string());
    Ok(Json(json!({
        "license": s.license.clone().unwrap_or_default(),
        "modelfile": format!("# served by sobre\nFROM {path}\n"),
        "parameters": "",
        "template": state.prompt.template_source().unwrap_or_default(),
        "details": details(&state),
        "model_info": info,
        "capabilities": capabilities,
        "modified_at": rfc3339_secs(state.model.modified),
    }))
    .into_response())
}

/// The model as `/api/tags` lists it.
fn listing(state: &AppState) -> Map<String, Value> {
    let id = &state.options.model_id;
    let mut m = Map::new();
    m.insert("name".into(), json!(id));
    m.insert("model".into(), json!(id));
    m.insert("modified_at".into(), json!(rfc3339_secs(state.model.modified)));
    m.insert("size".into(), json!(state.model.size));
    m.insert("digest".into(), json!(""));
    m.insert("details".into(), details(state));
    m
}

fn details(state: &AppState) -> Value {
    let s = &state.model.summary;
    let family = s.architecture.clone().unwrap_or_default();
    json!({
        "parent_model": "",
        "format": "gguf",
        "family": family,
        "families": [family],
        "parameter_size": parameter_size(s.parameters),
        "quantization_level": s.quantization.clone().unwrap_or_default(),
    })
}

/// `268.1M`, `7.6B`, as Ollama writes sizes.
fn parameter_size(n: u64) -> String {
    let n = n as f64;
    if n >= 1e9 {
        format!("{:.1}B", n / 1e9)
    } else if n >= 1e6 {
        format!("{:.1}M", n / 1e6)
    } else {
        format!("{n}")
    }
}

fn check_model(state: &AppState, name: Option<&str>) -> Result<()> {
    if state.serves(name) {
        Ok(())
    } else {
        let name = name.unwrap_or_default();
        Err(ApiError::not_found(format!("model \"{name}\" not found, try pulling it first")).into())
    }
}

/// Ollama features this server lacks, refused rather than ignored.
fn refuse_unsupported(f: &Fields) -> Result<()> {
    let non_empty = |v: Option<&Value>| match v {
        None => false,
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(_) => true,
    };
    for key in ["format", "tools", "images", "suffix"] {
        if non_empty(f.get(key)) {
            return Err(f.invalid(key, "is not supported by this server").into());
        }
    }
    Ok(())
}

/// Ollama answers an empty request by loading the model; clients use it to
/// warm up. Ours is always loaded.
fn loaded(state: &AppState, chat: bool) -> Response {
    let mut m = Map::new();
    m.insert("model".into(), json!(state.options.model_id));
    m.insert("created_at".into(), json!(rfc3339(SystemTime::now())));
    if chat {
        m.insert("message".into(), json!({"role": "assistant", "content": ""}));
    } else {
        m.insert("response".into(), json!(""));
    }
    m.insert("done".into(), json!(true));
    m.insert("done_reason".into(), json!("load"));
    Json(Value::Object(m)).into_response()
}

async fn do_chat(state: AppState, body: std::result::Result<Bytes, BytesRejection>) -> Result<Response> {
    let started = Instant::now();
    let map = body::parse(body)?;
    let f = Fields::new(&map);
    check_model(&state, f.str("model")?)?;
    refuse_unsupported(&f)?;
    let streamed = f.bool("stream")?.unwrap_or(true);
    let options = f.object("options", "options.")?;
    let params = params::ollama(options.as_ref())?;
    if f.get("messages")
        .and_then(Value::as_array)
        .is_some_and(Vec::is_empty)
    {
        return Ok(loaded(&state, true));
    }
    let messages = prompt::check_messages(f.get("messages"))?;
    for (i, m) in messages.as_array().into_iter().flatten().enumerate() {
        if m.get("images")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty())
        {
            return Err(ApiError::invalid_param(
                &format!("messages[{i}].images"),
                "images are not supported",
            )
            .into());
        }
    }
    let (text, ids) = prompt::chat_prompt(&state, messages.clone()).await?;
    let generation = Generation::start(&state, ids, &params, Some(&text), started)?;
    respond(&state, generation, streamed, Kind::Chat).await
}

async fn do_generate(state: AppState, body: std::result::Result<Bytes, BytesRejection>) -> Result<Response> {
    let started = Instant::now();
    let map = body::parse(body)?;
    let f = Fields::new(&map);
    check_model(&state, f.str("model")?)?;
    refuse_unsupported(&f)?;
    let streamed = f.bool("stream")?.unwrap_or(true);
    let options = f.object("options", "options.")?;
    let params = params::ollama(options.as_ref())?;
    let user = f.str("prompt")?.unwrap_or_default();
    let system = f.str("system")?.unwrap_or_default();
    if user.is_empty() && system.is_empty() {
        return Ok(loaded(&state, false));
    }
    let generation = if f.bool("raw")?.unwrap_or(false) {
        let ids = prompt::text_prompt(&state, user.to_string()).await?;
        Generation::start(&state, ids, &params, None, started)?
    } else {
        let mut messages = Vec::new();
        if !system.is_empty() {
            messages.push(json!({"role": "system", "content": system}));
        }
        messages.push(json!({"role": "user", "content": user}));
        let (text, ids) = prompt::chat_prompt(&state, Value::Array(messages)).await?;
        Generation::start(&state, ids, &params, Some(&text), started)?
    };
    respond(&state, generation, streamed, Kind::Generate).await
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Chat,
    Generate,
}

async fn respond(state: &AppState, generation: Generation, streamed: bool, kind: Kind) -> Result<Response> {
    let framer = OllamaFramer {
        model: state.options.model_id.clone(),
        kind,
        started: generation.started,
    };
    if streamed {
        return Ok(stream::ndjson(stream::body(generation, framer, Vec::new())));
    }
    let started = generation.started;
    let c = generation.collect().await?;
    let mut obj = framer.line(&c.content, &c.reasoning, true);
    obj.insert("done_reason".into(), json!(c.summary.finish_reason.as_str()));
    obj.extend(ollama_stats(&c.summary, started.elapsed()));
    Ok(Json(Value::Object(obj)).into_response())
}

struct OllamaFramer {
    model: String,
    kind: Kind,
    started: Instant,
}

impl OllamaFramer {
    fn line(&self, content: &str, thinking: &str, done: bool) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("model".into(), json!(self.model));
        m.insert("created_at".into(), json!(rfc3339(SystemTime::now())));
        match self.kind {
            Kind::Chat => {
                let mut msg = json!({"role": "assistant", "content": content});
                if !thinking.is_empty() {
                    msg["thinking"] = json!(thinking);
                }
                m.insert("message".into(), msg);
            }
            Kind::Generate => {
                m.insert("response".into(), json!(content));
                if !thinking.is_empty() {
                    m.insert("thinking".into(), json!(thinking));
                }
            }
        }
        m.insert("done".into(), json!(done));
        m
    }
}

impl Framer for OllamaFramer {
    fn piece(&mut self, piece: Piece, out: &mut VecDeque<Bytes>) {
        match piece {
            Piece::Delta(d) if d.reasoning.is_empty() && d.content.is_empty() => {}
            Piece::Delta(d) => {
                let line = self.line(&d.content, &d.reasoning, false);
                out.push_back(stream::ndjson_line(&Value::Object(line)));
            }
            Piece::Done(s) => {
                let mut line = self.line("", "", true);
                line.insert("done_reason".into(), json!(s.finish_reason.as_str()));
                line.extend(ollama_stats(&s, self.started.elapsed()));
                out.push_back(stream::ndjson_line(&Value::Object(line)));
            }
        }
    }

    fn end(&mut self, complete: bool, out: &mut VecDeque<Bytes>) {
        if !complete {
            let e = crate::generate::stopped();
            out.push_back(stream::ndjson_line(&json!({ "error": e.message })));
        }
    }
}
