//! A new request is stored before its `approval_requested` record is written, so that
//! a crash between the two can never leave a request in the audit log that nothing
//! closes (found by the gateway crash test: a SIGKILL after the record, before the
//! store, left it open for good). These tests build what such a crash leaves on disk.

mod support;

use support::{action, actor, fixture, hold, kinds, named, reopen, verdict, MIN};
use warden_approval::{ApprovalError, ApprovalState};
use warden_audit::{AuditConfig, AuditLog, EventKind};

#[tokio::test]
async fn a_retry_request_the_audit_log_never_named_is_withdrawn_at_restart() {
    let f = fixture();
    let retry = hold(&f.approvals, "DELETE FROM c", MIN, true).await;
    let id = retry.id.clone();
    drop(retry);

    // With the audit log that recorded it, the retry request lives on (the client
    // re-sends after approval).
    let kept = reopen(&f, "with-its-record", &f.audit);
    assert_eq!(kept.get(&id).expect("kept").state, ApprovalState::Pending);

    // A crash after the store, before the record: the audit log has never heard of it.
    let dir = tempfile::tempdir().expect("tempdir");
    let other = AuditLog::open(AuditConfig::new(dir.path().join("audit"))).expect("audit");
    let approvals = reopen(&f, "without-its-record", &other);
    let req = approvals.get(&id).expect("still listed");
    assert_eq!(req.state, ApprovalState::Withdrawn);
    assert!(
        req.ended_reason
            .as_deref()
            .is_some_and(|r| r.contains("before the request was recorded")),
        "{:?}",
        req.ended_reason
    );
    assert_eq!(
        named(&other, EventKind::ApprovalWithdrawn),
        vec![id.clone()]
    );
    // Never approvable.
    assert!(matches!(
        approvals.approve(&id, &actor("bob", &["dba"]), None).await,
        Err(ApprovalError::WrongState { .. })
    ));
}

#[tokio::test]
async fn every_request_the_audit_log_names_is_ended_by_a_restart() {
    let f = fixture();
    let mut helds = Vec::new();
    for i in 0..5 {
        helds.push(hold(&f.approvals, &format!("DELETE FROM t{i}"), MIN, false).await);
    }
    // A crash: the waiters vanish without their drop logic.
    for h in helds {
        std::mem::forget(h);
    }
    let approvals = reopen(&f, "after-crash", &f.audit);
    let mut requested = named(&f.audit, EventKind::ApprovalRequested);
    let mut withdrawn = named(&f.audit, EventKind::ApprovalWithdrawn);
    requested.sort();
    withdrawn.sort();
    assert_eq!(requested.len(), 5);
    assert_eq!(requested, withdrawn, "each named request closed");
    assert_eq!(approvals.list(Some(ApprovalState::Pending)).len(), 0);
}

#[tokio::test]
async fn a_request_the_audit_log_cannot_record_is_refused_and_never_pending() {
    let f = fixture();
    f.audit.shutdown().expect("shutdown");
    let res = f
        .approvals
        .request(
            &action("alice", "DELETE FROM a"),
            &verdict(1, MIN, true),
            false,
        )
        .await;
    let Err(err) = res else {
        panic!("a request without its audit record was accepted")
    };
    assert!(matches!(err, ApprovalError::Audit(_)), "{err:?}");
    let all = f.approvals.list(None);
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0].state, ApprovalState::Withdrawn);
    assert_eq!(f.approvals.stats().pending, 0);
    assert!(kinds(&f.audit).is_empty());
}
