//! Tokenizer metadata comes from the model file: names printed in errors
//! must not break the one-line message (or drive a terminal) with newlines
//! and escape sequences, and lengths that disagree are errors.

use gguf::{Array, Metadata, Value, ValueType};
use tokenizer::{Tokenizer, TokenizerError};

fn vocab(model: &str, pre: Option<&str>) -> Metadata {
    let mut md = Metadata::new();
    md.insert("tokenizer.ggml.model", Value::String(model.into()));
    if let Some(p) = pre {
        md.insert("tokenizer.ggml.pre", Value::String(p.into()));
    }
    md.insert(
        "tokenizer.ggml.tokens",
        Value::Array(
            Array::new(
                ValueType::String,
                vec![Value::String("a".into()), Value::String("b".into())],
            )
            .unwrap(),
        ),
    );
    md.insert(
        "tokenizer.ggml.merges",
        Value::Array(Array::new(ValueType::String, vec![Value::String("a b".into())]).unwrap()),
    );
    md
}

#[test]
fn names_from_the_file_stay_on_one_line() {
    let hostile = "x\nerror: forged line\u{1b}[31m";
    for md in [vocab(hostile, None), vocab("gpt2", Some(hostile))] {
        let err = Tokenizer::from_metadata(&md).expect_err("unsupported");
        assert!(
            matches!(
                err,
                TokenizerError::UnsupportedModel(_) | TokenizerError::UnsupportedPreTokenizer(_)
            ),
            "{err}"
        );
        let msg = err.to_string();
        assert!(!msg.contains('\n') && !msg.contains('\u{1b}'), "{msg:?}");
        assert!(msg.contains("x\\nerror: forged line\\u{1b}[31m"), "{msg}");
    }
}

#[test]
fn short_score_and_type_arrays_are_errors() {
    for key in ["tokenizer.ggml.scores", "tokenizer.ggml.token_type"] {
        let mut md = vocab("llama", None);
        md.insert(
            key,
            Value::Array(Array::new(ValueType::F32, vec![Value::F32(0.0)]).unwrap()),
        );
        let err = Tokenizer::from_metadata(&md).expect_err("one value for two tokens");
        assert!(matches!(err, TokenizerError::BadKey { .. }), "{key}: {err}");
    }
}
