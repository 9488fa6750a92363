//! The manifest: which name points at which file. One small JSON file,
//! replaced atomically (temporary file, fsync, rename, fsync of the folder)
//! so a crash or a full disk leaves either the old or the new one, never half.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{io_path, Result, StoreError};
use crate::name::{validate_digest, validate_name};

/// Current manifest format.
pub const MANIFEST_VERSION: u32 = 1;

/// One pulled model. Its file is never read from here: it is always derived
/// from the validated digest, so an edited manifest cannot point elsewhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Lowercase hex sha256 of the file.
    pub sha256: String,
    /// File size in bytes.
    pub bytes: u64,
    /// Where it came from, as the user gave it (URL, `hf:` reference, alias
    /// source, absolute local path, `pypi:` package).
    pub source: String,
    /// The file under the store root, for people reading the manifest.
    pub file: String,
    /// When it was pulled (RFC 3339, UTC).
    pub pulled_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub architecture: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantization: Option<String>,
}

/// Names to entries, sorted by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub version: u32,
    #[serde(default)]
    pub models: BTreeMap<String, Entry>,
}

impl Default for Manifest {
    fn default() -> Self {
        Manifest {
            version: MANIFEST_VERSION,
            models: BTreeMap::new(),
        }
    }
}

impl Manifest {
    /// Reads `path`; a missing file is an empty store. Every name and digest
    /// is checked, so later code may build paths from them.
    pub fn load(path: &Path) -> Result<Manifest> {
        let text = match fs::read_to_string(path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Manifest::default()),
            Err(err) => return Err(io_path("reading", path)(err)),
        };
        let corrupt = |message: String| StoreError::Manifest {
            path: path.to_path_buf(),
            message,
        };
        let manifest: Manifest = serde_json::from_str(&text).map_err(|e| corrupt(e.to_string()))?;
        if manifest.version != MANIFEST_VERSION {
            return Err(corrupt(format!(
                "format version {} is not {MANIFEST_VERSION}; a newer sobre wrote it",
                manifest.version
            )));
        }
        for (name, entry) in &manifest.models {
            validate_name(name).map_err(|e| corrupt(e.to_string()))?;
            validate_digest(&entry.sha256).map_err(|e| corrupt(format!("{name}: {e}")))?;
        }
        Ok(manifest)
    }

    /// Writes the manifest to `path` atomically, through a temporary file in
    /// `tmp_dir` (which must be on the same file system).
    pub fn save(&self, path: &Path, tmp_dir: &Path) -> Result<()> {
        let mut text = serde_json::to_string_pretty(self).map_err(|e| StoreError::Manifest {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        text.push('\n');
        let tmp = tmp_dir.join(format!("manifest.{}.json.tmp", std::process::id()));
        let result = (|| {
            let mut file = File::create(&tmp).map_err(io_path("creating", &tmp))?;
            file.write_all(text.as_bytes())
                .map_err(io_path("writing", &tmp))?;
            file.sync_all().map_err(io_path("syncing", &tmp))?;
            fs::rename(&tmp, path).map_err(io_path("replacing", path))?;
            sync_dir(path.parent().unwrap_or(Path::new(".")));
            Ok(())
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    /// True when some entry other than `except` points at `sha256`.
    pub fn references(&self, sha256: &str, except: Option<&str>) -> bool {
        self.models
            .iter()
            .any(|(name, e)| e.sha256 == sha256 && Some(name.as_str()) != except)
    }
}

/// Flushes a folder's entries (a rename is durable only then). Best effort:
/// some file systems refuse to open folders, and the data is already synced.
pub(crate) fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Where the blob with this digest lives, relative to the root. The digest
/// is checked here, where the path is built, whatever the caller checked.
pub(crate) fn blob_rel(sha256: &str) -> Result<PathBuf> {
    validate_digest(sha256)?;
    Ok(Path::new("blobs").join(format!("sha256-{sha256}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(sha: &str) -> Entry {
        Entry {
            sha256: sha.to_string(),
            bytes: 3,
            source: "x".into(),
            file: String::new(),
            pulled_at: "2026-01-01T00:00:00Z".into(),
            architecture: None,
            quantization: None,
        }
    }

    #[test]
    fn round_trip_and_validation() -> Result<()> {
        let dir = tempfile::tempdir().map_err(io_path("tempdir", Path::new(".")))?;
        let path = dir.path().join("manifest.json");
        assert_eq!(Manifest::load(&path)?, Manifest::default());
        let mut m = Manifest::default();
        m.models.insert("a".into(), entry(&"0".repeat(64)));
        m.save(&path, dir.path())?;
        assert_eq!(Manifest::load(&path)?, m);
        assert!(m.references(&"0".repeat(64), None));
        assert!(!m.references(&"0".repeat(64), Some("a")));
        // Only the manifest is left: the temporary file was renamed.
        assert_eq!(
            fs::read_dir(dir.path())
                .map_err(io_path("ls", dir.path()))?
                .count(),
            1
        );

        let bad = r#"{"version":1,"models":{"../x":{"sha256":"00","bytes":1,"source":"","file":"","pulled_at":""}}}"#;
        fs::write(&path, bad).map_err(io_path("write", &path))?;
        assert!(matches!(Manifest::load(&path), Err(StoreError::Manifest { .. })));
        let mut m2 = Manifest::default();
        m2.models.insert("a".into(), entry("../../etc/passwd"));
        fs::write(&path, serde_json::to_string(&m2).unwrap_or_default()).map_err(io_path("write", &path))?;
        assert!(matches!(Manifest::load(&path), Err(StoreError::Manifest { .. })));
        Ok(())
    }
}
