//! Helpers shared by the command-line tests: paths to the test models, running
//! the real binary, reading .npy files.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A test model fetched by `scripts/fetch-models`. Missing models fail the
/// test with the command that fetches them: CI always has them.
pub fn model(name: &str) -> PathBuf {
    let dir = std::env::var_os("SOBRE_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| home().join(".cache/sobre/models"));
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "test model {} is missing: run scripts/fetch-models",
        path.display()
    );
    path
}

fn home() -> PathBuf {
    std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default()
}

pub const GEMMA: &str = "gemma-3-270m-q4_k_m.gguf";
pub const DEEPSEEK_PART: &str = "deepseek-r1-distill-qwen-7b-q4_k_m.part0000.gguf";

pub fn sobre(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sobre"))
        .args(args)
        .output()
        .expect("run sobre")
}

/// Runs sobre with string-ish arguments.
#[macro_export]
macro_rules! sobre {
    ($($arg:expr),* $(,)?) => {
        common::sobre(&[$(std::ffi::OsStr::new(&$arg)),*])
    };
}

/// Reads a little-endian f32 .npy (format 1.0): (shape, values).
pub fn read_npy(path: &Path) -> (Vec<u64>, Vec<f32>) {
    let bytes = std::fs::read(path).expect("read npy");
    assert_eq!(&bytes[..8], b"\x93NUMPY\x01\x00", "npy magic/version");
    let hlen = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = std::str::from_utf8(&bytes[10..10 + hlen]).expect("utf8 header");
    assert!(header.contains("'descr': '<f4'"), "{header}");
    assert!(header.contains("'fortran_order': False"), "{header}");
    let start = header.find("'shape': (").expect("shape") + 10;
    let end = start + header[start..].find(')').expect("shape end");
    let shape = header[start..end]
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().expect("dim"))
        .collect();
    let values = bytes[10 + hlen..]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    (shape, values)
}
