//! A KV cache costs memory for the positions it holds, not for the
//! context it could hold: a cache of ~200 MiB is not resident until
//! written (Linux, where the resident set can be read).

mod common;

use common::tiny;
use gguf::GgufFile;
use model::{KvCache, Model};

/// This process's resident set in KiB, from /proc.
fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn an_unwritten_cache_is_not_resident() {
    let dir = tempfile::tempdir().unwrap();
    let path = tiny::write(dir.path(), "llama", gguf::GgmlType::F32).expect("write tiny model");
    let file = GgufFile::open(&path).unwrap();
    let model = Model::load(&file).unwrap();
    let c = model.config();
    let per_pos = c.n_layer * (c.k_dim() + c.v_dim()) * 2;
    let n_ctx = (200 << 20) / per_pos;
    let Some(before) = rss_kib() else { return };
    let mut cache = KvCache::new(c, n_ctx);
    let after = rss_kib().unwrap();
    assert!(
        after.saturating_sub(before) < 16 << 10,
        "a {} MiB cache made the resident set grow by {} KiB",
        (n_ctx * per_pos) >> 20,
        after.saturating_sub(before)
    );
    // Writing a position makes (only) its pages resident, and reads back.
    let k = vec![1.5f32; c.k_dim()];
    let v = vec![-2.0f32; c.v_dim()];
    cache.store(0, n_ctx - 1, &k, &v);
    assert_eq!(cache.keys(0, n_ctx - 1, n_ctx - 1)[0].to_f32(), 1.5);
}
