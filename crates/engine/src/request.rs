//! What a caller sends the engine and what comes back.

use model::SamplerConfig;
use tokio::sync::mpsc;

/// One generation request: prompt ids (BOS included where the model wants
/// it) and how to sample.
#[derive(Debug, Clone)]
pub struct Request {
    pub prompt: Vec<u32>,
    /// Most tokens to generate; `None`: as many as the context leaves.
    /// Clamped to what the context leaves after the prompt.
    pub max_tokens: Option<usize>,
    pub sampler: SamplerConfig,
    /// Generation ends before the first occurrence of any of these; the
    /// stop string itself is not returned.
    pub stop: Vec<String>,
    /// `Some(n)`: report each generated token's log-probability and the
    /// `n` most likely alternatives (n is capped at 20).
    pub logprobs: Option<usize>,
}

impl Request {
    /// A greedy request for `prompt` with no stop strings.
    pub fn greedy(prompt: Vec<u32>, max_tokens: usize) -> Request {
        Request {
            prompt,
            max_tokens: Some(max_tokens),
            sampler: SamplerConfig::greedy(),
            stop: Vec::new(),
            logprobs: None,
        }
    }
}

/// Most alternatives reported per token.
pub const MAX_TOP_LOGPROBS: usize = 20;

/// Something that happened to a request.
#[derive(Debug, Clone)]
pub enum Event {
    /// A generated token and the text it completes (may be empty while a
    /// character is incomplete or a stop string may be starting).
    Token(TokenEvent),
    /// Text released at the end without a new token: what was held back
    /// because it might have begun a stop string that never came.
    Text(String),
    /// The request is finished; nothing follows.
    Done(Summary),
}

#[derive(Debug, Clone)]
pub struct TokenEvent {
    pub id: u32,
    /// Text released by this token (held-back text comes out later).
    pub text: String,
    pub logprob: Option<TokenLogprob>,
}

/// The log-probability of a generated token under the model's
/// distribution (softmax of the raw logits, before sampling settings).
#[derive(Debug, Clone)]
pub struct TokenLogprob {
    /// The token's text (lossy UTF-8 of its bytes).
    pub token: String,
    pub bytes: Vec<u8>,
    pub logprob: f32,
    /// The most likely tokens, best first.
    pub top: Vec<TopLogprob>,
}

#[derive(Debug, Clone)]
pub struct TopLogprob {
    pub id: u32,
    pub token: String,
    pub bytes: Vec<u8>,
    pub logprob: f32,
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishReason {
    /// End-of-generation token or a stop string.
    Stop,
    /// `max_tokens` reached, or the context is full.
    Length,
}

impl FinishReason {
    /// `"stop"` or `"length"`, as OpenAI's API spells them.
    pub fn as_str(self) -> &'static str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
        }
    }
}

/// How a finished request went.
#[derive(Debug, Clone)]
pub struct Summary {
    pub finish_reason: FinishReason,
    pub prompt_tokens: usize,
    /// Generated tokens (a final EOS/EOT not counted).
    pub completion_tokens: usize,
    /// The whole generated text (after stop-string truncation).
    pub text: String,
    pub timings: Timings,
    /// This request's share of the energy of the steps it was in.
    pub energy: energy::EnergyReport,
}

/// Milliseconds, as `sobre run --json` reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Timings {
    /// Waiting for a slot.
    pub queue_ms: f64,
    /// From admission to the first generated token's logits.
    pub prompt_ms: f64,
    /// From then to the end.
    pub generate_ms: f64,
    /// `prompt_ms + generate_ms`.
    pub total_ms: f64,
    pub prompt_tok_s: f64,
    pub generate_tok_s: f64,
}

/// The events of one request. Dropping it cancels the request.
#[derive(Debug)]
pub struct Stream {
    pub(crate) rx: mpsc::UnboundedReceiver<Event>,
}

impl Stream {
    /// The next event; `None` once the request is over (after `Done`, or
    /// if the engine stopped).
    pub async fn recv(&mut self) -> Option<Event> {
        self.rx.recv().await
    }

    /// [`Stream::recv`] for threads outside an async runtime.
    pub fn blocking_recv(&mut self) -> Option<Event> {
        self.rx.blocking_recv()
    }

    /// Waits for the end and returns the summary (the text is in it).
    pub fn blocking_collect(mut self) -> Option<(Vec<TokenEvent>, Summary)> {
        let mut tokens = Vec::new();
        while let Some(ev) = self.blocking_recv() {
            match ev {
                Event::Token(t) => tokens.push(t),
                Event::Text(_) => {}
                Event::Done(s) => return Some((tokens, s)),
            }
        }
        None
    }
}
