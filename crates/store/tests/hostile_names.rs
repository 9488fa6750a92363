//! Names and digests are validated everywhere a path is built from them
//! (issue #11; Ollama's CVE-2024-37032 came from a digest used as a path):
//! `../`, absolute paths, NUL bytes, overlong names and malformed digests
//! are refused before the disk is touched, from the CLI's arguments, from an
//! API's model name and from a tampered manifest alike.

use std::path::{Path, PathBuf};

use store::{validate_digest, validate_name, PullOptions, Store, StoreError, ALIASES};

const GOOD: &str = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818";

fn bad_names() -> Vec<String> {
    let mut v: Vec<String> = [
        "",
        ".",
        "..",
        "../x",
        "../../etc/passwd",
        "a/../../b",
        "/etc/passwd",
        "/tmp",
        "a/b",
        "a\\b",
        "..\\..\\windows",
        "C:\\Windows",
        ".hidden",
        "a..b",
        "a\0b",
        "\0",
        "a\nb",
        "a b",
        "a\u{2215}b",
        "a\u{FF0F}b",
        "é",
        "a%2fb",
        "~root",
        "$HOME",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.push("a".repeat(129));
    v.push("a".repeat(100_000));
    v
}

fn bad_digests() -> Vec<String> {
    vec![
        String::new(),
        "../../../../etc/passwd".into(),
        format!("../{}", &GOOD[3..]),
        format!("{}/..", &GOOD[..61]),
        GOOD.to_uppercase(),
        GOOD[1..].into(),
        format!("{GOOD}0"),
        "g".repeat(64),
        format!("{}\0", &GOOD[..63]),
        format!("sha256:{GOOD}"),
        format!("/{}", &GOOD[1..]),
    ]
}

/// A small valid GGUF to pull.
fn gguf_file(dir: &Path) -> PathBuf {
    let mut w = gguf::GgufWriter::new();
    w.add_metadata("general.architecture", gguf::Value::String("llama".into()));
    let path = dir.join("model.gguf");
    w.add_f32("t", &[4], &[1.0; 4])
        .and_then(|w| w.write_file(&path))
        .expect("writes");
    path
}

fn quiet() -> PullOptions {
    PullOptions {
        quiet: true,
        ..PullOptions::default()
    }
}

#[test]
fn every_hostile_name_is_refused() {
    for name in bad_names() {
        assert!(
            matches!(validate_name(&name), Err(StoreError::InvalidName { .. })),
            "{name:?}"
        );
    }
    assert!(validate_name(&"a".repeat(128)).is_ok());
}

#[test]
fn every_hostile_digest_is_refused() {
    assert!(validate_digest(GOOD).is_ok());
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path().join("store"));
    assert_eq!(
        store.blob_path(GOOD).expect("valid"),
        dir.path().join("store/blobs").join(format!("sha256-{GOOD}"))
    );
    for d in bad_digests() {
        assert!(
            matches!(validate_digest(&d), Err(StoreError::InvalidDigest(_))),
            "{d:?}"
        );
        assert!(store.blob_path(&d).is_err(), "blob_path({d:?})");
    }
}

/// A pull under a hostile name, or with a hostile digest, fails before the
/// store (or anything beside it) is created.
#[test]
fn pull_refuses_hostile_names_and_digests_before_touching_the_disk() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = gguf_file(dir.path());
    let spec = file.display().to_string();
    let root = dir.path().join("store");
    let store = Store::open(&root);
    for name in bad_names() {
        let opts = PullOptions {
            name: Some(name.clone()),
            ..quiet()
        };
        let err = store.pull(&spec, &opts).expect_err("refused");
        assert!(matches!(err, StoreError::InvalidName { .. }), "{name:?}: {err}");
    }
    for d in bad_digests() {
        // `sha256:` and upper case are accepted from a user; the rest is not.
        if d.eq_ignore_ascii_case(GOOD) || d == format!("sha256:{GOOD}") {
            continue;
        }
        let opts = PullOptions {
            sha256: Some(d.clone()),
            ..quiet()
        };
        let err = store.pull(&spec, &opts).expect_err("refused");
        assert!(matches!(err, StoreError::InvalidDigest(_)), "{d:?}: {err}");
    }
    assert!(!root.exists(), "a refused pull created the store");
    let mut left: Vec<_> = std::fs::read_dir(dir.path())
        .expect("ls")
        .map(|e| e.expect("entry").file_name())
        .collect();
    left.sort();
    assert_eq!(left, ["model.gguf"]);

    // And a good one still works.
    let pulled = store.pull(&spec, &quiet()).expect("pulls");
    assert_eq!(pulled.name, "model");
    assert!(pulled.path.starts_with(root.join("blobs")));
}

#[test]
fn rm_and_resolve_refuse_hostile_names() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("store");
    let store = Store::open(&root);
    store
        .pull(&gguf_file(dir.path()).display().to_string(), &quiet())
        .expect("pulls");
    // A file beside the store that `../` would reach.
    let victim = dir.path().join("victim");
    std::fs::write(&victim, b"keep me").expect("write");
    for name in bad_names() {
        assert!(store.remove(&name).is_err(), "rm {name:?}");
        assert!(
            matches!(store.resolve_name(&name), Err(StoreError::InvalidName { .. })),
            "resolve_name {name:?}"
        );
    }
    for name in ["../victim", "../../victim", "victim"] {
        assert!(store.remove(name).is_err());
    }
    assert_eq!(std::fs::read(&victim).expect("still there"), b"keep me");

    // `resolve` (the CLI's: a path that exists is itself) and `resolve_name`
    // (a store name only: what a server must use) part on an existing path.
    let path = victim.display().to_string();
    assert_eq!(store.resolve(&path).expect("a path"), victim);
    assert!(store.resolve_name(&path).is_err());
    assert!(store
        .resolve_name("model")
        .expect("pulled")
        .starts_with(root.join("blobs")));
    assert!(matches!(
        store.resolve_name("nothing-here"),
        Err(StoreError::NotFound { .. })
    ));
    // NUL cannot name a file: not found, never an I/O error on a cut path.
    assert!(matches!(
        store.resolve("model\0../../victim"),
        Err(StoreError::NotFound { .. })
    ));
}

/// A manifest edited by hand (or by another program) cannot point a name at
/// a file outside the store: every entry is checked when it is read.
#[test]
fn a_tampered_manifest_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("store");
    let store = Store::open(&root);
    store
        .pull(&gguf_file(dir.path()).display().to_string(), &quiet())
        .expect("pulls");
    let manifest = root.join("manifest.json");
    let good = std::fs::read_to_string(&manifest).expect("manifest");
    let sha = store.list().expect("list")[0].entry.sha256.clone();
    for (from, to) in [
        (sha.clone(), "../../../../etc/passwd".to_string()),
        (sha.clone(), format!("../{}", &sha[3..])),
        (sha.clone(), sha.to_uppercase()),
        ("\"model\"".to_string(), "\"../evil\"".to_string()),
        ("\"model\"".to_string(), "\"/etc/passwd\"".to_string()),
        ("\"model\"".to_string(), "\"a\\u0000b\"".to_string()),
    ] {
        std::fs::write(&manifest, good.replace(&from, &to)).expect("tamper");
        for result in [
            store.list().map(|_| ()),
            store.resolve_name("model").map(|_| ()),
            store.remove("model").map(|_| ()),
        ] {
            assert!(
                matches!(result, Err(StoreError::Manifest { .. })),
                "{to}: {result:?}"
            );
        }
    }
    std::fs::write(&manifest, good).expect("restore");
    assert_eq!(store.list().expect("list").len(), 1);
}

#[test]
fn the_alias_table_holds_only_valid_names_and_digests() {
    for a in ALIASES {
        assert!(validate_name(a.name).is_ok(), "{}", a.name);
        if let Some(sha) = a.sha256 {
            assert!(validate_digest(sha).is_ok(), "{}: {sha}", a.name);
        }
    }
}
