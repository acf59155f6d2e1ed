//! Replays the committed fuzz corpora of this crate's fuzz targets (docs/hardening.md):
//! every input a fuzzer kept, and every input that once crashed, must run cleanly.

#[path = "../../../fuzz/replay.rs"]
mod replay;

#[test]
fn policy_yaml_corpus_replays_cleanly() {
    replay::replay("policy_yaml", warden_policy::fuzzing::policy_yaml);
}
