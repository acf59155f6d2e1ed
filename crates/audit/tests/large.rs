//! A clean chain of 100 000 records verifies (and an indexed query over it is cheap).

mod common;

use std::time::{Duration, Instant};

use warden_audit::{AuditLog, Durability, Query};

#[test]
fn clean_chain_of_100k_records_verifies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = common::config(dir.path());
    cfg.checkpoint_every = 10_000;
    cfg.checkpoint_interval = Duration::from_secs(600);
    let log = AuditLog::open(cfg.clone()).expect("open");
    let t = Instant::now();
    // Two producers: callers encode in parallel with the writer.
    std::thread::scope(|s| {
        for half in 0..2u64 {
            let log = log.clone();
            s.spawn(move || {
                for i in (half * 50_000)..((half + 1) * 50_000) {
                    let user = if i.is_multiple_of(1000) {
                        "rare"
                    } else {
                        "common"
                    };
                    let ev = common::decided(i, user, "prod-db", "allow");
                    log.append_blocking(ev, Durability::Queued).expect("append");
                }
            });
        }
    });
    log.shutdown().expect("shutdown");
    drop(log);
    eprintln!("append {:?}", t.elapsed());
    let t = Instant::now();
    let r = warden_audit::verify_dir(&cfg.path, cfg.checkpoint_file.as_deref()).expect("verify");
    eprintln!("verify {:?}", t.elapsed());
    assert!(r.ok, "{r:?}");
    assert_eq!(r.records, 100_000);
    // Genesis, one after each batch that crosses 10 000 unsealed records, shutdown:
    // in the store and again in the file.
    assert!(r.checkpoints >= 2 * 7, "{r:?}");

    let log = AuditLog::open(cfg).expect("reopen");
    let page = log
        .query(&Query {
            user: Some("rare".into()),
            limit: 1000,
            ..Query::default()
        })
        .expect("query");
    assert_eq!(page.records.len(), 100);
    assert_eq!(page.next, None);
}
