//! What `sobre pull SOURCE` may be given, parsed before anything is touched.

use std::path::{Path, PathBuf};

use crate::alias::{find_alias, Alias};
use crate::error::{Result, StoreError};

/// Hugging Face's public endpoint; `HF_ENDPOINT` replaces it (mirrors,
/// air-gapped proxies, tests), as the `huggingface_hub` library does.
pub const DEFAULT_HF_ENDPOINT: &str = "https://huggingface.co";

/// A pull source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Url(String),
    Hf(HfRef),
    Alias(&'static Alias),
    Local(PathBuf),
}

/// `hf:owner/repo[@revision]/path/to/file.gguf`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HfRef {
    pub owner: String,
    pub repo: String,
    pub revision: String,
    pub file: String,
}

fn invalid(spec: &str, reason: impl Into<String>) -> StoreError {
    StoreError::InvalidSource {
        spec: spec.to_string(),
        reason: reason.into(),
    }
}

/// URL path segments we build must need no escaping and must not climb.
fn safe_segment(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'+'))
}

impl HfRef {
    pub fn parse(spec: &str) -> Result<HfRef> {
        let rest = spec
            .strip_prefix("hf:")
            .ok_or_else(|| invalid(spec, "a Hugging Face reference starts with `hf:`"))?;
        let mut parts = rest.splitn(3, '/');
        let (Some(owner), Some(repo_rev), Some(file)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(invalid(spec, "expected hf:owner/repo/file.gguf"));
        };
        let (repo, revision) = match repo_rev.split_once('@') {
            Some((repo, rev)) => (repo, rev),
            None => (repo_rev, "main"),
        };
        if ![owner, repo, revision].iter().all(|s| safe_segment(s)) || !file.split('/').all(safe_segment) {
            return Err(invalid(
                spec,
                "owner, repository and file may hold only letters, digits, `.`, `_`, `-`, `+`",
            ));
        }
        Ok(HfRef {
            owner: owner.to_string(),
            repo: repo.to_string(),
            revision: revision.to_string(),
            file: file.to_string(),
        })
    }

    /// The download URL under `endpoint` (no trailing slash).
    pub fn url_at(&self, endpoint: &str) -> String {
        format!(
            "{}/{}/{}/resolve/{}/{}",
            endpoint.trim_end_matches('/'),
            self.owner,
            self.repo,
            self.revision,
            self.file
        )
    }

    /// The download URL under `HF_ENDPOINT` or the public hub.
    pub fn url(&self) -> String {
        let endpoint = std::env::var("HF_ENDPOINT")
            .ok()
            .filter(|e| !e.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_HF_ENDPOINT.to_string());
        self.url_at(&endpoint)
    }
}

impl Source {
    /// URL, then `hf:`, then a known alias, then an existing file: aliases
    /// come before files so that what `gemma3:270m` means does not depend on
    /// the current folder.
    pub fn parse(spec: &str) -> Result<Source> {
        if spec.starts_with("https://") || spec.starts_with("http://") {
            if spec.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(invalid(spec, "a URL may not contain spaces"));
            }
            return Ok(Source::Url(spec.to_string()));
        }
        if spec.starts_with("hf:") {
            return HfRef::parse(spec).map(Source::Hf);
        }
        if let Some(alias) = find_alias(spec) {
            return Ok(Source::Alias(alias));
        }
        let path = Path::new(spec);
        if path.is_file() {
            let abs = std::fs::canonicalize(path).map_err(|e| invalid(spec, e.to_string()))?;
            return Ok(Source::Local(abs));
        }
        Err(invalid(
            spec,
            "not an http(s) URL, an hf:owner/repo/file.gguf reference, a known model \
             alias or an existing file",
        ))
    }

    /// The name a pull stores under when `--name` is not given.
    pub fn default_name(&self) -> Option<String> {
        let stem = |file: &str| -> String {
            let base = file.rsplit('/').next().unwrap_or(file);
            let base = base.strip_suffix(".gguf").unwrap_or(base);
            base.to_string()
        };
        match self {
            Source::Alias(alias) => Some(alias.name.to_string()),
            Source::Hf(r) => Some(stem(&r.file)),
            Source::Url(url) => {
                let path = url.split(['?', '#']).next().unwrap_or(url);
                let path = path.split_once("://").map_or(path, |(_, rest)| rest);
                let (_, path) = path.split_once('/')?;
                Some(stem(path)).filter(|s| !s.is_empty())
            }
            Source::Local(path) => path.file_name().and_then(|n| n.to_str()).map(stem),
        }
    }

    /// What the manifest records as the source.
    pub fn describe(&self) -> String {
        match self {
            Source::Url(url) => url.clone(),
            Source::Hf(r) => format!(
                "hf:{}/{}{}/{}",
                r.owner,
                r.repo,
                if r.revision == "main" {
                    String::new()
                } else {
                    format!("@{}", r.revision)
                },
                r.file
            ),
            Source::Alias(alias) => alias.hf.to_string(),
            Source::Local(path) => path.display().to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hf_refs() -> Result<()> {
        let r = HfRef::parse("hf:owner/repo/sub/file.gguf")?;
        assert_eq!(
            r.url_at("http://127.0.0.1:9/"),
            "http://127.0.0.1:9/owner/repo/resolve/main/sub/file.gguf"
        );
        let r = HfRef::parse("hf:o/r@v1.0/f.gguf")?;
        assert_eq!(r.url_at("https://h"), "https://h/o/r/resolve/v1.0/f.gguf");
        for bad in [
            "hf:o/r",
            "hf:o/../f",
            "hf:o/r/../../x",
            "hf:o/r/a b",
            "hf:/r/f",
            "hf:o/r/f?x=1",
        ] {
            assert!(HfRef::parse(bad).is_err(), "{bad}");
        }
        Ok(())
    }

    #[test]
    fn sources_and_default_names() -> Result<()> {
        let s = Source::parse("https://example.org/m/tiny.gguf?download=1")?;
        assert_eq!(s.default_name().as_deref(), Some("tiny"));
        assert_eq!(Source::parse("http://h")?.default_name(), None);
        let s = Source::parse("hf:o/r@dev/x/Model-Q4_K_M.gguf")?;
        assert_eq!(s.default_name().as_deref(), Some("Model-Q4_K_M"));
        assert_eq!(s.describe(), "hf:o/r@dev/x/Model-Q4_K_M.gguf");
        let s = Source::parse("gemma3:270m")?;
        assert_eq!(s.default_name().as_deref(), Some("gemma3:270m"));
        assert!(Source::parse("no-such-file-or-alias").is_err());
        assert!(Source::parse("ftp://x/y").is_err());
        Ok(())
    }
}
