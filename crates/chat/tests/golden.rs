//! Chat templates rendered as Hugging Face renders them: goldens from Jinja2
//! configured like transformers' `apply_chat_template`
//! (tools/make_chat_goldens.py), including the DeepSeek-R1 template from the
//! model file and sobre's built-in formats.

use chat::{ChatError, ChatTemplate, RenderOptions};
use serde_json::Value;

fn goldens() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/chat/goldens.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("goldens")).expect("json")
}

#[test]
fn builtins_in_the_goldens_are_the_shipped_ones() {
    let g = goldens();
    assert_eq!(
        g["templates"]["builtin-gemma"],
        ChatTemplate::builtin("gemma3").source()
    );
    assert_eq!(
        g["templates"]["builtin-chatml"],
        ChatTemplate::builtin("qwen2").source()
    );
    assert_eq!(
        ChatTemplate::builtin("llama").source(),
        ChatTemplate::builtin("qwen2").source()
    );
}

#[test]
fn every_golden_renders_identically() {
    let g = goldens();
    let cases = g["cases"].as_array().unwrap();
    assert!(cases.len() >= 80);
    let mut failures = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let name = case["template"].as_str().unwrap();
        let tmpl = ChatTemplate::new(g["templates"][name].as_str().unwrap()).expect("compiles");
        let opts = RenderOptions {
            add_generation_prompt: case["add_generation_prompt"].as_bool().unwrap(),
            bos_token: case["bos_token"].as_str().unwrap().into(),
            eos_token: case["eos_token"].as_str().unwrap().into(),
            strip_bos: false,
        };
        let got = tmpl.render(&case["messages"], &opts);
        match (&got, case.get("expected")) {
            (Ok(text), Some(want)) if want == text => {}
            (Err(ChatError::Raised(msg)), None) if name == "raises" => {
                assert_eq!(msg, "tools are not supported by this template");
            }
            (Err(_), None) => {}
            _ => failures.push(format!(
                "case {i} ({name}): got {got:?}, want {:?}",
                case.get("expected")
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn strip_bos_removes_only_a_leading_bos() {
    let t = ChatTemplate::builtin("gemma3");
    let msgs = serde_json::json!([{"role": "user", "content": "hi"}]);
    let opts = RenderOptions {
        add_generation_prompt: true,
        bos_token: "<bos>".into(),
        eos_token: "<eos>".into(),
        strip_bos: true,
    };
    assert_eq!(
        t.render(&msgs, &opts).unwrap(),
        "<start_of_turn>user\nhi<end_of_turn>\n<start_of_turn>model\n"
    );
}

#[test]
fn bad_messages_are_named() {
    let t = ChatTemplate::builtin("qwen2");
    let opts = RenderOptions::default();
    for (msgs, needle) in [
        (serde_json::json!({"role": "user"}), "must be a list"),
        (serde_json::json!(["hi"]), "message 0 is not an object"),
        (serde_json::json!([{"content": "x"}]), "no string \"role\""),
        (
            serde_json::json!([{"role": "user", "content": 5}]),
            "content must be",
        ),
        (
            serde_json::json!([{"role": "user", "content": [{"type": "image_url"}]}]),
            "image_url",
        ),
    ] {
        let e = t.render(&msgs, &opts).unwrap_err();
        assert!(matches!(e, ChatError::BadMessages(_)), "{e}");
        assert!(e.to_string().contains(needle), "{e} lacks {needle}");
    }
    let parts = serde_json::json!([{"role": "user", "content": [
        {"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}]);
    assert_eq!(
        t.render(&parts, &opts).unwrap(),
        "<|im_start|>user\nab<|im_end|>\n"
    );
}
