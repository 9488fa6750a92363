//! One admitted request: its sampler, its text so far, its timings and its
//! share of the energy. The scheduler feeds it logits; it decides the next
//! token, streams the text, and says when it is done. Shared by the real
//! and the scripted engine, so both stream, stop and account alike.

use std::time::Instant;

use model::{Sampler, StopStrings};
use tokenizer::{StreamDecoder, Tokenizer};
use tokio::sync::mpsc::UnboundedSender;

use crate::metrics::Metrics;
use crate::request::{
    Event, FinishReason, Request, Summary, Timings, TokenEvent, TokenLogprob, TopLogprob, MAX_TOP_LOGPROBS,
};

/// A request waiting for a slot.
#[derive(Debug)]
pub(crate) struct Pending {
    pub(crate) request: Request,
    pub(crate) tx: UnboundedSender<Event>,
    pub(crate) submitted: Instant,
}

/// What a sequence needs in the next step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Need {
    /// Prompt tokens `done..` are still to be fed.
    Prefill { done: usize },
    /// The token sampled last is to be fed at position `pos`.
    Decode { token: u32, pos: usize },
}

/// An admitted request.
#[derive(Debug)]
pub(crate) struct Seq<'t> {
    tx: UnboundedSender<Event>,
    pub(crate) prompt: Vec<u32>,
    pub(crate) need: Need,
    max_tokens: usize,
    n_ctx: usize,
    sampler: Sampler,
    stops: StopStrings,
    decoder: StreamDecoder<'t>,
    tokenizer: &'t Tokenizer,
    top_logprobs: Option<usize>,
    text: String,
    /// Bytes of `text` already sent.
    released: usize,
    generated: usize,
    submitted: Instant,
    admitted: Instant,
    first_token: Option<Instant>,
    last_token: Instant,
    queue_ms: f64,
    pub(crate) joules: f64,
}

impl<'t> Seq<'t> {
    /// Admits `p` into a context of `n_ctx` positions (the queue checked
    /// that the prompt leaves room for at least one token).
    pub(crate) fn admit(p: Pending, tokenizer: &'t Tokenizer, n_vocab: usize, n_ctx: usize) -> Seq<'t> {
        let now = Instant::now();
        let room = n_ctx - p.request.prompt.len();
        let max_tokens = p.request.max_tokens.map_or(room, |m| m.min(room));
        let mut sampler = Sampler::new(p.request.sampler.clone(), n_vocab);
        for &t in &p.request.prompt {
            sampler.accept(t);
        }
        Seq {
            tx: p.tx,
            prompt: p.request.prompt,
            need: Need::Prefill { done: 0 },
            max_tokens,
            n_ctx,
            sampler,
            stops: StopStrings::new(p.request.stop),
            decoder: tokenizer.stream_decoder(false),
            tokenizer,
            top_logprobs: p.request.logprobs.map(|n| n.min(MAX_TOP_LOGPROBS)),
            text: String::new(),
            released: 0,
            generated: 0,
            submitted: p.submitted,
            admitted: now,
            first_token: None,
            last_token: now,
            queue_ms: now.duration_since(p.submitted).as_secs_f64() * 1000.0,
            joules: 0.0,
        }
    }

    /// The client is gone (the stream was dropped).
    pub(crate) fn cancelled(&self) -> bool {
        self.tx.is_closed()
    }

    /// A request whose `max_tokens` is 0 is done before it starts.
    pub(crate) fn wants_nothing(&self) -> bool {
        self.max_tokens == 0
    }

    /// The logits after the last token fed: samples the next token, streams
    /// its text. Returns why the request ended, if it did.
    pub(crate) fn on_logits(&mut self, logits: &[f32], metrics: &Metrics) -> Option<FinishReason> {
        let now = Instant::now();
        let pos = match self.need {
            Need::Prefill { .. } => self.prompt.len(),
            Need::Decode { pos, .. } => pos + 1,
        };
        let token = self.sampler.sample(logits);
        if self.tokenizer.is_eog(token) {
            self.note_token_time(now, metrics);
            return Some(FinishReason::Stop);
        }
        self.sampler.accept(token);
        self.generated += 1;
        metrics.add_generated(1);
        self.note_token_time(now, metrics);
        let piece = self.decoder.push(token).unwrap_or_default();
        self.text.push_str(&piece);

        let mut finish = None;
        if let Some(at) = self.stops.find(&self.text) {
            self.text.truncate(at);
            finish = Some(FinishReason::Stop);
        } else if self.generated >= self.max_tokens || pos >= self.n_ctx {
            let rest = self.decoder.finish();
            self.text.push_str(&rest);
            finish = Some(FinishReason::Length);
        }
        let upto = if finish.is_some() {
            self.text.len()
        } else {
            self.text.len() - self.stops.pending_len(&self.text)
        };
        let text = self.text[self.released.min(upto)..upto].to_string();
        self.released = self.released.max(upto);
        let logprob = self.top_logprobs.map(|n| self.logprob_of(logits, token, n));
        let _ = self.tx.send(Event::Token(TokenEvent {
            id: token,
            text,
            logprob,
        }));
        if finish.is_none() {
            self.need = Need::Decode { token, pos };
        }
        finish
    }

    fn note_token_time(&mut self, now: Instant, metrics: &Metrics) {
        match self.first_token {
            None => {
                self.first_token = Some(now);
                metrics.observe_ttft(now.duration_since(self.submitted).as_secs_f64());
            }
            Some(_) => metrics.observe_itl(now.duration_since(self.last_token).as_secs_f64()),
        }
        self.last_token = now;
    }

    /// Log-softmax of the raw logits: the chosen token's and the `n` best.
    fn logprob_of(&self, logits: &[f32], token: u32, n: usize) -> TokenLogprob {
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let sum: f64 = logits.iter().map(|&l| ((l - max) as f64).exp()).sum();
        let log_z = max as f64 + sum.ln();
        let lp = |id: u32| (logits[id as usize] as f64 - log_z) as f32;
        // The n best, kept sorted best first (n <= 20, so insertion is cheap).
        let mut best: Vec<(u32, f32)> = Vec::with_capacity(n + 1);
        if n > 0 {
            for (id, &l) in logits.iter().enumerate() {
                if best.len() < n || l > best[best.len() - 1].1 {
                    let at = best.partition_point(|&(_, b)| b >= l);
                    best.insert(at, (id as u32, l));
                    best.truncate(n);
                }
            }
        }
        let text = |id: u32| {
            let bytes = self
                .tokenizer
                .piece(id, false)
                .map(<[u8]>::to_vec)
                .unwrap_or_default();
            (String::from_utf8_lossy(&bytes).into_owned(), bytes)
        };
        let (token_text, bytes) = text(token);
        TokenLogprob {
            token: token_text,
            bytes,
            logprob: lp(token),
            top: best
                .into_iter()
                .map(|(id, _)| {
                    let (token, bytes) = text(id);
                    TopLogprob {
                        id,
                        token,
                        bytes,
                        logprob: lp(id),
                    }
                })
                .collect(),
        }
    }

    /// Sends the summary: `energy` is this request's share, reported under
    /// `carbon` with the meter's `source`.
    pub(crate) fn finish(
        mut self,
        reason: FinishReason,
        carbon: &energy::Carbon,
        source: energy::Source,
        metrics: &Metrics,
    ) {
        if self.released < self.text.len() {
            let rest = self.text[self.released..].to_string();
            let _ = self.tx.send(Event::Text(rest));
        }
        let now = Instant::now();
        let first = self.first_token.unwrap_or(now);
        let prompt_ms = first.duration_since(self.admitted).as_secs_f64() * 1000.0;
        let generate_ms = now.duration_since(first).as_secs_f64() * 1000.0;
        let per_s = |n: usize, ms: f64| if ms > 0.0 { n as f64 * 1000.0 / ms } else { 0.0 };
        metrics.finished();
        let _ = self.tx.send(Event::Done(Summary {
            finish_reason: reason,
            prompt_tokens: self.prompt.len(),
            completion_tokens: self.generated,
            text: std::mem::take(&mut self.text),
            timings: Timings {
                queue_ms: self.queue_ms,
                prompt_ms,
                generate_ms,
                total_ms: prompt_ms + generate_ms,
                prompt_tok_s: per_s(self.prompt.len(), prompt_ms),
                generate_tok_s: per_s(self.generated.saturating_sub(1), generate_ms),
            },
            energy: carbon.report(self.joules, source),
        }));
    }
}
