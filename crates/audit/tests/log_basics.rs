//! Append, read back, query, subscribe, shutdown and reopen.

mod common;

use std::time::Duration;

use warden_audit::{AuditLog, Durability, Event, EventKind, Query};

#[test]
fn appends_are_numbered_chained_and_survive_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = common::config(dir.path());
    let log = AuditLog::open(cfg.clone()).expect("open");
    assert_eq!(log.head(), (0, "0".repeat(64)));
    let a = log
        .append_blocking(
            common::decided(1, "alice", "prod-db", "allow"),
            Durability::Durable,
        )
        .expect("append");
    let b = log
        .append_blocking(
            common::decided(2, "bob", "prod-db", "deny"),
            Durability::Queued,
        )
        .expect("append");
    assert_eq!((a, b), (1, 2));
    // A queued append is written asynchronously; a checkpoint orders after it.
    assert_eq!(log.checkpoint_now().expect("checkpoint").seq, 2);
    let r1 = log.get(1).expect("get").expect("record 1");
    let r2 = log.get(2).expect("get").expect("record 2");
    assert_eq!(r1.prev_hash, "0".repeat(64));
    assert_eq!(r2.prev_hash, r1.hash);
    assert_eq!(
        r2.event.actor.as_ref().map(|a| a.name.as_str()),
        Some("bob")
    );
    log.shutdown().expect("shutdown");
    log.shutdown().expect("shutdown is idempotent");
    assert!(log
        .append_blocking(Event::new(EventKind::Alert), Durability::Queued)
        .is_err());
    drop(log);

    let log = AuditLog::open(cfg).expect("reopen");
    assert_eq!(log.head().0, 2);
    let c = log
        .append_blocking(Event::new(EventKind::PolicyReloaded), Durability::Durable)
        .expect("append after reopen");
    assert_eq!(c, 3);
    let report = log.verify();
    assert!(report.ok, "{report:?}");
    assert_eq!(report.records, 3);
}

#[test]
fn async_appends_from_many_tasks_form_one_chain() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = AuditLog::open(common::config(dir.path())).expect("open");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut seqs: Vec<u64> = rt.block_on(async {
        let mut tasks = Vec::new();
        for t in 0..32u64 {
            let log = log.clone();
            tasks.push(tokio::spawn(async move {
                let mut out = Vec::new();
                for i in 0..50u64 {
                    let d = if i.is_multiple_of(2) {
                        Durability::Durable
                    } else {
                        Durability::Queued
                    };
                    let ev = common::decided(t * 100 + i, "carol", "db", "allow");
                    let seq = tokio::time::timeout(Duration::from_secs(20), log.append(ev, d))
                        .await
                        .expect("append timed out")
                        .expect("append");
                    out.push(seq);
                }
                out
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.expect("task"));
        }
        all
    });
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=1600).collect::<Vec<_>>());
    log.shutdown().expect("shutdown");
    let report = log.verify();
    assert!(report.ok, "{report:?}");
    assert_eq!(report.records, 1600);
    // checkpoint_every = 1000: genesis, 1000 (or the batch that crossed it), shutdown.
    assert!(report.checkpoints >= 3, "{report:?}");
}

#[test]
fn query_filters_and_pages_newest_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = AuditLog::open(common::config(dir.path())).expect("open");
    for i in 0..300u64 {
        let user = ["alice", "bob", "carol"][(i % 3) as usize];
        let verdict = if i.is_multiple_of(10) {
            "deny"
        } else {
            "allow"
        };
        log.append_blocking(
            common::decided(i, user, "prod-db", verdict),
            Durability::Queued,
        )
        .expect("append");
    }
    log.checkpoint_now().expect("checkpoint");
    let q = Query {
        user: Some("bob".into()),
        limit: 40,
        ..Query::default()
    };
    let page = log.query(&q).expect("query");
    assert_eq!(page.records.len(), 40);
    assert!(page.records.windows(2).all(|w| w[0].seq > w[1].seq));
    assert!(page
        .records
        .iter()
        .all(|r| r.event.actor.as_ref().is_some_and(|a| a.name == "bob")));
    let mut all = page.records.len();
    let mut next = page.next;
    while let Some(after) = next {
        let p = log
            .query(&Query {
                after: Some(after),
                ..q.clone()
            })
            .expect("query");
        all += p.records.len();
        next = p.next;
    }
    assert_eq!(all, 100);

    let denies = log
        .query(&Query {
            verdict: Some("deny".into()),
            user: Some("alice".into()),
            limit: 1000,
            ..Query::default()
        })
        .expect("query");
    // i divisible by 10 and by 3: i in {0, 30, ..., 270}.
    assert_eq!(denies.records.len(), 10);

    let text = log
        .query(&Query {
            text: Some("WHERE ID = 123".into()),
            ..Query::default()
        })
        .expect("query");
    assert_eq!(text.records.len(), 1);
    assert_eq!(text.records[0].seq, 124);

    let t = log.get(150).expect("get").expect("150").time;
    let since = log
        .query(&Query {
            since: Some(t),
            limit: 1000,
            ..Query::default()
        })
        .expect("query");
    assert!(since.records.iter().all(|r| r.time >= t));
    assert!(since.records.iter().any(|r| r.seq == 150));
    let until = log
        .query(&Query {
            until: Some(t),
            limit: 1000,
            ..Query::default()
        })
        .expect("query");
    assert!(until.records.iter().all(|r| r.time < t));
    assert_eq!(since.records.len() + until.records.len(), 300);
}

#[test]
fn subscribers_see_new_records() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = AuditLog::open(common::config(dir.path())).expect("open");
    let mut rx = log.subscribe();
    let seq = log
        .append_blocking(
            common::decided(7, "dave", "k8s", "hold"),
            Durability::Durable,
        )
        .expect("append");
    let rec = rx.try_recv().expect("a record on the feed");
    assert_eq!(rec.seq, seq);
    assert_eq!(rec.hash, log.get(seq).expect("get").expect("rec").hash);
}

#[test]
fn secrets_are_redacted_before_storage() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = AuditLog::open(common::config(dir.path())).expect("open");
    let mut ev = common::decided(1, "eve", "prod-db", "allow");
    if let Some(a) = ev.action.as_mut() {
        a.raw = "ALTER ROLE app PASSWORD 'Sup3rS3cret!'; SELECT 1".into();
    }
    let seq = log
        .append_blocking(ev, Durability::Durable)
        .expect("append");
    let rec = log.get(seq).expect("get").expect("record");
    let raw = rec.event.action.expect("action").raw;
    assert_eq!(raw, "ALTER ROLE app PASSWORD '***'; SELECT 1");
    log.shutdown().expect("shutdown");
    drop(log);
    // Not anywhere on disk either.
    for entry in walk(&dir.path().join("audit")) {
        let bytes = std::fs::read(&entry).expect("read");
        assert!(
            !bytes.windows(11).any(|w| w == b"Sup3rS3cret"),
            "secret found in {}",
            entry.display()
        );
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn verify_of_a_live_log_under_load_reports_no_false_problems() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = common::config(dir.path());
    cfg.checkpoint_every = 50;
    let log = AuditLog::open(cfg).expect("open");
    let writer = {
        let log = log.clone();
        std::thread::spawn(move || {
            for i in 0..6000u64 {
                log.append_blocking(
                    common::decided(i, "load", "db", "allow"),
                    Durability::Queued,
                )
                .expect("append");
            }
        })
    };
    for _ in 0..5 {
        let r = log.verify();
        assert!(r.ok, "{r:?}");
    }
    writer.join().expect("writer");
    log.shutdown().expect("shutdown");
    let r = log.verify();
    assert!(r.ok, "{r:?}");
    assert_eq!(r.records, 6000);
}

#[test]
fn walk_window_gives_every_record_of_a_time_window_oldest_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = AuditLog::open(common::config(dir.path())).expect("open");
    // The writer stamps a whole batch with one time: records 20 and 30 are durable (the
    // append returns once they are written), so 21 and 31 start later batches, with later
    // times, and the window edges fall between them.
    for i in 1..=40u64 {
        let edge = i == 20 || i == 30;
        log.append_blocking(
            common::decided(i, "alice", "prod-db", "allow"),
            if edge {
                Durability::Durable
            } else {
                Durability::Queued
            },
        )
        .expect("append");
        if edge {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    log.checkpoint_now().expect("checkpoint");
    let t21 = log.get(21).expect("get").expect("21").time;
    let t31 = log.get(31).expect("get").expect("31").time;
    let mut seen = Vec::new();
    let n = log
        .walk_window(Some(t21), None, |r| seen.push(r.seq))
        .expect("walk");
    assert_eq!(n, 20);
    assert_eq!(
        seen.first(),
        Some(&21),
        "the window starts at its first record"
    );
    assert_eq!(seen.last(), Some(&40));
    assert!(
        seen.windows(2).all(|w| w[0] + 1 == w[1]),
        "oldest first, no gaps"
    );
    let mut bounded = Vec::new();
    log.walk_window(Some(t21), Some(t31), |r| bounded.push(r.seq))
        .expect("walk");
    let expected: Vec<u64> = (1..=40)
        .filter(|&s| {
            let t = log.get(s).expect("get").expect("record").time;
            t >= t21 && t < t31
        })
        .collect();
    assert_eq!(bounded, expected, "exactly the records in [since, until)");
    assert_eq!(bounded, (21..=30).collect::<Vec<u64>>());
    assert!(!bounded.contains(&31), "until is exclusive");
    let all = log.walk_window(None, None, |_| {}).expect("walk");
    assert_eq!(all, 40);
    let future = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
    assert_eq!(
        log.walk_window(Some(future), None, |_| {}).expect("walk"),
        0
    );
}

#[test]
fn queued_appends_that_never_wait_join_the_chain_in_order() {
    use warden_audit::TryAppend;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = common::config(dir.path());
    let log = AuditLog::open(cfg.clone()).expect("open");
    let mut seqs = Vec::new();
    for i in 0..50 {
        let ev = common::decided(i, "alice", "prod-db", "allow");
        match log.try_append_queued(ev) {
            TryAppend::Done(r) => seqs.push(r.expect("append accepted")),
            TryAppend::Full(_) => panic!("an idle log is never full"),
        }
    }
    assert_eq!(seqs, (1..=50).collect::<Vec<u64>>());
    // A durable append behind them is answered once all of them are written, in order.
    let last = log
        .append_blocking(
            common::decided(99, "bob", "prod-db", "deny"),
            Durability::Durable,
        )
        .expect("durable append");
    assert_eq!(last, 51);
    for seq in 1..=51 {
        assert!(log.get(seq).expect("get").is_some(), "record {seq} missing");
    }
    log.shutdown().expect("shutdown");
    assert!(matches!(
        log.try_append_queued(Event::new(EventKind::Alert)),
        TryAppend::Done(Err(_))
    ));
    drop(log);
    let report = warden_audit::verify_dir(&cfg.path, None).expect("verify");
    assert!(report.ok, "{report:?}");
    assert_eq!(report.records, 51);
}

#[test]
fn a_lone_queued_append_is_written_without_anyone_waking_the_writer_again() {
    use warden_audit::TryAppend;
    let dir = tempfile::tempdir().expect("tempdir");
    let log = AuditLog::open(common::config(dir.path())).expect("open");
    // The writer gathers after each batch; a record arriving then must still be written
    // when the gathering ends, not wait for the next request.
    for i in 0..3 {
        let TryAppend::Done(Ok(seq)) =
            log.try_append_queued(common::decided(i, "alice", "prod-db", "allow"))
        else {
            panic!("append refused");
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while log.get(seq).expect("get").is_none() {
            assert!(
                std::time::Instant::now() < deadline,
                "queued record {seq} never written"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}
