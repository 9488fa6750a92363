//! The model store: content-addressed GGUF files, a manifest of names, and
//! verified, resumable downloads (`sobre pull`, `list`, `rm`, `show`).
//!
//! Guarantees, because a model file is code-adjacent input (Ollama's
//! CVE-2024-37032 came from an unchecked digest used as a path):
//! - names and digests are validated before any path is built from them;
//!   blob paths are derived from digests only, never read from the manifest;
//! - every pulled file is hashed while it streams in (never held in memory),
//!   checked against the expected sha256 when one is known, and always
//!   recorded; a name re-pulled from the same source is checked against the
//!   hash recorded the first time;
//! - bytes land in `tmp/` and are renamed into `blobs/` only once verified,
//!   and the manifest is replaced atomically under a lock: a failed, cut or
//!   mismatched pull leaves the manifest and blobs as they were (a cut
//!   download keeps its `tmp/*.partial` so the next pull resumes it);
//! - nothing is fetched unless asked: [`Store::resolve`] never downloads.

mod alias;
mod error;
mod fetch;
mod manifest;
mod name;
mod pypi;
mod source;
mod store;
mod summary;

pub use alias::{find_alias, Alias, PypiMirror, ALIASES, GEMMA3_270M_PYPI};
pub use error::{Result, StoreError};
pub use fetch::{sha256_file, Fetched};
pub use manifest::{Entry, Manifest, MANIFEST_VERSION};
pub use name::{is_digest, parse_digest, validate_digest, validate_name, MAX_NAME_LEN};
pub use pypi::PIP_ENV;
pub use source::{HfRef, Source, DEFAULT_HF_ENDPOINT};
pub use store::{default_root, Listed, Mirror, PullOptions, Pulled, Store, HOME_ENV};
pub use summary::{file_type_name, quantization, Summary};
