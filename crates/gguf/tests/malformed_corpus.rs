//! The malformed GGUF corpus on disk (tests/data/malformed, written by
//! tools/make_malformed_gguf.py after llama.cpp's test-gguf.cpp and the GGUF
//! loader CVEs): every file must be refused with one line that names the
//! problem, never a panic, a huge allocation or a hang.
//!
//! `expected.tsv` says, per file, whether opening it fails (`open`) or only
//! reading its tensor data does (`data`: the header is whole, the weights are
//! cut off, which metadata-only work must still accept), and a fragment the
//! message must contain.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use gguf::{GgufError, GgufFile};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/malformed")
}

/// file name -> (when, fragment)
fn expected() -> BTreeMap<String, (String, String)> {
    let text = std::fs::read_to_string(corpus_dir().join("expected.tsv")).expect("expected.tsv");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let mut parts = l.splitn(3, '\t');
            let (Some(file), Some(when), Some(fragment)) = (parts.next(), parts.next(), parts.next()) else {
                panic!("bad line in expected.tsv: {l:?}");
            };
            (file.to_string(), (when.to_string(), fragment.to_string()))
        })
        .collect()
}

/// Opens `path` and reads every tensor; the first error, if any, and where.
fn first_error(path: &Path) -> Option<(&'static str, GgufError)> {
    let file = match GgufFile::open(path) {
        Ok(f) => f,
        Err(e) => return Some(("open", e)),
    };
    // Interpreting what opened must not panic either.
    let _ = (file.n_params(), file.architecture(), file.metadata().len());
    for t in file.tensors() {
        if let Err(e) = file.tensor_data(t) {
            return Some(("data", e));
        }
    }
    None
}

#[test]
fn every_malformed_file_gets_a_clean_one_line_error() {
    let expected = expected();
    let mut on_disk: Vec<String> = std::fs::read_dir(corpus_dir())
        .expect("tests/data/malformed")
        .map(|e| e.expect("dir entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".gguf"))
        .collect();
    on_disk.sort();
    assert!(on_disk.len() >= 30, "only {} malformed files", on_disk.len());
    let listed: Vec<&String> = expected.keys().collect();
    assert_eq!(
        on_disk.iter().collect::<Vec<_>>(),
        listed,
        "files on disk and expected.tsv disagree: rerun tools/make_malformed_gguf.py"
    );

    let mut failures = Vec::new();
    for name in &on_disk {
        let path = corpus_dir().join(name);
        let size = std::fs::metadata(&path).expect("stat").len();
        assert!(size < 4096, "{name} is {size} bytes; the corpus stays small");
        let (when, fragment) = &expected[name];
        let start = Instant::now();
        let got = first_error(&path);
        let elapsed = start.elapsed();
        if elapsed > Duration::from_secs(1) {
            failures.push(format!("{name}: took {elapsed:?}"));
        }
        let Some((stage, err)) = got else {
            failures.push(format!("{name}: no error"));
            continue;
        };
        let msg = err.to_string();
        if stage != when {
            failures.push(format!("{name}: failed on {stage}, expected on {when}: {msg}"));
        }
        if msg.contains('\n') || msg.trim().is_empty() {
            failures.push(format!("{name}: message is not one line: {msg:?}"));
        }
        if !msg.contains(fragment.as_str()) {
            failures.push(format!("{name}: {msg:?} does not contain {fragment:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The same files through `from_bytes`, byte for byte: the in-memory path
/// gives the same verdict as the mapped one.
#[test]
fn from_bytes_agrees_with_open() {
    for (name, (when, _)) in expected() {
        let bytes = std::fs::read(corpus_dir().join(&name)).expect("read");
        match (GgufFile::from_bytes(bytes), when.as_str()) {
            (Err(_), "open") => {}
            (Ok(f), "data") => assert!(
                f.tensors().iter().any(|t| f.tensor_data(t).is_err()),
                "{name}: every tensor read"
            ),
            (got, _) => panic!("{name}: expected failure on {when}, got {got:?}"),
        }
    }
}
