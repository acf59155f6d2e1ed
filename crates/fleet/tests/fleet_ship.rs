//! Audit shipping against the machine's PostgreSQL, below `warden serve`: a replaced
//! local store is never shipped onto the chain another store shipped under the same
//! replica id, and the fleet verification names an edited anchor and a missing record.

#[path = "support/options.rs"]
mod options;
#[path = "support/test_db.rs"]
mod test_db;

use std::time::{Duration, Instant};

use options::options;
use test_db::{psql, Db};
use warden_audit::{AuditConfig, AuditLog, Durability, Event, EventKind};
use warden_fleet::{AuditShipper, Fleet, ShipOptions};

fn ship_fast() -> ShipOptions {
    ShipOptions {
        every: Duration::from_millis(20),
        anchor_every: Duration::from_millis(100),
        batch: 4,
    }
}

async fn append(log: &AuditLog, n: usize) {
    for _ in 0..n {
        log.append(Event::new(EventKind::Notification), Durability::Durable)
            .await
            .expect("append");
    }
}

async fn wait_shipped(shipper: &AuditShipper, seq: u64) {
    let started = Instant::now();
    while shipper
        .status()
        .shipped
        .load(std::sync::atomic::Ordering::Relaxed)
        < seq
    {
        assert!(started.elapsed() < Duration::from_secs(30), "not shipped");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn problems(db: &str) -> Vec<String> {
    let client = warden_fleet::connect_tool(&options(db, "tool"))
        .await
        .expect("connect");
    let report = warden_fleet::verify::verify(&client).await.expect("verify");
    assert_eq!(report.ok, report.problems.is_empty());
    report.problems.iter().map(|p| p.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_store_is_not_shipped_onto_the_old_chain() {
    let Some(db) = Db::create("fleet_ship", "replaced") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let first = AuditLog::open(AuditConfig::new(dir.path().join("one"))).expect("open");
    let fleet = Fleet::join(options(&db.0, "r")).await.expect("join");
    let shipper = AuditShipper::start(fleet.clone(), first.clone(), ship_fast()).expect("start");
    append(&first, 10).await;
    wait_shipped(&shipper, 10).await;
    shipper.finish(Duration::from_secs(5)).await;
    fleet.leave().await.expect("leave");
    assert_eq!(
        psql(&db.0, "SELECT count(*), max(seq) FROM warden_audit_records").as_deref(),
        Some("10|10"),
        "shipped in batches of 4, each once"
    );
    assert_eq!(problems(&db.0).await, Vec::<String>::new());
    let shipped = psql(
        &db.0,
        "SELECT string_agg(encode(hash, 'hex'), ',' ORDER BY seq) FROM warden_audit_records",
    );

    // Another store under the same replica id: shorter, and different.
    let second = AuditLog::open(AuditConfig::new(dir.path().join("two"))).expect("open");
    append(&second, 3).await;
    let fleet = Fleet::join(options(&db.0, "r")).await.expect("join again");
    let shipper = AuditShipper::start(fleet, second.clone(), ship_fast()).expect("start");
    append(&second, 9).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        shipper
            .status()
            .shipped
            .load(std::sync::atomic::Ordering::Relaxed),
        0,
        "nothing shipped from the other chain"
    );
    shipper.finish(Duration::from_secs(5)).await;
    assert_eq!(
        psql(
            &db.0,
            "SELECT string_agg(encode(hash, 'hex'), ',' ORDER BY seq) FROM warden_audit_records"
        ),
        shipped,
        "the shared chain is untouched"
    );
    assert_eq!(problems(&db.0).await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_names_an_edited_anchor_and_a_missing_record() {
    let Some(db) = Db::create("fleet_ship", "edits") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let log = AuditLog::open(AuditConfig::new(dir.path().join("a"))).expect("open");
    let fleet = Fleet::join(options(&db.0, "a")).await.expect("join");
    let shipper = AuditShipper::start(fleet, log.clone(), ship_fast()).expect("start");
    for n in [5, 5, 5] {
        append(&log, n).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    wait_shipped(&shipper, 15).await;
    shipper.finish(Duration::from_secs(5)).await;
    let anchors: u64 = psql(&db.0, "SELECT count(*) FROM warden_audit_anchors")
        .expect("count")
        .parse()
        .expect("number");
    assert!(anchors >= 2, "{anchors} anchors");
    assert_eq!(problems(&db.0).await, Vec::<String>::new());

    // An anchor moved back to an earlier head (its hash no longer matches).
    psql(
        &db.0,
        "UPDATE warden_audit_anchors SET seq = seq - 1 WHERE n = 1",
    )
    .expect("update");
    let found = problems(&db.0).await;
    assert!(
        found
            .iter()
            .any(|p| p.contains("anchor 1: its hash does not match its fields")),
        "{found:?}"
    );
    psql(
        &db.0,
        "UPDATE warden_audit_anchors SET seq = seq + 1 WHERE n = 1",
    )
    .expect("update");
    assert_eq!(problems(&db.0).await, Vec::<String>::new());

    // A record taken out of the middle.
    psql(&db.0, "DELETE FROM warden_audit_records WHERE seq = 7").expect("delete");
    let found = problems(&db.0).await;
    assert_eq!(
        found,
        vec![
            "replica `a`, sequence 7: missing: the shipped chain jumps from sequence 6 to 8"
                .to_string()
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_ships_in_batches_and_verifies() {
    let Some(db) = Db::create("fleet_ship", "backlog") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let log = AuditLog::open(AuditConfig::new(dir.path().join("a"))).expect("open");
    const N: u64 = 20_000;
    for _ in 0..N - 1 {
        log.append(Event::new(EventKind::Notification), Durability::Queued)
            .await
            .expect("append");
    }
    append(&log, 1).await;
    let fleet = Fleet::join(options(&db.0, "a")).await.expect("join");
    let started = Instant::now();
    let shipper = AuditShipper::start(fleet, log.clone(), ShipOptions::default()).expect("start");
    wait_shipped(&shipper, N).await;
    let shipped = started.elapsed();
    shipper.finish(Duration::from_secs(5)).await;
    let started = Instant::now();
    assert_eq!(problems(&db.0).await, Vec::<String>::new());
    let verified = started.elapsed();
    eprintln!(
        "{N} records: shipped in {shipped:?} ({:.0}/s), verified in {verified:?} ({:.0}/s)",
        N as f64 / shipped.as_secs_f64(),
        N as f64 / verified.as_secs_f64()
    );
    assert_eq!(
        psql(&db.0, "SELECT count(*), max(seq) FROM warden_audit_records").as_deref(),
        Some(format!("{N}|{N}").as_str())
    );
}
