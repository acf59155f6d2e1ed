//! Entry point shared by the `config_yaml` fuzz target (`fuzz/fuzz_targets/`) and the
//! corpus replay test (`tests/fuzz_corpus.rs`). Not an API: hidden from the docs.
//!
//! Must never panic on any input: a `warden.yaml` is either a typed config or a list of
//! diagnostics.

use std::path::Path;

use crate::Config;

/// Validate the input as a `warden.yaml`. Inputs that could name a file to read (a
/// `password_file` key; YAML escapes could spell one) are skipped: reading `/dev/zero` or a
/// FIFO would hang the fuzzer, and file reading is not parsing.
pub fn config_yaml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if text.contains('\\') || text.contains("password_file") {
        return;
    }
    if let Err(errors) = Config::parse(text, "warden.yaml", Path::new("/nonexistent-warden-fuzz")) {
        assert!(!errors.0.is_empty(), "refused without a diagnostic");
    }
}
