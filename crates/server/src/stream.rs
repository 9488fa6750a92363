//! Streamed response bodies: server-sent events for OpenAI, newline-
//! delimited JSON for Ollama. The body owns the [`Generation`], so a client
//! that hangs up cancels its request as soon as hyper drops the body.

use std::collections::VecDeque;
use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::generate::{Generation, Piece};

/// Turns pieces of a generation into the frames of one API.
pub trait Framer: Send + 'static {
    fn piece(&mut self, piece: Piece, out: &mut VecDeque<Bytes>);
    /// After the last piece; `complete` is false when the engine stopped
    /// before the summary (the framer may send an error frame).
    fn end(&mut self, complete: bool, out: &mut VecDeque<Bytes>);
}

struct State<F> {
    generation: Generation,
    framer: F,
    out: VecDeque<Bytes>,
    ended: bool,
    complete: bool,
}

/// A body that sends `first`, then the framer's frames as the engine
/// produces them.
pub fn body(generation: Generation, framer: impl Framer, first: Vec<Bytes>) -> Body {
    let state = State {
        generation,
        framer,
        out: first.into(),
        ended: false,
        complete: false,
    };
    let frames = futures_util::stream::unfold(state, |mut st| async move {
        loop {
            if let Some(frame) = st.out.pop_front() {
                return Some((Ok::<_, Infallible>(frame), st));
            }
            if st.ended {
                return None;
            }
            match st.generation.next().await {
                Some(piece) => {
                    st.complete |= matches!(piece, Piece::Done(_));
                    st.framer.piece(piece, &mut st.out);
                }
                None => {
                    st.ended = true;
                    st.framer.end(st.complete, &mut st.out);
                }
            }
        }
    });
    Body::from_stream(frames)
}

/// An SSE response (proxies told not to buffer it).
pub fn sse(body: Body) -> Response {
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    resp
}

/// An NDJSON response, as Ollama streams.
pub fn ndjson(body: Body) -> Response {
    let mut resp = body.into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    resp
}

/// `data: JSON\n\n`.
pub fn sse_data(v: &Value) -> Bytes {
    Bytes::from(format!("data: {v}\n\n"))
}

/// The OpenAI stream's last event.
pub fn sse_done() -> Bytes {
    Bytes::from_static(b"data: [DONE]\n\n")
}

/// `JSON\n`.
pub fn ndjson_line(v: &Value) -> Bytes {
    Bytes::from(format!("{v}\n"))
}
