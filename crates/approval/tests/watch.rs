//! `Approvals::watch`: awaiting a retry-mode request again after a restart (what the
//! policy proposals re-attach with), against a real sled store and audit log.

use std::time::Duration;

use warden_approval::{ApprovalBackend, ApprovalError, ApprovalState, Approvals, Resolution};
use warden_audit::{AuditConfig, AuditLog};
use warden_inspect::{Action, Actor, Facts, Protocol, TargetRef};
use warden_policy::{ApprovalSpec, Decision, Verdict};

fn person(name: &str, role: &str) -> Actor {
    Actor {
        name: name.into(),
        roles: vec![role.into()],
        client_addr: None,
        alerts: Vec::new(),
    }
}

fn proposal(raw: &str) -> (Action, Verdict) {
    let action = Action {
        protocol: Protocol::Http,
        user: person("alice", "developer"),
        target: TargetRef {
            name: "watched".into(),
            labels: Default::default(),
        },
        session: None,
        raw: raw.into(),
        facts: Facts::None,
    };
    let verdict = Verdict {
        decision: Decision::Hold,
        matched: Vec::new(),
        dry_run: Vec::new(),
        message: "review".into(),
        rule: "review".into(),
        approval: Some(ApprovalSpec {
            approver_roles: vec!["admin".into()],
            approver_users: vec![],
            required: 1,
            timeout: Duration::from_secs(600),
            wait: true,
        }),
    };
    (action, verdict)
}

/// A handle over `db` as a (re)started gateway opens it: restart recovery runs.
fn open(db: &sled::Db, audit: &AuditLog) -> Approvals {
    let backend = ApprovalBackend::Sled(db.clone());
    Approvals::open(backend, audit.clone(), "http://c.test".into()).expect("open approvals")
}

#[tokio::test]
async fn a_request_kept_over_a_restart_is_watched_to_its_decision() {
    let dir = tempfile::tempdir().expect("tempdir");
    let audit = AuditLog::open(AuditConfig::new(dir.path().join("audit"))).expect("audit");
    let db = sled::open(dir.path().join("approvals")).expect("sled");
    let (a, b) = {
        let approvals = open(&db, &audit);
        let (action, verdict) = proposal("set one");
        let a = approvals.request(&action, &verdict, true).await.expect("a");
        let (action, verdict) = proposal("set two");
        let b = approvals.request(&action, &verdict, true).await.expect("b");
        (a.id.clone(), b.id.clone())
    };
    // The "restart": the first handle and its store are gone, a new one opens.
    let approvals = open(&db, &audit);
    let first = approvals.watch(&a).expect("watch a");
    let second = approvals.watch(&a).expect("a second watcher of a");
    // Dropping a watcher never withdraws the request.
    drop(approvals.watch(&b).expect("watch b"));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(approvals.get(&b).expect("b").state, ApprovalState::Pending);

    approvals
        .approve(&a, &person("root", "admin"), None)
        .await
        .expect("approve");
    for held in [first, second] {
        let got = tokio::time::timeout(Duration::from_secs(5), held.wait())
            .await
            .expect("the watcher wakes");
        assert_eq!(
            got,
            Resolution::Approved {
                approvers: vec!["root".into()]
            }
        );
    }
    // Already decided: resolves at once; once used: refused.
    let again = approvals.watch(&a).expect("watch approved");
    assert!(matches!(again.wait().await, Resolution::Approved { .. }));
    approvals.mark_executed(&a).await.expect("execute");
    assert!(matches!(
        approvals.watch(&a),
        Err(ApprovalError::AlreadyExecuted(_))
    ));
    approvals
        .deny(&b, &person("root", "admin"), Some("no".into()))
        .await
        .expect("deny");
    assert_eq!(
        approvals.watch(&b).expect("watch denied").wait().await,
        Resolution::Denied {
            by: "root".into(),
            reason: Some("no".into())
        }
    );
    assert!(matches!(
        approvals.watch("no-such-id"),
        Err(ApprovalError::NotFound(_))
    ));
}
