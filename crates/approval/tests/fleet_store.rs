//! The fleet backend in one process: three `Approvals` handles, each with its own audit
//! log and replica id, on one PostgreSQL database (created and dropped here). N-of-M
//! across replicas, one vote per person, only the owner executes a waiting request,
//! retry-mode approvals taken once anywhere, a deny/approve race decided once.

mod support;
#[path = "../../fleet/tests/support/test_db.rs"]
mod test_db;

use std::time::Duration;

use warden_approval::{ApprovalError, ApprovalState, Approvals, Resolution};
use warden_audit::{AuditConfig, AuditLog};
use warden_fleet::{Fleet, FleetOptions};
use warden_inspect::{Action, Facts, Protocol, TargetRef};
use warden_policy::{ApprovalSpec, Decision, Mode, RuleHit, Verdict};

use support::actor;
use test_db::{psql, Db};

struct Replica {
    _dir: tempfile::TempDir,
    approvals: Approvals,
}

async fn replica(db: &str, id: &str) -> Replica {
    replica_polling(db, id, Duration::from_millis(500)).await
}

async fn replica_polling(db: &str, id: &str, poll: Duration) -> Replica {
    let dir = tempfile::tempdir().expect("tempdir");
    let audit = AuditLog::open(AuditConfig::new(dir.path().join("audit"))).expect("audit");
    let fleet = Fleet::join(FleetOptions {
        url: format!("postgresql://postgres@127.0.0.1:5432/{db}"),
        password: None,
        replica_id: id.into(),
        heartbeat: Duration::from_millis(500),
        lease: Duration::from_secs(2),
        poll,
        connect_timeout: Duration::from_secs(5),
        pool_size: 4,
        tls: None,
    })
    .await
    .expect("join");
    fleet.spawn_heartbeat();
    let approvals = Approvals::open_fleet(fleet, audit, "http://console.test".into())
        .await
        .expect("open");
    Replica {
        _dir: dir,
        approvals,
    }
}

fn action(raw: &str) -> Action {
    Action {
        protocol: Protocol::Postgres,
        user: actor("alice", &["developer"]),
        target: TargetRef {
            name: "prod-db".into(),
            labels: Default::default(),
        },
        session: Some("s-1".into()),
        raw: raw.into(),
        facts: Facts::None,
    }
}

fn verdict(required: u32, wait: bool) -> Verdict {
    Verdict {
        decision: Decision::Hold,
        matched: vec![RuleHit {
            rule: "hold-deletes".into(),
            file: "p.yaml".into(),
            decision: Decision::Hold,
            mode: Mode::Enforce,
            message: None,
        }],
        dry_run: Vec::new(),
        message: "unbounded write".into(),
        rule: "hold-deletes".into(),
        approval: Some(ApprovalSpec {
            approver_roles: vec!["dba".into()],
            approver_users: vec![],
            required,
            timeout: Duration::from_secs(120),
            wait,
        }),
    }
}

/// Waits (bounded) until `r` sees request `id` in `state`.
async fn sees(r: &Replica, id: &str, state: ApprovalState) {
    for _ in 0..100 {
        if r.approvals.get(id).is_some_and(|q| q.state == state) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{id} never became {state} here: {:?}", r.approvals.get(id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_of_n_across_replicas_one_vote_per_person_owner_executes_once() {
    let Some(db) = Db::create("fleet_store", "nofm") else {
        return;
    };
    let (a, b, c) = (
        replica(&db.0, "a").await,
        replica(&db.0, "b").await,
        replica(&db.0, "c").await,
    );
    let held = a
        .approvals
        .request(&action("DELETE FROM t"), &verdict(2, true), false)
        .await
        .expect("request");
    let id = held.id.clone();
    let waiting = tokio::spawn(held.wait());

    let r = b
        .approvals
        .approve(&id, &actor("bob", &["dba"]), None)
        .await
        .expect("bob");
    assert_eq!(r.state, ApprovalState::Pending);
    assert!(matches!(
        c.approvals
            .approve(&id, &actor("bob", &["dba"]), None)
            .await,
        Err(ApprovalError::DuplicateApprover(_))
    ));
    let r = c
        .approvals
        .approve(&id, &actor("carol", &["dba"]), None)
        .await
        .expect("carol");
    assert_eq!(r.state, ApprovalState::Approved);
    // A's waiter wakes through NOTIFY.
    let res = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("woken")
        .expect("task");
    assert!(matches!(res, Resolution::Approved { .. }), "{res:?}");

    sees(&b, &id, ApprovalState::Approved).await;
    assert!(
        matches!(
            b.approvals.mark_executed(&id).await,
            Err(ApprovalError::WrongState { .. })
        ),
        "only the owner runs a waiting request"
    );
    a.approvals
        .mark_executed(&id)
        .await
        .expect("owner executes");
    assert!(a.approvals.mark_executed(&id).await.is_err(), "once");
    sees(&c, &id, ApprovalState::Executed).await;
    let shown = c.approvals.get(&id).expect("cached");
    let info = shown.fleet.expect("fleet info");
    assert_eq!(
        (info.owner.as_str(), info.claimed_by.as_deref()),
        ("a", Some("a"))
    );
    assert_eq!(
        psql(
            &db.0,
            &format!("SELECT count(*) FROM warden_approval_votes WHERE request_id = '{id}'")
        )
        .as_deref(),
        Some("2")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_mode_approval_is_taken_once_on_any_replica() {
    let Some(db) = Db::create("fleet_store", "retry") else {
        return;
    };
    let (a, b, c) = (
        replica(&db.0, "a").await,
        replica(&db.0, "b").await,
        replica(&db.0, "c").await,
    );
    let act = action("DELETE FROM r");
    let held = a
        .approvals
        .request(&act, &verdict(1, false), true)
        .await
        .expect("request");
    let id = held.id.clone();
    drop(held);
    sees(&b, &id, ApprovalState::Pending).await;
    b.approvals
        .approve(&id, &actor("bob", &["dba"]), None)
        .await
        .expect("approve");
    sees(&c, &id, ApprovalState::Approved).await;
    let taken = c.approvals.take_retry_approval(&act).await.expect("take");
    assert_eq!(taken.map(|r| r.id), Some(id.clone()));
    sees(&a, &id, ApprovalState::Executed).await;
    assert!(a
        .approvals
        .take_retry_approval(&act)
        .await
        .expect("take")
        .is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approve_and_a_deny_at_once_decide_once() {
    let Some(db) = Db::create("fleet_store", "race") else {
        return;
    };
    let (a, b, c) = (
        replica(&db.0, "a").await,
        replica(&db.0, "b").await,
        replica(&db.0, "c").await,
    );
    for round in 0..5 {
        let held = a
            .approvals
            .request(
                &action(&format!("DELETE FROM t{round}")),
                &verdict(1, true),
                false,
            )
            .await
            .expect("request");
        let id = held.id.clone();
        let waiting = tokio::spawn(held.wait());
        let (bb, cc) = (b.approvals.clone(), c.approvals.clone());
        let (i1, i2) = (id.clone(), id.clone());
        let approve =
            tokio::spawn(async move { bb.approve(&i1, &actor("bob", &["dba"]), None).await });
        let deny = tokio::spawn(async move { cc.deny(&i2, &actor("carol", &["dba"]), None).await });
        let (ok_a, ok_d) = (
            approve.await.expect("t").is_ok(),
            deny.await.expect("t").is_ok(),
        );
        assert!(
            ok_a ^ ok_d,
            "exactly one decision (approve {ok_a}, deny {ok_d})"
        );
        let res = tokio::time::timeout(Duration::from_secs(10), waiting)
            .await
            .expect("woken")
            .expect("task");
        match res {
            Resolution::Approved { .. } => assert!(ok_a),
            Resolution::Denied { .. } => assert!(ok_d),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            psql(
                &db.0,
                &format!("SELECT count(*) FROM warden_approval_votes WHERE request_id = '{id}'")
            )
            .as_deref(),
            Some("1"),
            "the losing vote was rolled back"
        );
    }
}

/// Median of `v` in milliseconds.
fn median_ms(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v[v.len() / 2].as_secs_f64() * 1000.0
}

/// Not a benchmark (debug build, shared machine): the order of magnitude of a hold's
/// steps on the fleet backend next to the embedded one, printed with `--nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hold_step_latencies_fleet_and_embedded() {
    let Some(db) = Db::create("fleet_store", "timing") else {
        return;
    };
    let (a, b) = (replica(&db.0, "a").await, replica(&db.0, "b").await);
    let dir = tempfile::tempdir().expect("tempdir");
    let audit = AuditLog::open(AuditConfig::new(dir.path().join("audit"))).expect("audit");
    let embedded = Approvals::open_path(&dir.path().join("approvals"), audit, "http://x".into())
        .expect("embedded");
    for (name, owner, decider) in [
        ("embedded", &embedded, &embedded),
        ("fleet", &a.approvals, &b.approvals),
    ] {
        let (mut req, mut dec, mut wake, mut exec) = (vec![], vec![], vec![], vec![]);
        for i in 0..30 {
            let t = std::time::Instant::now();
            let held = owner
                .request(
                    &action(&format!("DELETE FROM {name}{i}")),
                    &verdict(1, true),
                    false,
                )
                .await
                .expect("request");
            req.push(t.elapsed());
            let id = held.id.clone();
            let (woke_tx, woke_rx) = tokio::sync::oneshot::channel();
            tokio::spawn(async move {
                let r = held.wait().await;
                let _ = woke_tx.send((std::time::Instant::now(), r));
            });
            let t = std::time::Instant::now();
            decider
                .approve(&id, &actor("bob", &["dba"]), None)
                .await
                .expect("approve");
            dec.push(t.elapsed());
            let (woke_at, r) = woke_rx.await.expect("woken");
            assert!(matches!(r, Resolution::Approved { .. }));
            wake.push(woke_at - t);
            let t = std::time::Instant::now();
            owner.mark_executed(&id).await.expect("execute");
            exec.push(t.elapsed());
        }
        eprintln!(
            "{name}: median request {:.2} ms, approve {:.2} ms, approve-to-waiter-woken {:.2} ms, execute {:.2} ms",
            median_ms(req),
            median_ms(dec),
            median_ms(wake),
            median_ms(exec)
        );
    }
}

/// A notification sent while the owner's LISTEN connection was down is not lost: the
/// re-query after the reconnect wakes the waiter (the poll backstop is set to a minute
/// here, so only the reconnect can do it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decision_missed_while_listen_was_down_is_caught_up_on_reconnect() {
    let Some(db) = Db::create("fleet_store", "relisten") else {
        return;
    };
    let minute = Duration::from_secs(60);
    let (a, b) = (
        replica_polling(&db.0, "a", minute).await,
        replica_polling(&db.0, "b", minute).await,
    );
    let held = a
        .approvals
        .request(&action("DELETE FROM l"), &verdict(1, true), false)
        .await
        .expect("request");
    let id = held.id.clone();
    let mut waiting = tokio::spawn(held.wait());
    sees(&b, &id, ApprovalState::Pending).await;

    // No new connections; A's LISTEN connection is cut (B keeps its pooled ones).
    psql(
        "postgres",
        &format!(
            "ALTER DATABASE {0} ALLOW_CONNECTIONS false;
             SELECT pg_terminate_backend(pid) FROM pg_stat_activity
              WHERE datname = '{0}' AND application_name = 'warden a' AND query LIKE 'LISTEN%'",
            db.0
        ),
    )
    .expect("cut");
    b.approvals
        .approve(&id, &actor("bob", &["dba"]), None)
        .await
        .expect("approve");
    assert!(
        tokio::time::timeout(Duration::from_secs(1), &mut waiting)
            .await
            .is_err(),
        "nothing can have told A yet"
    );
    psql(
        "postgres",
        &format!("ALTER DATABASE {} ALLOW_CONNECTIONS true", db.0),
    )
    .expect("reopen");
    let res = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("woken after the reconnect")
        .expect("task");
    assert!(matches!(res, Resolution::Approved { .. }), "{res:?}");
}
