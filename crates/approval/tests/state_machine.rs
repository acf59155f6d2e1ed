//! The approval rules against a real sled store and a real audit log.

mod support;

use std::time::Duration;

use support::{action, actor, fixture, hold, kinds, reopen, verdict, MIN};
use warden_approval::{ApprovalError, ApprovalState, Resolution};
use warden_audit::EventKind;

#[tokio::test]
async fn approve_resolves_the_waiter_and_is_audited() {
    let f = fixture();
    let held = f
        .approvals
        .request(
            &action("alice", "DELETE FROM accounts"),
            &verdict(1, MIN, true),
            false,
        )
        .await
        .expect("request");
    assert_eq!(
        held.url,
        format!("http://console.test/approvals/{}", held.id)
    );
    let id = held.id.clone();
    let waiter = tokio::spawn(held.wait());
    let req = f
        .approvals
        .approve(&id, &actor("bob", &["dba"]), Some("ok".into()))
        .await
        .expect("approve");
    assert_eq!(req.state, ApprovalState::Approved);
    let res = tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .expect("in time")
        .expect("join");
    assert_eq!(
        res,
        Resolution::Approved {
            approvers: vec!["bob".into()]
        }
    );
    f.approvals.mark_executed(&id).await.expect("execute once");
    assert!(matches!(
        f.approvals.mark_executed(&id).await,
        Err(ApprovalError::AlreadyExecuted(_))
    ));
    assert_eq!(
        f.approvals.get(&id).expect("stored").state,
        ApprovalState::Executed
    );
    assert_eq!(
        kinds(&f.audit),
        vec![
            EventKind::ApprovalRequested,
            EventKind::ApprovalApproved,
            EventKind::ApprovalExecuted
        ]
    );
}

#[tokio::test]
async fn requester_cannot_approve_their_own_request() {
    let f = fixture();
    let held = f
        .approvals
        .request(
            &action("alice", "DELETE FROM t"),
            &verdict(1, MIN, true),
            false,
        )
        .await
        .expect("request");
    let err = f
        .approvals
        .approve(&held.id, &actor("alice", &["dba"]), None)
        .await
        .expect_err("self approval");
    assert!(matches!(err, ApprovalError::SelfApproval(_)), "{err}");
    assert_eq!(
        f.approvals.get(&held.id).expect("stored").state,
        ApprovalState::Pending
    );
}

#[tokio::test]
async fn approver_needs_a_named_role() {
    let f = fixture();
    let held = f
        .approvals
        .request(
            &action("alice", "DELETE FROM t"),
            &verdict(1, MIN, true),
            false,
        )
        .await
        .expect("request");
    let err = f
        .approvals
        .approve(&held.id, &actor("carol", &["developer"]), None)
        .await
        .expect_err("not entitled");
    assert!(matches!(err, ApprovalError::NotEntitled { .. }), "{err}");
    let err = f
        .approvals
        .deny(&held.id, &actor("carol", &["admin"]), None)
        .await
        .expect_err("admin not named");
    assert!(matches!(err, ApprovalError::NotEntitled { .. }), "{err}");
}

#[tokio::test]
async fn n_of_m_counts_each_person_once() {
    let f = fixture();
    let held = f
        .approvals
        .request(
            &action("alice", "UPDATE t SET x = 1"),
            &verdict(2, MIN, true),
            false,
        )
        .await
        .expect("request");
    let id = held.id.clone();
    let waiter = tokio::spawn(held.wait());
    let bob = actor("bob", &["dba"]);
    let r = f.approvals.approve(&id, &bob, None).await.expect("first");
    assert_eq!((r.state, r.remaining()), (ApprovalState::Pending, 1));
    let err = f
        .approvals
        .approve(&id, &bob, None)
        .await
        .expect_err("twice");
    assert!(matches!(err, ApprovalError::DuplicateApprover(_)), "{err}");
    assert_eq!(f.approvals.get(&id).expect("stored").approvals.len(), 1);
    assert!(!waiter.is_finished());
    let r = f
        .approvals
        .approve(&id, &actor("dave", &["dba"]), None)
        .await
        .expect("second");
    assert_eq!(r.state, ApprovalState::Approved);
    let res = tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .expect("in time")
        .expect("join");
    assert_eq!(
        res,
        Resolution::Approved {
            approvers: vec!["bob".into(), "dave".into()]
        }
    );
}

#[tokio::test]
async fn deny_by_one_entitled_person_ends_it() {
    let f = fixture();
    let held = f
        .approvals
        .request(
            &action("alice", "DELETE FROM t"),
            &verdict(2, MIN, true),
            false,
        )
        .await
        .expect("request");
    let id = held.id.clone();
    let waiter = tokio::spawn(held.wait());
    f.approvals
        .approve(&id, &actor("bob", &["dba"]), None)
        .await
        .expect("one approval");
    f.approvals
        .deny(&id, &actor("dave", &["dba"]), Some("not now".into()))
        .await
        .expect("deny");
    let res = tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .expect("in time")
        .expect("join");
    assert_eq!(
        res,
        Resolution::Denied {
            by: "dave".into(),
            reason: Some("not now".into())
        }
    );
    let err = f
        .approvals
        .approve(&id, &actor("erin", &["dba"]), None)
        .await
        .expect_err("after deny");
    assert!(matches!(err, ApprovalError::WrongState { .. }), "{err}");
}

#[tokio::test]
async fn expiry_resolves_the_waiter_and_refuses_later_approval() {
    let f = fixture();
    let held = f
        .approvals
        .request(
            &action("alice", "DELETE FROM t"),
            &verdict(1, Duration::from_secs(1), true),
            false,
        )
        .await
        .expect("request");
    let id = held.id.clone();
    let res = tokio::time::timeout(Duration::from_secs(10), held.wait())
        .await
        .expect("expires in time");
    assert_eq!(res, Resolution::Expired);
    let err = f
        .approvals
        .approve(&id, &actor("bob", &["dba"]), None)
        .await
        .expect_err("after expiry");
    assert!(matches!(err, ApprovalError::WrongState { .. }), "{err}");
    assert_eq!(
        f.approvals.get(&id).expect("stored").state,
        ApprovalState::Expired
    );
    assert!(kinds(&f.audit).contains(&EventKind::ApprovalExpired));
}

#[tokio::test]
async fn dropping_the_waiter_withdraws_the_request() {
    let f = fixture();
    let held = f
        .approvals
        .request(
            &action("alice", "DELETE FROM t"),
            &verdict(1, MIN, true),
            false,
        )
        .await
        .expect("request");
    let id = held.id.clone();
    let mut feed = f.approvals.subscribe();
    drop(held);
    let ended = tokio::time::timeout(Duration::from_secs(5), feed.recv())
        .await
        .expect("in time")
        .expect("feed");
    assert_eq!(
        (ended.id.as_str(), ended.state),
        (id.as_str(), ApprovalState::Withdrawn)
    );
    let err = f
        .approvals
        .approve(&id, &actor("bob", &["dba"]), None)
        .await
        .expect_err("withdrawn");
    assert!(matches!(err, ApprovalError::WrongState { .. }), "{err}");
}

#[tokio::test]
async fn retry_mode_approval_is_used_once_by_the_identical_action() {
    let f = fixture();
    let act = action("alice", "DELETE FROM accounts");
    let held = f
        .approvals
        .request(&act, &verdict(1, MIN, false), true)
        .await
        .expect("request");
    let id = held.id.clone();
    drop(held); // retry mode: nobody waits, dropping must not withdraw
    assert!(
        f.approvals
            .take_retry_approval(&act)
            .await
            .expect("lookup")
            .is_none(),
        "not approved yet"
    );
    f.approvals
        .approve(&id, &actor("bob", &["dba"]), None)
        .await
        .expect("approve");
    assert!(
        f.approvals
            .take_retry_approval(&action("alice", "DELETE FROM accounts;"))
            .await
            .expect("lookup")
            .is_none(),
        "other bytes"
    );
    assert!(
        f.approvals
            .take_retry_approval(&action("mallory", "DELETE FROM accounts"))
            .await
            .expect("lookup")
            .is_none(),
        "other user"
    );
    let used = f
        .approvals
        .take_retry_approval(&act)
        .await
        .expect("lookup")
        .expect("approved");
    assert_eq!(
        (used.id.as_str(), used.state),
        (id.as_str(), ApprovalState::Executed)
    );
    assert!(
        f.approvals
            .take_retry_approval(&act)
            .await
            .expect("lookup")
            .is_none(),
        "replay refused"
    );
}

#[tokio::test]
async fn restart_withdraws_orphaned_requests_but_keeps_retry_requests() {
    let f = fixture();
    let waiting = hold(&f.approvals, "DELETE FROM a", MIN, false).await;
    let approved = hold(&f.approvals, "DELETE FROM b", MIN, false).await;
    let retry = hold(&f.approvals, "DELETE FROM c", MIN, true).await;
    f.approvals
        .approve(&approved.id, &actor("bob", &["dba"]), None)
        .await
        .expect("approve");
    let (w, a, r) = (waiting.id.clone(), approved.id.clone(), retry.id.clone());
    // Simulate a crash: the waiters vanish without running their drop logic.
    std::mem::forget(waiting);
    std::mem::forget(approved);
    drop(retry);
    // The store was flushed after every transition: a copy of the directory is what
    // a crash at this instant leaves on disk.
    let audit = f.audit.clone();
    let approvals = reopen(&f, "approvals-after-crash", &audit);
    assert_eq!(
        approvals.get(&w).expect("w").state,
        ApprovalState::Withdrawn
    );
    assert_eq!(
        approvals.get(&a).expect("a").state,
        ApprovalState::Withdrawn
    );
    assert!(matches!(
        approvals.mark_executed(&a).await,
        Err(ApprovalError::WrongState { .. })
    ));
    assert_eq!(approvals.get(&r).expect("r").state, ApprovalState::Pending);
    let withdrawn = kinds(&audit)
        .iter()
        .filter(|k| **k == EventKind::ApprovalWithdrawn)
        .count();
    assert_eq!(withdrawn, 2);
    assert_eq!(approvals.list(Some(ApprovalState::Pending)).len(), 1);
}

#[tokio::test]
async fn retry_requests_kept_over_a_restart_still_expire_on_time() {
    let f = fixture();
    let held = f
        .approvals
        .request(
            &action("alice", "DELETE FROM c"),
            &verdict(1, Duration::from_secs(1), false),
            true,
        )
        .await
        .expect("request");
    let id = held.id.clone();
    drop(held);
    let approvals = reopen(&f, "approvals-restarted", &f.audit);
    assert_eq!(
        approvals.get(&id).expect("kept").state,
        ApprovalState::Pending
    );
    let mut feed = approvals.subscribe();
    let ended = tokio::time::timeout(Duration::from_secs(10), feed.recv())
        .await
        .expect("expired by its timer, without anyone touching it")
        .expect("feed");
    assert_eq!(
        (ended.id.as_str(), ended.state),
        (id.as_str(), ApprovalState::Expired)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_holds_resolve() {
    let f = fixture();
    let mut set = tokio::task::JoinSet::new();
    let n: usize = std::env::var("HOLDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    for i in 0..n {
        let approvals = f.approvals.clone();
        set.spawn(async move {
            let act = action("alice", &format!("DELETE FROM t{i}"));
            approvals.request(&act, &verdict(1, MIN, true), false).await
        });
    }
    let mut helds = Vec::new();
    while let Some(h) = set.join_next().await {
        helds.push(h.expect("join").expect("request"));
    }
    assert_eq!(f.approvals.stats().pending, n as u64);
    let ids: Vec<String> = helds.iter().map(|h| h.id.clone()).collect();
    let waiters: Vec<_> = helds.into_iter().map(|h| tokio::spawn(h.wait())).collect();
    let mut set = tokio::task::JoinSet::new();
    for id in ids {
        let approvals = f.approvals.clone();
        set.spawn(async move { approvals.deny(&id, &actor("bob", &["dba"]), None).await });
    }
    while let Some(r) = set.join_next().await {
        r.expect("join").expect("deny");
    }
    for w in waiters {
        let res = tokio::time::timeout(Duration::from_secs(30), w)
            .await
            .expect("in time")
            .expect("join");
        assert!(matches!(res, Resolution::Denied { .. }));
    }
    assert_eq!(f.approvals.stats().pending, 0);
}
