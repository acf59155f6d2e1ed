//! Replays the committed fuzz corpora of this crate's fuzz targets (docs/hardening.md):
//! every input a fuzzer kept, and every input that once crashed, must run cleanly.

#[path = "../../../fuzz/replay.rs"]
mod replay;

#[test]
fn http_framing_corpus_replays_cleanly() {
    replay::replay("http_framing", warden_frontend_http::fuzzing::http_framing);
}
