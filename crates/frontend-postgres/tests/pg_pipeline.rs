//! Long pipelines through the PostgreSQL front-end: the session takes messages already
//! buffered without waiting, the relay writes an upstream answer of many messages under
//! one hold of the client writer (64 at a time) — every answer must still arrive whole
//! and in order — and each Parse of the unnamed statement is decided on its own text.

mod pg_support;

use std::time::Duration;

use pg_support::raw::{self, Raw};
use pg_support::*;
use warden_audit::{EventKind, Query};

/// The text of a DataRow's single column.
fn value(body: &[u8]) -> String {
    // column count (2 bytes), length (4 bytes), value
    String::from_utf8_lossy(&body[6..]).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_pipeline_gets_every_answer_in_order() {
    let h = start().await;
    let mut r = Raw::login(h.addr, "alice", ALICE_PW, &h.db).await;
    // 200 statements in one write (4 answer messages each, so the upstream sends far more
    // than one batch of 64 before the Sync's ReadyForQuery), unnamed and re-parsed.
    let n = 200;
    let mut batch = Vec::new();
    for i in 0..n {
        batch.extend(raw::parse_bind_execute("", &format!("SELECT {i}")));
    }
    batch.extend(raw::sync());
    r.send(&batch).await;
    let answers = r.until_ready().await;
    let tags: Vec<u8> = answers.iter().map(|(t, _)| *t).collect();
    let mut want = b"12DC".repeat(n);
    want.push(b'Z');
    assert_eq!(tags, want, "{answers:?}");
    let values: Vec<String> = answers
        .iter()
        .filter(|(t, _)| *t == b'D')
        .map(|(_, b)| value(b))
        .collect();
    let expected: Vec<String> = (0..n).map(|i| i.to_string()).collect();
    assert_eq!(values, expected);
    // The session is in sync with the upstream afterwards.
    r.send(&raw::query("SELECT 'after'")).await;
    let after = r.until_ready().await;
    let row = after.iter().find(|(t, _)| *t == b'D').expect("row");
    assert_eq!(value(&row.1), "after");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_parse_of_the_unnamed_statement_is_decided_on_its_own_text() {
    let h = start().await;
    h.direct()
        .await
        .batch_execute("CREATE TABLE t (id int)")
        .await
        .expect("setup");
    let mut r = Raw::login(h.addr, "alice", ALICE_PW, &h.db).await;
    // Same unnamed statement, same pipeline: allowed, denied, allowed again. The denied
    // text must not run on the verdict of the text before it, nor the next one on its.
    let mut batch = Vec::new();
    for sql in ["SELECT count(*) FROM t", "DROP TABLE t"] {
        batch.extend(raw::parse_bind_execute("", sql));
    }
    batch.extend(raw::sync());
    batch.extend(raw::parse_bind_execute("", "SELECT count(*) FROM t"));
    batch.extend(raw::sync());
    r.send(&batch).await;
    let first = r.until_ready().await;
    let tags: Vec<u8> = first.iter().map(|(t, _)| *t).collect();
    assert_eq!(tags, b"12DCEZ".to_vec(), "{first:?}");
    let (code, msg) = raw::error_fields(&first[4].1);
    assert_eq!(code, "42501", "{msg}");
    let second = r.until_ready().await;
    let tags: Vec<u8> = second.iter().map(|(t, _)| *t).collect();
    assert_eq!(
        tags,
        b"12DCZ".to_vec(),
        "the table still exists: {second:?}"
    );

    // One decision per Parse, each on its own text, in order.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let recs = h
        .gate
        .audit()
        .query(&Query {
            limit: 1000,
            ..Query::default()
        })
        .expect("audit query")
        .records;
    let decided: Vec<(String, String)> = recs
        .iter()
        .filter(|r| r.event.kind == EventKind::ActionDecided)
        .filter_map(|r| {
            let raw = r.event.action.as_ref()?.raw.clone();
            let decision = r.event.verdict.as_ref()?.decision.clone();
            Some((raw, decision))
        })
        .collect();
    let mut decided_sorted = decided.clone();
    decided_sorted.sort_by_key(|(raw, _)| raw.clone());
    assert_eq!(
        decided_sorted,
        vec![
            ("DROP TABLE t".to_string(), "deny".to_string()),
            ("SELECT count(*) FROM t".to_string(), "allow".to_string()),
            ("SELECT count(*) FROM t".to_string(), "allow".to_string()),
        ],
        "{decided:?}"
    );
}
