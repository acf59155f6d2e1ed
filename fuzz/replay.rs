//! Replays a committed fuzz corpus (`fuzz/corpus/<target>/`) through the entry function
//! its fuzz target calls. Included by each fuzzed crate's `tests/fuzz_corpus.rs` with
//! `#[path]`, so that ordinary `cargo test` on stable (and CI) runs every corpus input,
//! including the inputs of every crash found so far.

use std::path::PathBuf;

/// Feeds every file of the target's corpus to `entry`; panics (naming the file) when an
/// input panics, and when the corpus is missing or empty (a replay of nothing proves
/// nothing). Returns the number of inputs replayed.
pub fn replay(target: &str, entry: fn(&[u8])) -> usize {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()))
        .map(|e| e.expect("corpus entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "corpus {} is empty", dir.display());
    for file in &files {
        let data = std::fs::read(file).expect("read corpus input");
        let outcome = std::panic::catch_unwind(|| entry(&data));
        assert!(outcome.is_ok(), "{target}: input {} panics", file.display());
    }
    files.len()
}
