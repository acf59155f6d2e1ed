//! Replays the committed fuzz corpora of this crate's fuzz targets (docs/hardening.md):
//! every input a fuzzer kept, and every input that once crashed, must run cleanly.

#[path = "../../../fuzz/replay.rs"]
mod replay;

#[test]
fn pg_codec_corpus_replays_cleanly() {
    replay::replay("pg_codec", warden_frontend_postgres::fuzzing::pg_codec);
}
