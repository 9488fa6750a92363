//! A GGUF file from a stranger, and everything sobre reads from it: the
//! header, every metadata value, every tensor's bytes (dequantized when
//! small), the model configuration and weights, the tokenizer, the chat
//! template, the store's summary. Each step may fail, with a one-line error;
//! none may panic, hang or allocate far beyond the file's size.

#![no_main]

use gguf::{GgufFile, Value};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match GgufFile::from_bytes(data.to_vec()) {
        Ok(file) => interpret(&file),
        Err(e) => one_line(&e),
    }
});

/// Errors are printed as the CLI's single line: they must stay one line.
fn one_line(e: &dyn std::fmt::Display) {
    let msg = e.to_string();
    assert!(
        !msg.is_empty() && !msg.contains('\n'),
        "error message is not one line: {msg:?}"
    );
}

fn interpret(file: &GgufFile) {
    let _ = (
        file.version(),
        file.alignment(),
        file.data_offset(),
        file.file_len(),
    );
    let _ = (file.n_params(), file.architecture());
    for (key, value) in file.metadata().iter() {
        let found = file.metadata().get(key).expect("every key can be looked up");
        assert!(std::ptr::eq(found, value), "{key:?} looks up another entry");
        walk(value);
    }

    for t in file.tensors() {
        assert!(std::ptr::eq(file.tensor(&t.name).expect("by name"), t));
        let _ = (t.n_rows(), t.row_bytes(), file.absolute_offset(t));
        match file.tensor_data(t) {
            Ok(bytes) => {
                assert_eq!(bytes.len() as u64, t.n_bytes);
                // Dequantize small tensors (the kernels read blocks' scales).
                if t.n_elements <= 1 << 16 && kernels::quant::is_supported(t.ggml_type) {
                    let mut out = vec![0f32; t.n_elements as usize];
                    kernels::dequantize(t.ggml_type, bytes, &mut out).expect("lengths were validated");
                }
            }
            Err(e) => one_line(&e),
        }
    }
    if let Err(e) = file.require_tensor("no such tensor") {
        one_line(&e);
    }

    let _ = store::Summary::of(file);
    match model::Config::from_metadata(file.metadata()) {
        Ok(_) => {
            if let Err(e) = model::Model::load(file) {
                one_line(&e);
            }
        }
        Err(e) => one_line(&e),
    }

    let (bos, eos) = match tokenizer::Tokenizer::from_metadata(file.metadata()) {
        Ok(tok) => {
            exercise_tokenizer(&tok);
            let text = |id: Option<u32>| id.and_then(|i| tok.token_text(i)).unwrap_or("").to_string();
            (text(tok.bos_id()), text(tok.eos_id()))
        }
        Err(e) => {
            one_line(&e);
            (String::new(), String::new())
        }
    };

    match chat::ChatTemplate::from_metadata(file.metadata()) {
        Ok(t) => {
            let messages = serde_json::json!([
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Bonjour <think> 1+1 ?"},
                {"role": "assistant", "content": "2"},
                {"role": "user", "content": [{"type": "text", "text": "Et 2+2 ?"}]},
            ]);
            let opts = chat::RenderOptions {
                add_generation_prompt: true,
                bos_token: bos,
                eos_token: eos,
                strip_bos: true,
            };
            if let Err(e) = t.render(&messages, &opts) {
                one_line(&e);
            }
        }
        Err(e) => one_line(&e),
    }
}

fn walk(value: &Value) {
    let _ = (
        value.value_type().name(),
        value.as_i64(),
        value.as_u64(),
        value.as_f64(),
    );
    let _ = (value.as_f32(), value.as_bool(), value.as_str());
    if let Some(a) = value.as_array() {
        for v in a.iter() {
            assert_eq!(v.value_type(), a.elem_type());
            walk(&v);
        }
    }
}

fn exercise_tokenizer(tok: &tokenizer::Tokenizer) {
    let n = tok.n_vocab();
    for text in [
        "",
        "Hello, world! 123 ",
        "<start_of_turn>user\nJ'ai 2 chats 🐈 é\u{2581}x<|im_end|>",
    ] {
        for (add, parse) in [(false, false), (true, true)] {
            for id in tok.encode(text, add, parse) {
                assert!(
                    (id as usize) < n,
                    "encode gave id {id} outside the {n}-token vocabulary"
                );
            }
        }
    }
    // Every id (up to a bound), and one past the end.
    let ids: Vec<u32> = (0..n.min(4096) as u32).chain([n as u32, u32::MAX]).collect();
    for &id in &ids {
        let _ = (
            tok.piece(id, true),
            tok.token_text(id),
            tok.is_control(id),
            tok.is_eog(id),
        );
    }
    let valid = &ids[..ids.len() - 2];
    let _ = tok.decode(valid).expect("ids in range decode");
    assert!(tok.decode(&ids).is_err());
    let mut stream = tok.stream_decoder(true);
    for &id in valid {
        let _ = stream.push(id).expect("ids in range decode");
    }
    let _ = stream.finish();
}
