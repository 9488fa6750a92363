//! Model names and digests are checked before any path is built from them:
//! a name like `../../x` must never become a file outside the store (the
//! lesson of Ollama's CVE-2024-37032, where an unchecked digest did).

use crate::error::{Result, StoreError};

/// Longest accepted model name.
pub const MAX_NAME_LEN: usize = 128;

/// Accepts `[A-Za-z0-9._:-]{1,128}` with no leading dot and no `..`.
pub fn validate_name(name: &str) -> Result<()> {
    let bad = |reason| {
        Err(StoreError::InvalidName {
            name: name.to_string(),
            reason,
        })
    };
    if name.is_empty() {
        return bad("it is empty");
    }
    if name.len() > MAX_NAME_LEN {
        return bad("it is longer than 128 bytes");
    }
    if name.contains('/') || name.contains('\\') {
        return bad("it contains a path separator");
    }
    if name.starts_with('.') {
        return bad("it starts with a dot");
    }
    if name.contains("..") {
        return bad("it contains `..`");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
    {
        return bad("only letters, digits, `.`, `_`, `:` and `-` are allowed");
    }
    Ok(())
}

/// True for exactly 64 lowercase hexadecimal digits: the only digest form
/// ever put into a path.
pub fn is_digest(hex: &str) -> bool {
    hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Checks a digest read from the manifest or a table.
pub fn validate_digest(hex: &str) -> Result<()> {
    if is_digest(hex) {
        Ok(())
    } else {
        Err(StoreError::InvalidDigest(hex.to_string()))
    }
}

/// Normalises a digest typed by a user: an optional `sha256:` prefix and
/// upper case are accepted, then the result must be a valid digest.
pub fn parse_digest(input: &str) -> Result<String> {
    let trimmed = input.trim();
    let hex = trimmed.strip_prefix("sha256:").unwrap_or(trimmed);
    let hex = hex.to_ascii_lowercase();
    if is_digest(&hex) {
        Ok(hex)
    } else {
        Err(StoreError::InvalidDigest(input.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["gemma3:270m", "qwen2.5:0.5b", "a", "my-model_v1.Q4_K_M", "x.y"] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        let long = "a".repeat(129);
        for bad in [
            "", "../../x", "a/b", "a\\b", ".hidden", "a..b", "..", "sp ace", "é", "a\0b", &long,
        ] {
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
        assert!(validate_name(&"a".repeat(128)).is_ok());
    }

    #[test]
    fn digests() {
        let d = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818";
        assert!(is_digest(d));
        assert!(!is_digest(&d.to_uppercase()));
        assert!(!is_digest(&d[1..]));
        assert!(!is_digest("../../../../etc/passwd"));
        assert_eq!(parse_digest(&d.to_uppercase()).ok().as_deref(), Some(d));
        assert_eq!(parse_digest(&format!("sha256:{d}")).ok().as_deref(), Some(d));
        assert!(parse_digest("zz").is_err());
        assert!(validate_digest("g".repeat(64).as_str()).is_err());
    }
}
