//! Replays the committed fuzz corpora of this crate's fuzz targets (docs/hardening.md):
//! every input a fuzzer kept, and every input that once crashed, must run cleanly.

#[path = "../../../fuzz/replay.rs"]
mod replay;

#[test]
fn sql_inspect_corpus_replays_cleanly() {
    replay::replay("sql_inspect", warden_inspect::fuzzing::sql_inspect);
}

#[test]
fn shell_parse_corpus_replays_cleanly() {
    replay::replay("shell_parse", warden_inspect::fuzzing::shell_parse);
}

#[test]
fn kube_path_corpus_replays_cleanly() {
    replay::replay("kube_path", warden_inspect::fuzzing::kube_path);
}
