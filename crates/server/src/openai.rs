//! OpenAI's API: `/v1/chat/completions`, `/v1/completions`, `/v1/models`.

use std::collections::VecDeque;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use engine::{Summary, TokenLogprob};
use serde_json::{json, Map, Value};

use crate::body::{self, Fields};
use crate::error::ApiError;
use crate::generate::{Collected, Generation, Piece};
use crate::ids::new_id;
use crate::params::{self, Endpoint};
use crate::prompt;
use crate::state::{unix_now, AppState};
use crate::stream::{self, Framer};
use crate::usage::{openai_usage, timings};

pub async fn chat_completions(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    chat(state, body)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

pub async fn completions(State(state): State<AppState>, body: Result<Bytes, BytesRejection>) -> Response {
    complete(state, body)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

pub async fn list_models(State(state): State<AppState>) -> Response {
    Json(json!({ "object": "list", "data": [model_object(&state)] })).into_response()
}

pub async fn get_model(
    State(state): State<AppState>,
    model: Result<Path<String>, PathRejection>,
) -> Response {
    let Ok(Path(model)) = model else {
        return ApiError::bad_request("The model id in the path is not valid UTF-8").into_response();
    };
    if state.serves(Some(&model)) {
        Json(model_object(&state)).into_response()
    } else {
        ApiError::model_not_found(&model).into_response()
    }
}

fn model_object(state: &AppState) -> Value {
    let s = &state.model.summary;
    json!({
        "id": state.options.model_id,
        "object": "model",
        "created": state.model.modified,
        "owned_by": "sobre",
        "meta": {
            "architecture": s.architecture,
            "n_params": s.parameters,
            "quantization": s.quantization,
            "n_ctx_train": s.context_length,
            "n_ctx": state.engine.n_ctx(),
            "parallel": state.engine.parallel(),
            "size": state.model.size,
            "reasoning": state.prompt.is_reasoning(),
        },
    })
}

/// What every answer of one request shares.
#[derive(Debug, Clone)]
struct Head {
    id: String,
    created: u64,
    model: String,
}

impl Head {
    fn new(state: &AppState, prefix: &str) -> Head {
        Head {
            id: new_id(prefix),
            created: unix_now(),
            model: state.options.model_id.clone(),
        }
    }

    fn object(&self, object: &str, choices: Value) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("id".into(), json!(self.id));
        m.insert("object".into(), json!(object));
        m.insert("created".into(), json!(self.created));
        m.insert("model".into(), json!(self.model));
        m.insert("choices".into(), choices);
        m
    }
}

/// The request's `model` must be ours; a missing one is taken to be.
fn check_model(state: &AppState, f: &Fields) -> Result<(), ApiError> {
    let model = f.str("model")?;
    if state.serves(model) {
        Ok(())
    } else {
        Err(ApiError::model_not_found(model.unwrap_or_default()))
    }
}

/// Features this server does not have are refused rather than ignored: a
/// client asking for JSON output or tool calls must not get prose silently.
fn refuse_unsupported(f: &Fields) -> Result<(), ApiError> {
    if f.get("tools")
        .is_some_and(|t| t.as_array().is_none_or(|a| !a.is_empty()))
    {
        return Err(f.invalid("tools", "is not supported by this server"));
    }
    if let Some(rf) = f.get("response_format") {
        if rf.get("type").and_then(Value::as_str) != Some("text") {
            return Err(f.invalid("response_format", "is not supported: only {\"type\": \"text\"}"));
        }
    }
    if f.bool("echo")? == Some(true) {
        return Err(f.invalid("echo", "is not supported"));
    }
    if f.str("suffix")?.is_some_and(|s| !s.is_empty()) {
        return Err(f.invalid("suffix", "is not supported"));
    }
    Ok(())
}

fn stream_flags(f: &Fields) -> Result<(bool, bool), ApiError> {
    let stream = f.bool("stream")?.unwrap_or(false);
    let usage = match f.object("stream_options", "stream_options.")? {
        Some(o) => o.bool("include_usage")?.unwrap_or(false),
        None => false,
    };
    Ok((stream, usage))
}

async fn chat(state: AppState, body: Result<Bytes, BytesRejection>) -> Result<Response, ApiError> {
    let started = Instant::now();
    let map = body::parse(body)?;
    let f = Fields::new(&map);
    check_model(&state, &f)?;
    let messages = prompt::check_messages(f.get("messages"))?;
    refuse_unsupported(&f)?;
    let params = params::openai(&f, Endpoint::Chat)?;
    let (streamed, include_usage) = stream_flags(&f)?;
    let (text, ids) = prompt::chat_prompt(&state, messages.clone()).await?;
    let generation = Generation::start(&state, ids, &params, Some(&text), started)?;
    let head = Head::new(&state, "chatcmpl-");
    let logprobs = params.logprobs.is_some();
    let splits = generation.splits();
    if streamed {
        let framer = ChatFramer {
            head,
            include_usage,
            logprobs,
        };
        let first = framer.chunk(
            json!({"role": "assistant", "content": ""}),
            Value::Null,
            Value::Null,
        );
        let first = vec![stream::sse_data(&first)];
        return Ok(stream::sse(stream::body(generation, framer, first)));
    }
    let c = generation.collect().await?;
    let mut message = json!({"role": "assistant", "content": c.content});
    if splits {
        message["reasoning_content"] = json!(c.reasoning);
        message["reasoning"] = json!(c.reasoning);
    }
    let lp = if logprobs {
        json!({ "content": chat_logprobs(&c.logprobs) })
    } else {
        Value::Null
    };
    let choice = json!([{
        "index": 0,
        "message": message,
        "logprobs": lp,
        "finish_reason": c.summary.finish_reason.as_str(),
    }]);
    Ok(Json(finish(head.object("chat.completion", choice), &c.summary)).into_response())
}

/// Adds `usage` and `timings` to a final answer.
fn finish(mut obj: Map<String, Value>, s: &Summary) -> Value {
    obj.insert("usage".into(), openai_usage(s));
    obj.insert("timings".into(), timings(s));
    Value::Object(obj)
}

struct ChatFramer {
    head: Head,
    include_usage: bool,
    logprobs: bool,
}

impl ChatFramer {
    fn chunk(&self, delta: Value, logprobs: Value, finish_reason: Value) -> Value {
        let choice = json!([{
            "index": 0,
            "delta": delta,
            "logprobs": logprobs,
            "finish_reason": finish_reason,
        }]);
        let mut obj = self.head.object("chat.completion.chunk", choice);
        if self.include_usage {
            obj.insert("usage".into(), Value::Null);
        }
        Value::Object(obj)
    }
}

impl Framer for ChatFramer {
    fn piece(&mut self, piece: Piece, out: &mut VecDeque<Bytes>) {
        match piece {
            Piece::Delta(d) if d.is_empty() => {}
            Piece::Delta(d) => {
                let mut delta = Map::new();
                if !d.reasoning.is_empty() {
                    delta.insert("reasoning_content".into(), json!(d.reasoning));
                    delta.insert("reasoning".into(), json!(d.reasoning));
                }
                if !d.content.is_empty() {
                    delta.insert("content".into(), json!(d.content));
                }
                let lp = if self.logprobs {
                    json!({ "content": chat_logprobs(&d.logprobs) })
                } else {
                    Value::Null
                };
                out.push_back(stream::sse_data(&self.chunk(
                    Value::Object(delta),
                    lp,
                    Value::Null,
                )));
            }
            Piece::Done(s) => {
                let last = self.chunk(json!({}), Value::Null, json!(s.finish_reason.as_str()));
                let usage = self
                    .include_usage
                    .then(|| self.head.object("chat.completion.chunk", json!([])));
                push_final(last, usage, &s, out);
            }
        }
    }

    fn end(&mut self, complete: bool, out: &mut VecDeque<Bytes>) {
        end_stream(complete, out);
    }
}

fn chat_logprobs(lps: &[TokenLogprob]) -> Value {
    Value::Array(
        lps.iter()
            .map(|t| {
                let top: Vec<Value> = t
                    .top
                    .iter()
                    .map(|a| json!({"token": a.token, "logprob": a.logprob, "bytes": a.bytes}))
                    .collect();
                json!({"token": t.token, "logprob": t.logprob, "bytes": t.bytes, "top_logprobs": top})
            })
            .collect(),
    )
}

/// The legacy completions shape: parallel lists, alternatives as maps.
/// `offset` is where the first token starts in the text returned so far.
fn completion_logprobs(lps: &[TokenLogprob], offset: &mut usize) -> Value {
    let mut text_offset = Vec::with_capacity(lps.len());
    for t in lps {
        text_offset.push(*offset);
        *offset += t.token.chars().count();
    }
    json!({
        "tokens": lps.iter().map(|t| t.token.clone()).collect::<Vec<_>>(),
        "token_logprobs": lps.iter().map(|t| t.logprob).collect::<Vec<_>>(),
        "top_logprobs": lps.iter().map(|t| {
            let m: Map<String, Value> = t.top.iter().map(|a| (a.token.clone(), json!(a.logprob))).collect();
            Value::Object(m)
        }).collect::<Vec<_>>(),
        "text_offset": text_offset,
    })
}

/// Prompt ids of a completions request: one text, or one list of ids.
async fn completion_prompt(state: &AppState, f: &Fields<'_>) -> Result<Vec<u32>, ApiError> {
    let bad = || {
        f.invalid(
            "prompt",
            "must be a string, or a list of token ids (one prompt per request)",
        )
    };
    let ids_of = |items: &[Value]| -> Option<Vec<u32>> {
        items
            .iter()
            .map(|v| v.as_u64().and_then(|n| u32::try_from(n).ok()))
            .collect()
    };
    match f.get("prompt") {
        None => Err(ApiError {
            param: Some("prompt".into()),
            ..ApiError::bad_request("`prompt` is required")
        }),
        Some(Value::String(s)) => prompt::text_prompt(state, s.clone()).await,
        Some(Value::Array(items)) => match items.as_slice() {
            [Value::String(s)] => prompt::text_prompt(state, s.clone()).await,
            [Value::Array(inner)] => ids_of(inner).ok_or_else(bad),
            [] => Err(bad()),
            _ if items.iter().all(Value::is_number) => ids_of(items).ok_or_else(bad),
            _ => Err(bad()),
        },
        Some(_) => Err(bad()),
    }
}

async fn complete(state: AppState, body: Result<Bytes, BytesRejection>) -> Result<Response, ApiError> {
    let started = Instant::now();
    let map = body::parse(body)?;
    let f = Fields::new(&map);
    check_model(&state, &f)?;
    refuse_unsupported(&f)?;
    let ids = completion_prompt(&state, &f).await?;
    let params = params::openai(&f, Endpoint::Completions)?;
    let (streamed, include_usage) = stream_flags(&f)?;
    let generation = Generation::start(&state, ids, &params, None, started)?;
    let head = Head::new(&state, "cmpl-");
    let logprobs = params.logprobs.is_some();
    if streamed {
        let framer = CompletionFramer {
            head,
            include_usage,
            logprobs,
            offset: 0,
        };
        return Ok(stream::sse(stream::body(generation, framer, Vec::new())));
    }
    let Collected {
        content,
        logprobs: lps,
        summary,
        ..
    } = generation.collect().await?;
    let lp = if logprobs {
        completion_logprobs(&lps, &mut 0)
    } else {
        Value::Null
    };
    let choice = json!([{
        "index": 0,
        "text": content,
        "logprobs": lp,
        "finish_reason": summary.finish_reason.as_str(),
    }]);
    Ok(Json(finish(head.object("text_completion", choice), &summary)).into_response())
}

struct CompletionFramer {
    head: Head,
    include_usage: bool,
    logprobs: bool,
    offset: usize,
}

impl CompletionFramer {
    fn chunk(&self, text: &str, logprobs: Value, finish_reason: Value) -> Value {
        let choice =
            json!([{"index": 0, "text": text, "logprobs": logprobs, "finish_reason": finish_reason}]);
        let mut obj = self.head.object("text_completion", choice);
        if self.include_usage {
            obj.insert("usage".into(), Value::Null);
        }
        Value::Object(obj)
    }
}

impl Framer for CompletionFramer {
    fn piece(&mut self, piece: Piece, out: &mut VecDeque<Bytes>) {
        match piece {
            Piece::Delta(d) if d.is_empty() => {}
            Piece::Delta(d) => {
                let lp = if self.logprobs {
                    completion_logprobs(&d.logprobs, &mut self.offset)
                } else {
                    Value::Null
                };
                out.push_back(stream::sse_data(&self.chunk(&d.content, lp, Value::Null)));
            }
            Piece::Done(s) => {
                let last = self.chunk("", Value::Null, json!(s.finish_reason.as_str()));
                let usage = self
                    .include_usage
                    .then(|| self.head.object("text_completion", json!([])));
                push_final(last, usage, &s, out);
            }
        }
    }

    fn end(&mut self, complete: bool, out: &mut VecDeque<Bytes>) {
        end_stream(complete, out);
    }
}

/// The end of an answer in both streams: the last chunk (finish reason and
/// timings), then, when `stream_options.include_usage` asked for it, the
/// usage chunk (`usage_head`: an empty-choices object of the stream's type).
fn push_final(
    mut last: Value,
    usage_head: Option<Map<String, Value>>,
    s: &Summary,
    out: &mut VecDeque<Bytes>,
) {
    last["timings"] = timings(s);
    out.push_back(stream::sse_data(&last));
    if let Some(mut obj) = usage_head {
        obj.insert("usage".into(), openai_usage(s));
        out.push_back(stream::sse_data(&Value::Object(obj)));
    }
}

/// `[DONE]`, after an error chunk if the answer was cut short.
fn end_stream(complete: bool, out: &mut VecDeque<Bytes>) {
    if !complete {
        out.push_back(stream::sse_data(&crate::generate::stopped().openai_body()));
    }
    out.push_back(stream::sse_done());
}
