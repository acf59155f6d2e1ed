//! Holds through the Gate with the real approvals store: approve, deny, expire,
//! withdraw when the waiting client goes away, and retry mode.

mod gate_support;

use std::time::Duration;

use gate_support::*;
use warden_approval::ApprovalState;
use warden_audit::{EventKind, Outcome};
use warden_gate::{Admission, Held, HoldOutcome, RefusalKind};

fn bounded<F: std::future::Future>(f: F) -> tokio::time::Timeout<F> {
    tokio::time::timeout(Duration::from_secs(20), f)
}

async fn hold(s: &Setup, sql: &str) -> Held {
    match s.gate.decide(sql_action(sql)).await {
        Admission::Hold(h) => h,
        other => panic!("{sql} must be held, got {other:?}"),
    }
}

#[tokio::test]
async fn hold_then_approve_runs_once() {
    bounded(async {
        let s = setup();
        let held = hold(&s, "DELETE FROM accounts").await;
        assert!(held.url.starts_with("http://console.test/"), "{}", held.url);
        let id = held.id.clone();
        let waiter = tokio::spawn(held.wait());
        // The requester may not approve; a dba may.
        assert!(s.approvals.approve(&id, &alice(), None).await.is_err());
        s.approvals
            .approve(&id, &bob_dba(), Some("ok".into()))
            .await
            .expect("approve");
        let HoldOutcome::Approved(ticket) = waiter.await.expect("join") else {
            panic!("approved");
        };
        assert_eq!(ticket.approval_id(), Some(id.as_str()));
        assert_eq!(
            s.approvals.get(&id).map(|r| r.state),
            Some(ApprovalState::Executed)
        );
        ticket
            .completed(Outcome {
                status: Some("DELETE 3".into()),
                rows: Some(3),
                ..Outcome::default()
            })
            .await;
        let done = records(&s.audit, EventKind::ActionCompleted, 1).await;
        let approval = done[0].event.approval.as_ref().expect("approval ref");
        assert_eq!(approval.id, id);
        assert_eq!(approval.approvers, vec!["bob".to_string()]);
        assert_eq!(
            records(&s.audit, EventKind::ApprovalExecuted, 1)
                .await
                .len(),
            1
        );
        let stats = s.gate.stats();
        assert_eq!((stats.held, stats.hold_approved), (1, 1));
    })
    .await
    .expect("bounded");
}

#[tokio::test]
async fn hold_then_deny_refuses_with_reason() {
    bounded(async {
        let s = setup();
        let held = hold(&s, "DELETE FROM accounts").await;
        let id = held.id.clone();
        let waiter = tokio::spawn(held.wait());
        s.approvals
            .deny(&id, &bob_dba(), Some("not today".into()))
            .await
            .expect("deny");
        let HoldOutcome::Refused(r) = waiter.await.expect("join") else {
            panic!("denied");
        };
        assert_eq!(r.kind, RefusalKind::Denied);
        assert_eq!(r.approval_id.as_deref(), Some(id.as_str()));
        assert!(
            r.message.contains("bob") && r.message.contains("not today"),
            "{}",
            r.message
        );
        assert_eq!(r.rule, "unbounded-delete-needs-dba");
    })
    .await
    .expect("bounded");
}

#[tokio::test]
async fn hold_expires() {
    bounded(async {
        let s = setup();
        let held = hold(&s, "INSERT INTO public.slow VALUES (1)").await;
        let id = held.id.clone();
        let HoldOutcome::Refused(r) = held.wait().await else {
            panic!("nobody approved within 1s");
        };
        assert_eq!(r.kind, RefusalKind::Expired);
        assert_eq!(
            s.approvals.get(&id).map(|r| r.state),
            Some(ApprovalState::Expired)
        );
        assert!(
            s.approvals.approve(&id, &bob_dba(), None).await.is_err(),
            "too late"
        );
    })
    .await
    .expect("bounded");
}

#[tokio::test]
async fn dropping_a_hold_withdraws_it() {
    bounded(async {
        let s = setup();
        let held = hold(&s, "DELETE FROM accounts").await;
        let id = held.id.clone();
        // The client went away while waiting: the wait future is cancelled.
        let waiting = tokio::spawn(held.wait());
        tokio::time::sleep(Duration::from_millis(50)).await;
        waiting.abort();
        let _ = waiting.await;
        let mut state = None;
        for _ in 0..100 {
            state = s.approvals.get(&id).map(|r| r.state);
            if state == Some(ApprovalState::Withdrawn) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(state, Some(ApprovalState::Withdrawn));
        assert!(
            s.approvals.approve(&id, &bob_dba(), None).await.is_err(),
            "a withdrawn request can never be approved"
        );
    })
    .await
    .expect("bounded");
}

#[tokio::test]
async fn retry_mode_refuses_then_runs_the_identical_request_once() {
    bounded(async {
        let s = setup();
        let sql = "UPDATE accounts SET frozen = true";
        let Admission::Deny(first) = s.gate.decide(sql_action(sql)).await else {
            panic!("retry mode refuses at once");
        };
        assert_eq!(first.kind, RefusalKind::RetryLater);
        let id = first.approval_id.clone().expect("approval id");
        assert!(first.message.contains(&id));
        // Re-sent before approval: same request, not a new one.
        let Admission::Deny(again) = s.gate.decide(sql_action(sql)).await else {
            panic!("still pending");
        };
        assert_eq!(again.approval_id.as_deref(), Some(id.as_str()));
        s.approvals
            .approve(&id, &bob_dba(), None)
            .await
            .expect("approve");
        // A different statement does not ride on the approval.
        let Admission::Deny(other) = s
            .gate
            .decide(sql_action("UPDATE accounts SET frozen = false"))
            .await
        else {
            panic!("different bytes need their own approval");
        };
        assert_ne!(other.approval_id.as_deref(), Some(id.as_str()));
        let Admission::Allow(ticket) = s.gate.decide(sql_action(sql)).await else {
            panic!("the identical statement runs after approval");
        };
        assert_eq!(ticket.approval_id(), Some(id.as_str()));
        ticket.completed(Outcome::default()).await;
        let done = records(&s.audit, EventKind::ActionCompleted, 1).await;
        let approval = done[0].event.approval.as_ref().expect("approval ref");
        assert_eq!(
            (approval.id.as_str(), approval.approvers.clone()),
            (id.as_str(), vec!["bob".to_string()])
        );
        let Admission::Deny(third) = s.gate.decide(sql_action(sql)).await else {
            panic!("an approval is used once");
        };
        assert_eq!(third.kind, RefusalKind::RetryLater);
        assert_ne!(third.approval_id.as_deref(), Some(id.as_str()));
    })
    .await
    .expect("bounded");
}

#[tokio::test]
async fn dropping_a_hold_before_waiting_withdraws_it() {
    bounded(async {
        let s = setup();
        let held = hold(&s, "DELETE FROM accounts").await;
        let id = held.id.clone();
        drop(held);
        let mut state = None;
        for _ in 0..100 {
            state = s.approvals.get(&id).map(|r| r.state);
            if state == Some(ApprovalState::Withdrawn) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(state, Some(ApprovalState::Withdrawn));
        assert!(
            records(&s.audit, EventKind::ApprovalWithdrawn, 1)
                .await
                .len()
                == 1
        );
    })
    .await
    .expect("bounded");
}
