//! A reasoning model (DeepSeek-R1 distill's template and tokenizer, scripted
//! answer): `<think>` text goes to `reasoning_content` / `thinking`, the
//! rest to `content`, streamed or not; other models' text is all content.

mod common;

use axum::http::StatusCode;
use common::*;
use serde_json::Value;

const ASK: &str = r#""messages": [{"role": "user", "content": "What is 2+2?"}]"#;

#[tokio::test]
async fn openai_chat_splits_reasoning() {
    let app = deepseek_app();
    let (status, v) = call(&app, "/v1/chat/completions", &format!("{{{ASK}}}")).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let m = &v["choices"][0]["message"];
    assert_eq!(m["role"], "assistant");
    assert_eq!(m["content"], "The answer is 4.");
    assert_eq!(m["reasoning_content"], "\nLet me think.\n");
    assert_eq!(m["reasoning"], m["reasoning_content"]);
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    let u = &v["usage"];
    assert_eq!(
        u["total_tokens"],
        u["prompt_tokens"].as_u64().unwrap() + u["completion_tokens"].as_u64().unwrap()
    );
    assert_eq!(u["completion_tokens"], 14);
    for k in ["joules", "source", "gco2e", "grid_gco2e_per_kwh"] {
        assert!(u["energy"].get(k).is_some(), "{k}: {v}");
    }
    assert!(v["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert!(v["created"].as_u64().unwrap() > 1_600_000_000);
    assert!(v["timings"]["predicted_n"].is_number(), "{v}");
}

#[tokio::test]
async fn openai_chat_stream_splits_reasoning_the_same_way() {
    let app = deepseek_app();
    let body = format!(r#"{{{ASK}, "stream": true, "stream_options": {{"include_usage": true}}}}"#);
    let resp = send(&app, post("/v1/chat/completions", body)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let events = sse_events(&bytes(resp).await);
    assert_eq!(events.last().unwrap(), &Value::String("[DONE]".into()));
    let chunks = &events[..events.len() - 1];
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let (mut reasoning, mut content, mut alias) = (String::new(), String::new(), String::new());
    let mut finish = Vec::new();
    for c in chunks {
        assert_eq!(c["object"], "chat.completion.chunk");
        assert_eq!(c["id"], chunks[0]["id"]);
        if let Some(choice) = c["choices"].get(0) {
            let d = &choice["delta"];
            reasoning += d["reasoning_content"].as_str().unwrap_or("");
            alias += d["reasoning"].as_str().unwrap_or("");
            content += d["content"].as_str().unwrap_or("");
            assert!(!content.contains("<think>") && !reasoning.contains("</think>"));
            if !choice["finish_reason"].is_null() {
                finish.push(choice["finish_reason"].clone());
            }
        }
    }
    assert_eq!(reasoning, "\nLet me think.\n");
    assert_eq!(alias, reasoning);
    assert_eq!(content, "The answer is 4.");
    assert_eq!(finish, vec![Value::from("stop")]);
    let last = &chunks[chunks.len() - 1];
    assert_eq!(last["choices"], Value::Array(vec![]));
    assert_eq!(last["usage"]["completion_tokens"], 14);
    assert!(last["usage"]["energy"]["joules"].is_number());
}

#[tokio::test]
async fn ollama_chat_gives_thinking() {
    let app = deepseek_app();
    let (status, v) = call(
        &app,
        "/api/chat",
        &format!(r#"{{"model": "deepseek", {ASK}, "stream": false}}"#),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["message"]["content"], "The answer is 4.");
    assert_eq!(v["message"]["thinking"], "\nLet me think.\n");
    assert_eq!(v["done"], true);

    let resp = send(
        &app,
        post("/api/chat", format!(r#"{{"model": "deepseek:latest", {ASK}}}"#)),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body = String::from_utf8(bytes(resp).await).unwrap();
    let lines: Vec<Value> = body.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let thinking: String = lines
        .iter()
        .filter_map(|l| l["message"]["thinking"].as_str())
        .collect();
    let content: String = lines
        .iter()
        .filter_map(|l| l["message"]["content"].as_str())
        .collect();
    assert_eq!(thinking, "\nLet me think.\n");
    assert_eq!(content, "The answer is 4.");
}

#[tokio::test]
async fn reasoning_sent_back_is_stripped_by_the_template() {
    // The DeepSeek template keeps only what follows </think> in past answers;
    // the prompt is then shorter than with the reasoning left in.
    let app = deepseek_app();
    let with = |assistant: &str| {
        format!(
            r#"{{"messages": [{{"role": "user", "content": "2+2?"}}, {{"role": "assistant", "content": "{assistant}"}}, {{"role": "user", "content": "3+3?"}}], "max_tokens": 1}}"#
        )
    };
    let (_, a) = call(
        &app,
        "/v1/chat/completions",
        &with("<think>\\nlong thoughts here\\n</think>\\n\\n4."),
    )
    .await;
    let (_, b) = call(&app, "/v1/chat/completions", &with("\\n\\n4.")).await;
    assert_eq!(
        a["usage"]["prompt_tokens"], b["usage"]["prompt_tokens"],
        "{a}\n{b}"
    );
}

#[tokio::test]
async fn completions_and_non_reasoning_models_are_all_content() {
    // Raw completions are never split.
    let app = deepseek_app();
    let (status, v) = call(&app, "/v1/completions", r#"{"prompt": "2+2="}"#).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["choices"][0]["text"], REASONING_ANSWER);
    assert_eq!(v["object"], "text_completion");
    assert!(v["id"].as_str().unwrap().starts_with("cmpl-"));

    // Gemma has no <think>: its text is content even if it contains the tag.
    let engine = scripted(GEMMA, "<think>not a tag here</think> ok", config(1, 256, 4));
    let app = server::router(server::AppState::new(engine, options("gemma")));
    let (_, v) = call(&app, "/v1/chat/completions", &format!("{{{ASK}}}")).await;
    let m = &v["choices"][0]["message"];
    assert_eq!(m["content"], "<think>not a tag here</think> ok");
    assert!(m.get("reasoning_content").is_none(), "{v}");
}
