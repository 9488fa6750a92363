//! Sampling settings from OpenAI and Ollama requests. Unset fields keep
//! `sobre run`'s defaults, so the same prompt behaves the same from the
//! command line and over HTTP.

use engine::Request;
use model::SamplerConfig;

use crate::body::Fields;
use crate::error::ApiError;

/// Most alternatives per token the engine reports (OpenAI's own cap).
pub const MAX_TOP_LOGPROBS: usize = 20;

/// Longest repeat-penalty window (tokens): more than any context sobre
/// runs, so "the whole context" fits.
pub const MAX_PENALTY_WINDOW: usize = 1 << 17;

/// How to generate, everything but the prompt.
#[derive(Debug, Clone)]
pub struct Generate {
    pub max_tokens: Option<usize>,
    pub sampler: SamplerConfig,
    pub stop: Vec<String>,
    pub logprobs: Option<usize>,
}

impl Generate {
    pub fn request(&self, prompt: Vec<u32>) -> Request {
        Request {
            prompt,
            max_tokens: self.max_tokens,
            sampler: self.sampler.clone(),
            stop: self.stop.clone(),
            logprobs: self.logprobs,
        }
    }
}

/// Which logprobs field shape the endpoint has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `logprobs: bool` + `top_logprobs: int`.
    Chat,
    /// `logprobs: int` (alternatives per token).
    Completions,
}

/// The settings of an OpenAI request.
pub fn openai(f: &Fields, endpoint: Endpoint) -> Result<Generate, ApiError> {
    if let Some(n) = f.int("n")? {
        if n != 1 {
            return Err(f.invalid("n", &format!("must be 1: one choice per request (got {n})")));
        }
    }
    if let Some(b) = f.int("best_of")? {
        if b != 1 {
            return Err(f.invalid("best_of", &format!("must be 1 (got {b})")));
        }
    }
    let max_key = if f.get("max_completion_tokens").is_some() {
        "max_completion_tokens"
    } else {
        "max_tokens"
    };
    let max_tokens = match f.int(max_key)? {
        None => None,
        Some(n) if n >= 1 => Some(n as usize),
        Some(n) => return Err(f.invalid(max_key, &format!("must be at least 1 (got {n})"))),
    };
    let mut sampler = common_sampler(f)?;
    if let Some(p) = f.number("presence_penalty", -2.0, 2.0)? {
        sampler.presence_penalty = p;
    }
    if let Some(p) = f.number("frequency_penalty", -2.0, 2.0)? {
        sampler.frequency_penalty = p;
    }
    if let Some(seed) = f.int("seed")? {
        sampler.seed = seed as u64;
    }
    let logprobs = match endpoint {
        Endpoint::Chat => {
            let top = f.count("top_logprobs")?;
            match (f.bool("logprobs")?, top) {
                (_, Some(t)) if t as usize > MAX_TOP_LOGPROBS => {
                    return Err(f.invalid("top_logprobs", &format!("must be at most {MAX_TOP_LOGPROBS}")))
                }
                (Some(true), top) => Some(top.unwrap_or(0) as usize),
                (_, Some(t)) if t > 0 => {
                    return Err(f.invalid("top_logprobs", "requires `logprobs` to be true"))
                }
                _ => None,
            }
        }
        Endpoint::Completions => match f.count("logprobs")? {
            Some(t) if t as usize > MAX_TOP_LOGPROBS => {
                return Err(f.invalid("logprobs", &format!("must be at most {MAX_TOP_LOGPROBS}")))
            }
            t => t.map(|t| t as usize),
        },
    };
    Ok(Generate {
        max_tokens,
        sampler,
        stop: f.stop("stop")?,
        logprobs,
    })
}

/// The settings of an Ollama request: its `options` object.
pub fn ollama(options: Option<&Fields>) -> Result<Generate, ApiError> {
    let Some(o) = options else {
        return Ok(Generate {
            max_tokens: None,
            sampler: default_sampler(),
            stop: Vec::new(),
            logprobs: None,
        });
    };
    let mut sampler = common_sampler(o)?;
    if let Some(p) = o.number("presence_penalty", -100.0, 100.0)? {
        sampler.presence_penalty = p;
    }
    if let Some(p) = o.number("frequency_penalty", -100.0, 100.0)? {
        sampler.frequency_penalty = p;
    }
    if let Some(n) = o.int("repeat_last_n")? {
        // -1: the whole context, as Ollama means it. The sampler reserves
        // its history up front, so the window is capped (a request once
        // asked for 10^12 tokens of it, and -1 overflowed).
        sampler.penalty_last_n = match n {
            -1 => MAX_PENALTY_WINDOW,
            n if n < 0 => {
                return Err(o.invalid("repeat_last_n", &format!("must be -1 or at least 0 (got {n})")))
            }
            n => (n as u64).min(MAX_PENALTY_WINDOW as u64) as usize,
        };
    }
    if let Some(seed) = o.int("seed")? {
        // Ollama's -1 asks for a random seed; the default already is one.
        if seed >= 0 {
            sampler.seed = seed as u64;
        }
    }
    // -1 (no limit) and -2 (fill the context) both mean: what the context
    // leaves; larger limits are cut to it by the engine.
    let max_tokens = match o.int("num_predict")? {
        None | Some(-1 | -2) => None,
        Some(n) if n < 0 => {
            return Err(o.invalid("num_predict", &format!("must be -1, -2 or at least 0 (got {n})")))
        }
        Some(n) => Some(n as usize),
    };
    Ok(Generate {
        max_tokens,
        sampler,
        stop: o.stop("stop")?,
        logprobs: None,
    })
}

/// Fields both APIs spell the same way (OpenAI clients such as llama.cpp's
/// also send `top_k`, `min_p` and `repeat_penalty`).
fn common_sampler(f: &Fields) -> Result<SamplerConfig, ApiError> {
    let mut s = default_sampler();
    if let Some(t) = f.number("temperature", 0.0, 2.0)? {
        s.temperature = t;
    }
    if let Some(p) = f.number("top_p", 0.0, 1.0)? {
        s.top_p = p;
    }
    if let Some(k) = f.count("top_k")? {
        s.top_k = k as usize;
    }
    if let Some(p) = f.number("min_p", 0.0, 1.0)? {
        s.min_p = p;
    }
    if let Some(p) = f.number("repeat_penalty", 0.0, 10.0)? {
        s.repeat_penalty = if p == 0.0 { 1.0 } else { p };
    }
    Ok(s)
}

/// `sobre run`'s defaults with a seed from the clock.
fn default_sampler() -> SamplerConfig {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    SamplerConfig {
        seed,
        ..SamplerConfig::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn run(v: Value, e: Endpoint) -> Result<Generate, ApiError> {
        let Value::Object(m) = v else { unreachable!() };
        openai(&Fields::new(&m), e)
    }

    #[test]
    fn openai_limits() {
        assert!(run(json!({"n": 2}), Endpoint::Chat).is_err());
        assert!(run(json!({"max_tokens": -1}), Endpoint::Chat).is_err());
        assert!(run(json!({"logprobs": true, "top_logprobs": 21}), Endpoint::Chat).is_err());
        assert!(run(json!({"logprobs": 21}), Endpoint::Completions).is_err());
        let g = run(
            json!({"max_completion_tokens": 5, "max_tokens": 9, "temperature": 0,
                           "stop": "x", "logprobs": true, "top_logprobs": 3, "seed": 7}),
            Endpoint::Chat,
        )
        .unwrap();
        assert_eq!(g.max_tokens, Some(5));
        assert_eq!(g.sampler.temperature, 0.0);
        assert_eq!(g.sampler.seed, 7);
        assert_eq!(g.stop, vec!["x".to_string()]);
        assert_eq!(g.logprobs, Some(3));
    }

    /// Every integer field: out of range, fractional or beyond 64 bits is
    /// a 400 naming it; values past what the context holds are clamped by
    /// the engine rather than refused.
    #[test]
    fn integers_are_range_checked() {
        let chat = Endpoint::Chat;
        let bad = [
            json!({"n": 0}),
            json!({"n": -1}),
            json!({"n": 1.5}),
            json!({"n": 18446744073709551616u128 as f64}),
            json!({"best_of": 2}),
            json!({"max_tokens": 0}),
            json!({"max_tokens": -5}),
            json!({"max_tokens": 2.5}),
            json!({"max_tokens": 1e20}),
            json!({"max_tokens": u64::MAX}),
            json!({"max_completion_tokens": -1}),
            json!({"logprobs": true, "top_logprobs": -1}),
            json!({"logprobs": true, "top_logprobs": 21}),
            json!({"logprobs": true, "top_logprobs": 1e10}),
            json!({"top_logprobs": 2}),
            json!({"seed": 1.5}),
            json!({"seed": u64::MAX}),
            json!({"seed": 1e19}),
            json!({"seed": "7"}),
            json!({"top_k": -1}),
        ];
        for v in bad {
            let key = v.as_object().unwrap().keys().next_back().unwrap().clone();
            let err = run(v.clone(), chat).expect_err(&v.to_string());
            assert_eq!(err.param.as_deref(), Some(key.as_str()), "{v}");
            assert_eq!(err.status.as_u16(), 400, "{v}");
        }
        for v in [
            json!({"logprobs": -1}),
            json!({"logprobs": 21}),
            json!({"logprobs": 0.5}),
        ] {
            assert!(run(v.clone(), Endpoint::Completions).is_err(), "{v}");
        }
        // In range: clamped later, or any 64-bit seed.
        let g = run(
            json!({"max_tokens": 1_000_000_000_000_000i64, "n": 1, "seed": -1}),
            chat,
        )
        .unwrap();
        assert_eq!(g.max_tokens, Some(1_000_000_000_000_000));
        assert_eq!(g.sampler.seed, u64::MAX);
        let g = run(json!({"seed": i64::MAX, "top_logprobs": 0}), chat).unwrap();
        assert_eq!(g.sampler.seed, i64::MAX as u64);
        assert_eq!(g.logprobs, None);
    }

    #[test]
    fn ollama_integers_are_range_checked() {
        let opts = |v: Value| {
            let Value::Object(m) = v else { unreachable!() };
            ollama(Some(&Fields::new(&m)))
        };
        for v in [
            json!({"num_predict": -3}),
            json!({"num_predict": 1.5}),
            json!({"num_predict": u64::MAX}),
            json!({"repeat_last_n": -2}),
            json!({"repeat_last_n": 1e30}),
            json!({"top_k": -1}),
            json!({"seed": 0.5}),
        ] {
            let err = opts(v.clone()).expect_err(&v.to_string());
            assert_eq!(err.status.as_u16(), 400, "{v}");
        }
        assert_eq!(opts(json!({"num_predict": -2})).unwrap().max_tokens, None);
        assert_eq!(opts(json!({"num_predict": 0})).unwrap().max_tokens, Some(0));
        let g = opts(json!({"repeat_last_n": -1})).unwrap();
        assert_eq!(g.sampler.penalty_last_n, MAX_PENALTY_WINDOW);
        let g = opts(json!({"repeat_last_n": 1_000_000_000_000i64})).unwrap();
        assert_eq!(g.sampler.penalty_last_n, MAX_PENALTY_WINDOW);
        assert_eq!(
            opts(json!({"repeat_last_n": 32})).unwrap().sampler.penalty_last_n,
            32
        );
    }

    #[test]
    fn ollama_options() {
        let Value::Object(m) = json!({"num_predict": -1, "temperature": 0, "top_k": 1, "seed": 3,
                                      "stop": ["a", "b"], "repeat_penalty": 1.1})
        else {
            unreachable!()
        };
        let g = ollama(Some(&Fields::new(&m))).unwrap();
        assert_eq!(g.max_tokens, None);
        assert_eq!(g.sampler.top_k, 1);
        assert_eq!(g.sampler.seed, 3);
        assert_eq!(g.stop.len(), 2);
    }
}
