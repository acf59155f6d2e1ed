//! Index posting lists (one index entry per value per batch): paging, cursors and
//! export must return exactly the records a full filter would, in order, whatever the
//! batch boundaries were; per-record entries of older stores (empty values) still work.

mod common;

use std::collections::BTreeSet;

use warden_audit::layout::{self, IndexKind};
use warden_audit::{AuditLog, Durability, Query};

const N: u64 = 3000;

fn user_of(i: u64) -> &'static str {
    if i.is_multiple_of(3) {
        "bob"
    } else {
        "alice"
    }
}

/// Sequences of `user`'s records, newest first, by paging `q` with its cursor.
fn page_all(log: &AuditLog, q: &Query) -> Vec<u64> {
    let mut out = Vec::new();
    let mut q = q.clone();
    loop {
        let page = log.query(&q).expect("query");
        out.extend(page.records.iter().map(|r| r.seq));
        match page.next {
            Some(n) => q.after = Some(n),
            None => return out,
        }
    }
}

fn expected(user: &str, lo: u64, hi: u64) -> Vec<u64> {
    // Record seq s holds event i = s - 1.
    (lo..=hi).rev().filter(|s| user_of(s - 1) == user).collect()
}

#[test]
fn postings_page_and_export_exactly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = AuditLog::open(common::config(dir.path())).expect("open");
    for i in 0..N {
        let verdict = if i.is_multiple_of(10) {
            "deny"
        } else {
            "allow"
        };
        log.append_blocking(
            common::decided(i, user_of(i), "prod-db", verdict),
            Durability::Queued,
        )
        .expect("append");
    }
    log.checkpoint_now().expect("checkpoint");

    for user in ["alice", "bob"] {
        let q = Query {
            user: Some(user.into()),
            limit: 97,
            ..Query::default()
        };
        assert_eq!(page_all(&log, &q), expected(user, 1, N), "{user}");
        // A cursor in the middle of a posting list.
        let q = Query {
            after: Some(1777),
            ..q
        };
        assert_eq!(page_all(&log, &q), expected(user, 1, 1776), "{user}");
    }

    // A time range that starts inside a batch: export (oldest first) and query agree
    // with the records' own times.
    let t = log.get(1501).expect("get").expect("1501").time;
    let want: Vec<u64> = (1..=N)
        .filter(|s| user_of(s - 1) == "alice")
        .filter(|s| log.get(*s).expect("get").expect("record").time >= t)
        .collect();
    let q = Query {
        since: Some(t),
        user: Some("alice".into()),
        ..Query::default()
    };
    let mut out = Vec::new();
    let n = log.export(&q, &mut out).expect("export");
    let got: Vec<u64> = String::from_utf8(out)
        .expect("utf8")
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json");
            v["seq"].as_u64().expect("seq")
        })
        .collect();
    assert_eq!(n as usize, got.len());
    assert_eq!(got, want);
    let mut newest_first = want.clone();
    newest_first.reverse();
    assert_eq!(
        page_all(
            &log,
            &Query {
                limit: 50,
                ..q.clone()
            }
        ),
        newest_first
    );

    // Two indexes combined: the driver's postings, the other filter on the record.
    let denies: BTreeSet<u64> = page_all(
        &log,
        &Query {
            user: Some("bob".into()),
            verdict: Some("deny".into()),
            limit: 1000,
            ..Query::default()
        },
    )
    .into_iter()
    .collect();
    let want: BTreeSet<u64> = (1..=N)
        .filter(|s| user_of(s - 1) == "bob" && (s - 1).is_multiple_of(10))
        .collect();
    assert_eq!(denies, want);
    log.shutdown().expect("shutdown");
}

#[test]
fn per_record_index_entries_of_older_stores_still_work() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = common::config(dir.path());
    {
        let log = AuditLog::open(cfg.clone()).expect("open");
        for i in 0..300 {
            log.append_blocking(
                common::decided(i, user_of(i), "prod-db", "allow"),
                Durability::Queued,
            )
            .expect("append");
        }
        log.shutdown().expect("shutdown");
    }
    {
        // Rewrite bob's index the way stores before posting lists held it: one entry
        // per record, empty value.
        // No background flusher: the lock goes with the handle, before the reopen below.
        let db = sled::Config::new()
            .path(&cfg.path)
            .flush_every_ms(None)
            .open()
            .expect("sled");
        let prefix = layout::index_prefix(IndexKind::User, "bob");
        let keys: Vec<_> = db
            .scan_prefix(&prefix)
            .map(|kv| kv.expect("scan").0)
            .collect();
        assert!(!keys.is_empty());
        for k in keys {
            db.remove(k).expect("remove");
        }
        for s in expected("bob", 1, 300) {
            db.insert(layout::index_key(IndexKind::User, "bob", s), &[][..])
                .expect("insert");
        }
        db.flush().expect("flush");
    }
    let log = AuditLog::open(cfg).expect("reopen");
    let q = Query {
        user: Some("bob".into()),
        limit: 7,
        ..Query::default()
    };
    assert_eq!(page_all(&log, &q), expected("bob", 1, 300));
    assert_eq!(
        page_all(
            &log,
            &Query {
                user: Some("alice".into()),
                ..q
            }
        ),
        expected("alice", 1, 300)
    );
    log.shutdown().expect("shutdown");
}
