//! Joining a fleet against the machine's PostgreSQL: replicas starting at the same time
//! apply the migrations once (advisory lock), a replica id held by a live process is
//! refused, and a dead process's id is taken over once its lease has run out.

#[path = "support/options.rs"]
mod options;
#[path = "support/test_db.rs"]
mod test_db;

use std::time::{Duration, Instant};

use options::options;
use warden_fleet::{Fleet, FleetError, SCHEMA_VERSION};

use test_db::{psql, Db};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_starting_together_migrate_once() {
    let Some(db) = Db::create("fleet_join", "together") else {
        return;
    };
    let joins: Vec<_> = (0..6)
        .map(|i| tokio::spawn(Fleet::join(options(&db.0, &format!("r{i}")))))
        .collect();
    for j in joins {
        j.await.expect("task").expect("join");
    }
    assert_eq!(
        psql(
            &db.0,
            "SELECT count(*), max(version) FROM warden_schema_migrations"
        )
        .as_deref(),
        Some(format!("{}|{SCHEMA_VERSION}", warden_fleet::MIGRATIONS.len()).as_str())
    );
    assert_eq!(
        psql(&db.0, "SELECT count(*) FROM warden_replicas").as_deref(),
        Some("6")
    );
    // Joining again (a restart) applies nothing new.
    Fleet::join(options(&db.0, "r-late")).await.expect("join");
    assert_eq!(
        psql(&db.0, "SELECT count(*) FROM warden_schema_migrations").as_deref(),
        Some(warden_fleet::MIGRATIONS.len().to_string().as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_replica_id_is_refused_and_a_dead_one_taken_over() {
    let Some(db) = Db::create("fleet_join", "lease") else {
        return;
    };
    let live = Fleet::join(options(&db.0, "a")).await.expect("join");
    let beat = live.spawn_heartbeat();
    let started = Instant::now();
    match Fleet::join(options(&db.0, "a")).await {
        Err(FleetError::ReplicaIdInUse(id)) => assert_eq!(id, "a"),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("two live processes got the same replica id"),
    }
    assert!(
        started.elapsed() >= Duration::from_millis(1000),
        "waited one lease"
    );
    // The first process dies (no more heartbeats): its id is free after the lease.
    beat.abort();
    let second = Fleet::join(options(&db.0, "a")).await.expect("take over");
    assert_ne!(second.incarnation(), live.incarnation());
    assert_eq!(
        psql(
            &db.0,
            "SELECT incarnation FROM warden_replicas WHERE replica_id = 'a'"
        )
        .as_deref(),
        Some(second.incarnation())
    );
}

#[tokio::test]
async fn an_unreachable_database_is_a_clear_error() {
    let mut opts = options("postgres", "x");
    opts.url = "postgresql://postgres@127.0.0.1:1/nowhere".into();
    let err = Fleet::join(opts).await.err().expect("unreachable");
    let text = err.to_string();
    assert!(
        text.contains("unreachable") && text.contains("127.0.0.1:1"),
        "{text}"
    );
}
