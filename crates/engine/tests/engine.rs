//! The engine against the model run directly: batching several requests
//! must not change what each one gets, and the queue must refuse what it
//! cannot serve.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use engine::{Engine, EngineConfig, Event, FinishReason, Request, SubmitError};
use model::{KvCache, Model, SamplerConfig};

fn models_dir() -> PathBuf {
    std::env::var_os("SOBRE_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/sobre/models"))
}

fn gemma() -> PathBuf {
    let p = models_dir().join("gemma-3-270m-q4_k_m.gguf");
    assert!(p.exists(), "Gemma 3 270M missing: run scripts/fetch-models");
    p
}

fn config(parallel: usize) -> EngineConfig {
    EngineConfig {
        parallel,
        n_ctx: 128,
        threads: 2,
        n_batch: 64,
        queue: 8,
        ..EngineConfig::default()
    }
}

/// Greedy ids straight from the model, one token at a time.
fn reference(path: &PathBuf, prompt: &[u32], n: usize) -> Vec<u32> {
    let file = gguf::GgufFile::open(path).unwrap();
    let model = Model::load(&file).unwrap();
    let tok = tokenizer::Tokenizer::from_metadata(file.metadata()).unwrap();
    let mut cache = KvCache::new(model.config(), 128);
    let mut s = model.scratch(64, 128, 1, 2);
    let mut logits = model.eval(prompt, 0, &mut cache, &mut s).unwrap().to_vec();
    let mut out = Vec::new();
    let mut sampler = model::Sampler::new(SamplerConfig::greedy(), model.config().n_vocab);
    while out.len() < n {
        let next = sampler.sample(&logits);
        if tok.is_eog(next) {
            break;
        }
        sampler.accept(next);
        out.push(next);
        let pos = prompt.len() + out.len() - 1;
        logits = model
            .forward(&[next], pos, &mut cache, &mut s, &[0])
            .unwrap()
            .to_vec();
    }
    out
}

#[test]
fn concurrent_requests_get_what_each_gets_alone() {
    let path = gemma();
    let engine = Engine::start(&path, config(4)).unwrap();
    let prompts = [
        "The capital of France is",
        "def fibonacci(n):",
        "La tour Eiffel a été construite en",
        "Once upon a time",
        "SELECT name FROM",
    ];
    let encoded: Vec<Vec<u32>> = prompts
        .iter()
        .map(|p| engine.tokenizer().encode(p, true, true))
        .collect();
    // Five requests on four slots: one waits, then joins mid-flight.
    let streams: Vec<_> = encoded
        .iter()
        .map(|p| engine.submit(Request::greedy(p.clone(), 16)).unwrap())
        .collect();
    for (p, stream) in encoded.iter().zip(streams) {
        let (tokens, summary) = stream.blocking_collect().unwrap();
        let ids: Vec<u32> = tokens.iter().map(|t| t.id).collect();
        assert_eq!(ids, reference(&path, p, 16), "prompt {p:?}");
        let text: String = tokens.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(text, summary.text);
        assert_eq!(summary.completion_tokens, ids.len());
        assert_eq!(summary.prompt_tokens, p.len());
        assert!(summary.energy.joules > 0.0);
    }
    let m = engine.metrics().snapshot();
    assert_eq!(m.requests_finished, 5);
    assert_eq!(
        m.prompt_tokens_total,
        encoded.iter().map(Vec::len).sum::<usize>() as u64
    );
    assert!(m.ttft_seconds.count == 5 && m.itl_seconds.count > 0);
}

#[test]
fn refuses_what_it_cannot_serve() {
    let engine = Engine::start(&gemma(), config(1)).unwrap();
    assert_eq!(
        engine.submit(Request::greedy(vec![], 4)).unwrap_err(),
        SubmitError::EmptyPrompt
    );
    let long = vec![2u32; 128];
    assert_eq!(
        engine.submit(Request::greedy(long, 4)).unwrap_err(),
        SubmitError::ContextOverflow {
            prompt: 128,
            n_ctx: 128
        }
    );
    assert!(matches!(
        engine.submit(Request::greedy(vec![2, u32::MAX], 4)).unwrap_err(),
        SubmitError::BadToken { .. }
    ));
    // max_tokens beyond the context is clamped to what the context leaves.
    let prompt = vec![2u32; 120];
    let (tokens, summary) = engine
        .submit(Request::greedy(prompt, 1000))
        .unwrap()
        .blocking_collect()
        .unwrap();
    assert!(tokens.len() <= 8, "{} tokens past a context of 128", tokens.len());
    if tokens.len() == 8 {
        assert_eq!(summary.finish_reason, FinishReason::Length);
    }
}

#[test]
fn a_full_queue_refuses_and_a_dropped_stream_frees_its_slot() {
    let cfg = EngineConfig {
        queue: 2,
        ..config(1)
    };
    let engine = Engine::start(&gemma(), cfg).unwrap();
    let p = engine.tokenizer().encode("Once upon a time", true, true);
    let mut running = engine.submit(Request::greedy(p.clone(), 100)).unwrap();
    // Wait until it runs, so the next two only queue.
    assert!(matches!(running.blocking_recv(), Some(Event::Token(_))));
    let q1 = engine.submit(Request::greedy(p.clone(), 100)).unwrap();
    let q2 = engine.submit(Request::greedy(p.clone(), 100)).unwrap();
    assert!(matches!(
        engine.submit(Request::greedy(p.clone(), 100)).unwrap_err(),
        SubmitError::QueueFull { .. }
    ));
    drop((q1, q2));
    drop(running);
    let t = Instant::now();
    loop {
        let m = engine.metrics().snapshot();
        if m.requests_running == 0 && m.requests_queued == 0 {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(1), "still running: {m:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn stop_strings_end_the_text_before_them() {
    // The scripted engine runs no model; Gemma's file gives the tokenizer.
    let path = gemma();
    let file = gguf::GgufFile::open(&path).unwrap();
    let tok = tokenizer::Tokenizer::from_metadata(file.metadata()).unwrap();
    let script = tok.encode("Hello world. The end is near.", false, false);
    let engine = Engine::scripted(&path, script.clone(), config(2)).unwrap();
    let mut req = Request::greedy(vec![2, 9259], 100);
    req.stop = vec![" end".into()];
    let (tokens, s) = engine.submit(req).unwrap().blocking_collect().unwrap();
    assert_eq!(s.text, "Hello world. The");
    assert_eq!(s.finish_reason, FinishReason::Stop);
    let streamed: String = tokens.iter().map(|t| t.text.as_str()).collect();
    assert_eq!(streamed, s.text);
    // Without a stop string the script runs to its end (then EOS).
    let (_, s) = engine
        .submit(Request::greedy(vec![2], 100))
        .unwrap()
        .blocking_collect()
        .unwrap();
    assert_eq!(s.text, "Hello world. The end is near.");
    assert_eq!(
        (s.finish_reason, s.completion_tokens),
        (FinishReason::Stop, script.len())
    );
    // And max_tokens cuts it.
    let (_, s) = engine
        .submit(Request::greedy(vec![2], 2))
        .unwrap()
        .blocking_collect()
        .unwrap();
    assert_eq!((s.finish_reason, s.completion_tokens), (FinishReason::Length, 2));
}

#[test]
fn logprobs_are_a_distribution() {
    let engine = Engine::start(&gemma(), config(1)).unwrap();
    let p = engine.tokenizer().encode("The capital of France is", true, true);
    let mut req = Request::greedy(p, 3);
    req.logprobs = Some(50);
    let (tokens, _) = engine.submit(req).unwrap().blocking_collect().unwrap();
    for t in tokens {
        let lp = t.logprob.unwrap();
        assert_eq!(lp.top.len(), 20, "capped at 20");
        assert_eq!(lp.top[0].id, t.id, "greedy picks the most likely");
        assert!((lp.top[0].logprob - lp.logprob).abs() < 1e-6);
        assert!(lp.top.windows(2).all(|w| w[0].logprob >= w[1].logprob));
        let mass: f32 = lp.top.iter().map(|x| x.logprob.exp()).sum();
        assert!(mass <= 1.0 + 1e-4 && lp.logprob <= 0.0);
    }
}
