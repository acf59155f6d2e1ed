//! Replays the committed fuzz corpora of this crate's fuzz targets (docs/hardening.md):
//! every input a fuzzer kept, and every input that once crashed, must run cleanly.

#[path = "../../../fuzz/replay.rs"]
mod replay;

#[test]
fn audit_decode_corpus_replays_cleanly() {
    replay::replay("audit_decode", warden_audit::fuzzing::audit_decode);
}
