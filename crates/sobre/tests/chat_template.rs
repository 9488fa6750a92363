//! `sobre chat-template` on the real model files, against the Jinja2
//! goldens of tools/make_chat_goldens.py.

mod common;

#[test]
fn deepseek_template_from_the_cut_off_file_renders_as_hugging_face_does() {
    let g: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(common::root().join("tests/data/chat/goldens.json")).unwrap(),
    )
    .unwrap();
    let case = g["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| {
            c["template"] == "deepseek-r1-qwen"
                && c["add_generation_prompt"] == true
                && c["messages"].as_array().unwrap().len() == 3
        })
        .expect("golden case");
    let dir = tempfile::tempdir().unwrap();
    let msgs = dir.path().join("m.json");
    std::fs::write(&msgs, case["messages"].to_string()).unwrap();
    let out = sobre!(
        "chat-template",
        common::model(common::DEEPSEEK_PART),
        "--messages",
        msgs
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // The goldens use "<BOS>"; the file's BOS token is DeepSeek's own.
    let want = case["expected"]
        .as_str()
        .unwrap()
        .replace("<BOS>", "<｜begin▁of▁sentence｜>");
    assert_eq!(String::from_utf8_lossy(&out.stdout), want);
    assert!(want.ends_with("<｜Assistant｜>"));
}

#[test]
fn gemma_base_uses_the_builtin_turn_format() {
    let dir = tempfile::tempdir().unwrap();
    let msgs = dir.path().join("m.json");
    std::fs::write(&msgs, r#"{"messages": [{"role": "user", "content": "Bonjour"}]}"#).unwrap();
    let out = sobre!("chat-template", common::model(common::GEMMA), "--messages", &msgs);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "<bos><start_of_turn>user\nBonjour<end_of_turn>\n<start_of_turn>model\n"
    );
    let out = sobre!(
        "chat-template",
        common::model(common::GEMMA),
        "--messages",
        &msgs,
        "--no-generation-prompt"
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "<bos><start_of_turn>user\nBonjour<end_of_turn>\n"
    );
}

#[test]
fn bad_message_files_get_one_line() {
    let dir = tempfile::tempdir().unwrap();
    for (body, needle) in [
        ("not json", "not valid JSON"),
        (r#"{"msgs": []}"#, "no \"messages\" list"),
        (r#"[{"content": "x"}]"#, "role"),
    ] {
        let msgs = dir.path().join("m.json");
        std::fs::write(&msgs, body).unwrap();
        let out = sobre!("chat-template", common::model(common::GEMMA), "--messages", msgs);
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(needle) && err.trim_end().lines().count() == 1,
            "{err}"
        );
    }
}
