//! Replays the committed fuzz corpora of this crate's fuzz targets (docs/hardening.md):
//! every input a fuzzer kept, and every input that once crashed, must run cleanly.

#[path = "../../../fuzz/replay.rs"]
mod replay;

#[test]
fn config_yaml_corpus_replays_cleanly() {
    replay::replay("config_yaml", warden_config::fuzzing::config_yaml);
}
