//! One request's run through the engine, as both APIs see it: text split
//! into reasoning and answer as it arrives, then the summary. Streaming and
//! non-streaming answers are built from the same pieces, so they agree.

use std::time::Instant;

use chat::{ReasoningDelta, ReasoningSplitter};
use engine::{Event, Summary, TokenLogprob};

use crate::error::ApiError;
use crate::params::Generate;
use crate::state::AppState;

/// Text released by one or more engine events.
#[derive(Debug, Default)]
pub struct Delta {
    pub reasoning: String,
    pub content: String,
    /// Log-probabilities of the tokens behind this text (when asked for).
    pub logprobs: Vec<TokenLogprob>,
}

impl Delta {
    pub fn is_empty(&self) -> bool {
        self.reasoning.is_empty() && self.content.is_empty() && self.logprobs.is_empty()
    }
}

#[derive(Debug)]
pub enum Piece {
    Delta(Delta),
    /// The end: nothing follows.
    Done(Summary),
}

/// A running request. Owns the engine's stream: dropping it (a client that
/// went away drops the response body holding it) cancels the request and
/// frees its slot before the next step.
#[derive(Debug)]
pub struct Generation {
    stream: engine::Stream,
    splitter: Option<ReasoningSplitter>,
    /// The summary, held while the splitter's tail goes out first.
    pending_done: Option<Summary>,
    finished: bool,
    /// When the request arrived (Ollama's `total_duration`).
    pub started: Instant,
}

/// A whole answer.
#[derive(Debug)]
pub struct Collected {
    pub reasoning: String,
    pub content: String,
    pub logprobs: Vec<TokenLogprob>,
    pub summary: Summary,
}

impl Generation {
    /// Submits `prompt` ids; `split_after` is the prompt text when the
    /// output should be split into reasoning and answer (chat requests to a
    /// reasoning model).
    pub fn start(
        state: &AppState,
        prompt: Vec<u32>,
        params: &Generate,
        split_after: Option<&str>,
        started: Instant,
    ) -> Result<Generation, ApiError> {
        let stream = state
            .engine
            .submit(params.request(prompt))
            .map_err(|e| ApiError::from_submit(&e))?;
        Ok(Generation {
            stream,
            splitter: split_after.and_then(|p| state.prompt.splitter(p)),
            pending_done: None,
            finished: false,
            started,
        })
    }

    /// Whether answers carry a reasoning part.
    pub fn splits(&self) -> bool {
        self.splitter.is_some()
    }

    /// The next piece; `None` after `Done`, or if the engine stopped
    /// without finishing the request.
    pub async fn next(&mut self) -> Option<Piece> {
        if let Some(s) = self.pending_done.take() {
            return Some(Piece::Done(s));
        }
        if self.finished {
            return None;
        }
        match self.stream.recv().await {
            Some(Event::Token(t)) => {
                let mut d = self.split(&t.text);
                d.logprobs.extend(t.logprob);
                Some(Piece::Delta(d))
            }
            Some(Event::Text(text)) => Some(Piece::Delta(self.split(&text))),
            Some(Event::Done(summary)) => {
                self.finished = true;
                let tail = self
                    .splitter
                    .as_mut()
                    .map(ReasoningSplitter::finish)
                    .unwrap_or_default();
                if tail.is_empty() {
                    Some(Piece::Done(summary))
                } else {
                    self.pending_done = Some(summary);
                    Some(Piece::Delta(from_split(tail)))
                }
            }
            None => {
                self.finished = true;
                None
            }
        }
    }

    /// Waits for the whole answer.
    pub async fn collect(mut self) -> Result<Collected, ApiError> {
        let mut reasoning = String::new();
        let mut content = String::new();
        let mut logprobs = Vec::new();
        while let Some(piece) = self.next().await {
            match piece {
                Piece::Delta(d) => {
                    reasoning.push_str(&d.reasoning);
                    content.push_str(&d.content);
                    logprobs.extend(d.logprobs);
                }
                Piece::Done(summary) => {
                    return Ok(Collected {
                        reasoning,
                        content,
                        logprobs,
                        summary,
                    })
                }
            }
        }
        Err(stopped())
    }

    fn split(&mut self, text: &str) -> Delta {
        match &mut self.splitter {
            Some(s) => from_split(s.push(text)),
            None => Delta {
                content: text.to_string(),
                ..Delta::default()
            },
        }
    }
}

/// The engine ended a request without its summary (it is shutting down or
/// failed).
pub fn stopped() -> ApiError {
    ApiError::internal("The engine stopped before the answer was complete")
}

fn from_split(d: ReasoningDelta) -> Delta {
    Delta {
        reasoning: d.reasoning,
        content: d.content,
        logprobs: Vec::new(),
    }
}
