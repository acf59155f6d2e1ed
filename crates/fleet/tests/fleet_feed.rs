//! The analytics feed and the alert claim against the machine's PostgreSQL, below
//! `warden serve`: the feed hands out the other replicas' records once each, in time
//! order, never its own, stops at a modified row, and the claim has one winner per
//! detector and subject until the suppression runs out.

#[path = "support/options.rs"]
mod options;
#[path = "support/test_db.rs"]
mod test_db;

use std::time::{Duration, Instant};

use options::options;
use test_db::{psql, Db};
use warden_audit::{AuditConfig, AuditLog, Durability, Event, EventKind};
use warden_fleet::alerts::{claim, AlertClaim};
use warden_fleet::{AuditFeed, AuditShipper, Fleet, ShipOptions};

fn ship_fast() -> ShipOptions {
    ShipOptions {
        every: Duration::from_millis(20),
        anchor_every: Duration::from_secs(60),
        batch: 100,
    }
}

async fn append(log: &AuditLog, n: usize, detail: &str) {
    for _ in 0..n {
        let mut ev = Event::new(EventKind::Notification);
        ev.detail = Some(detail.to_string());
        log.append(ev, Durability::Durable).await.expect("append");
    }
}

/// Waits until `db` holds `n` shipped records of `replica`.
async fn wait_rows(db: &str, replica: &str, n: usize) {
    let started = Instant::now();
    let sql = format!("SELECT count(*) FROM warden_audit_records WHERE replica_id = '{replica}'");
    while psql(db, &sql).as_deref() != Some(n.to_string().as_str()) {
        assert!(started.elapsed() < Duration::from_secs(30), "not shipped");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

struct Member {
    fleet: Fleet,
    log: AuditLog,
    shipper: AuditShipper,
}

async fn member(db: &str, dir: &std::path::Path, id: &str) -> Member {
    let log = AuditLog::open(AuditConfig::new(dir.join(id))).expect("open");
    let fleet = Fleet::join(options(db, id)).await.expect("join");
    let shipper = AuditShipper::start(fleet.clone(), log.clone(), ship_fast()).expect("ship");
    Member {
        fleet,
        log,
        shipper,
    }
}

/// (replica, seq, detail) of a batch.
fn seen(batch: &[warden_fleet::RemoteRecord]) -> Vec<(String, u64, String)> {
    batch
        .iter()
        .map(|r| {
            (
                r.replica.clone(),
                r.record.seq,
                r.record.event.detail.clone().unwrap_or_default(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feed_hands_out_the_others_records_once_in_time_order_and_stops_at_a_modified_row() {
    let Some(db) = Db::create("fleet_feed", "records") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let [a, b, c] = [
        member(&db.0, dir.path(), "a").await,
        member(&db.0, dir.path(), "b").await,
        member(&db.0, dir.path(), "c").await,
    ];
    append(&a.log, 2, "a-old").await;
    append(&c.log, 1, "c-own").await;
    wait_rows(&db.0, "a", 2).await;
    wait_rows(&db.0, "c", 1).await;

    // History: A's records since the start; never C's own.
    let (mut feed, history) = AuditFeed::start(c.fleet.clone(), 0).await.expect("start");
    assert_eq!(
        seen(&history),
        vec![
            ("a".into(), 1, "a-old".into()),
            ("a".into(), 2, "a-old".into())
        ]
    );
    assert!(
        feed.next().await.expect("next").is_empty(),
        "history is not fed again"
    );

    // New records of A and B, interleaved in time: fed once each, in time order.
    append(&a.log, 1, "a-1").await;
    append(&b.log, 1, "b-1").await;
    append(&a.log, 1, "a-2").await;
    append(&c.log, 1, "c-own").await;
    wait_rows(&db.0, "a", 4).await;
    wait_rows(&db.0, "b", 1).await;
    wait_rows(&db.0, "c", 2).await;
    let batch = feed.next().await.expect("next");
    assert_eq!(
        seen(&batch),
        vec![
            ("a".into(), 3, "a-1".into()),
            ("b".into(), 1, "b-1".into()),
            ("a".into(), 4, "a-2".into())
        ]
    );
    assert!(feed.next().await.expect("next").is_empty(), "fed once");
    assert_eq!(feed.cursors().get("a"), Some(&4));

    // A modified row of B is refused, and B is not fed past it; A goes on.
    append(&b.log, 2, "b-2").await;
    append(&a.log, 1, "a-3").await;
    wait_rows(&db.0, "b", 3).await;
    wait_rows(&db.0, "a", 5).await;
    psql(
        &db.0,
        "UPDATE warden_audit_records SET event = replace(event, 'b-2', 'b-X') WHERE replica_id = 'b' AND seq = 2",
    )
    .expect("update");
    let batch = feed.next().await.expect("next");
    assert_eq!(seen(&batch), vec![("a".into(), 5, "a-3".into())]);
    assert_eq!(feed.cursors().get("b"), Some(&1));
    for m in [a, b, c] {
        m.shipper.finish(Duration::from_secs(5)).await;
        m.fleet.leave().await.expect("leave");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_with_more_than_a_batch_holds_back_the_others_later_records() {
    let Some(db) = Db::create("fleet_feed", "order") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let a = member(&db.0, dir.path(), "a").await;
    let b = member(&db.0, dir.path(), "b").await;
    let c = Fleet::join(options(&db.0, "c")).await.expect("join");
    let (mut feed, _) = AuditFeed::start(c, 0).await.expect("start");
    feed.set_batch(2);
    append(&a.log, 3, "a").await;
    append(&b.log, 1, "b").await;
    wait_rows(&db.0, "a", 3).await;
    wait_rows(&db.0, "b", 1).await;
    let first = feed.next().await.expect("next");
    assert_eq!(
        seen(&first),
        vec![("a".into(), 1, "a".into()), ("a".into(), 2, "a".into())],
        "B's later record waits for A's third"
    );
    let second = feed.next().await.expect("next");
    assert_eq!(
        seen(&second),
        vec![("a".into(), 3, "a".into()), ("b".into(), 1, "b".into())]
    );
    for m in [a, b] {
        m.shipper.finish(Duration::from_secs(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_claim_wins_per_detector_and_subject_until_its_suppression_runs_out() {
    let Some(db) = Db::create("fleet_feed", "claims") else {
        return;
    };
    let a = Fleet::join(options(&db.0, "a")).await.expect("join");
    let b = Fleet::join(options(&db.0, "b")).await.expect("join");
    let at = |id: &'static str, raised_ns: i64| AlertClaim {
        key: "failed-login-burst|00000000000000ff",
        id,
        detector: "failed-login-burst",
        raised_ns,
        until_ns: raised_ns + 600,
    };
    let (first, second) = (at("al-a", 1000), at("al-b", 1001));
    let (x, y) = tokio::join!(claim(&a, &first), claim(&b, &second));
    assert!(
        x.expect("claim a") ^ y.expect("claim b"),
        "exactly one of two concurrent claims wins"
    );
    assert!(
        !claim(&a, &at("al-c", 1599)).await.expect("claim"),
        "suppressed"
    );
    assert!(
        claim(&b, &at("al-d", 1601)).await.expect("claim"),
        "after the suppression"
    );
    let other = AlertClaim {
        key: "failed-login-burst|0000000000000100",
        ..at("al-e", 1602)
    };
    assert!(claim(&a, &other).await.expect("claim"), "another subject");
    assert_eq!(
        psql(
            &db.0,
            "SELECT string_agg(alert_id || ':' || replica_id, ',' ORDER BY alert_id) FROM warden_alerts"
        )
        .as_deref(),
        Some("al-d:b,al-e:a")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_is_fed_in_batches_each_record_once() {
    let Some(db) = Db::create("fleet_feed", "backlog") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let a = member(&db.0, dir.path(), "a").await;
    let b = Fleet::join(options(&db.0, "b")).await.expect("join");
    let (mut feed, history) = AuditFeed::start(b.clone(), 0).await.expect("start");
    assert!(history.is_empty());
    const N: usize = 20_000;
    for _ in 0..N - 1 {
        a.log
            .append(Event::new(EventKind::Notification), Durability::Queued)
            .await
            .expect("append");
    }
    append(&a.log, 1, "last").await;
    wait_rows(&db.0, "a", N).await;
    let started = Instant::now();
    let (mut fed, mut batches, mut next_seq) = (0usize, 0usize, 1u64);
    while fed < N {
        let batch = feed.next().await.expect("next");
        assert!(!batch.is_empty(), "stalled at {fed}");
        for r in &batch {
            assert_eq!(r.record.seq, next_seq, "in order, each once");
            next_seq += 1;
        }
        fed += batch.len();
        batches += 1;
    }
    let took = started.elapsed();
    eprintln!(
        "{N} shipped records fed in {batches} batches in {took:?} ({:.0}/s)",
        N as f64 / took.as_secs_f64()
    );
    assert!(feed.next().await.expect("next").is_empty());
    a.shipper.finish(Duration::from_secs(5)).await;
}
