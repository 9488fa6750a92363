//! Sampling settings from OpenAI and Ollama requests. Unset fields keep
//! `sobre run`'s defaults, so the same prompt behaves the same from the
//! command line and over HTTP.

use engine::Request;
use model::SamplerConfig;

use crate::body::Fields;
use crate::error::ApiError;

/// Most alternatives per token the engine reports (OpenAI's own cap).
pub const MAX_TOP_LOGPROBS: usize = 20;

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
        // -1: the whole context, as Ollama means it.
        sampler.penalty_last_n = if n < 0 { usize::MAX } else { n as usize };
    }
    if let Some(seed) = o.int("seed")? {
        // Ollama's -1 asks for a random seed; the default already is one.
        if seed >= 0 {
            sampler.seed = seed as u64;
        }
    }
    // -1 (no limit) and -2 (fill the context) both mean: what the context leaves.
    let max_tokens = o.int("num_predict")?.and_then(|n| usize::try_from(n).ok());
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
