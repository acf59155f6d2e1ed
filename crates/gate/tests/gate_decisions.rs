//! The Gate end to end against a real audit log and approvals store: allow, deny,
//! dry-run, durability classes, and failing closed when the audit log cannot write.

mod gate_support;

use std::time::Duration;

use gate_support::*;
use warden_audit::{EventKind, Outcome};
use warden_gate::needs_durable_record;
use warden_gate::{Admission, RefusalKind};
use warden_inspect::http::HttpFacts;
use warden_inspect::{Action, Facts, Protocol};
use warden_policy::{Decision, Verdict};

fn bounded<F: std::future::Future>(f: F) -> tokio::time::Timeout<F> {
    tokio::time::timeout(Duration::from_secs(20), f)
}

#[tokio::test]
async fn allow_audits_decision_and_outcome() {
    bounded(async {
        let s = setup();
        let Admission::Allow(ticket) = s
            .gate
            .decide(sql_action("SELECT * FROM users WHERE id = 1"))
            .await
        else {
            panic!("a keyed select is allowed");
        };
        assert_eq!(ticket.verdict().decision, Decision::Allow);
        assert!(ticket.approval_id().is_none());
        ticket
            .completed(Outcome {
                status: Some("SELECT 1".into()),
                rows: Some(1),
                ..Outcome::default()
            })
            .await;
        // A read-only allow is recorded once, with its outcome, when it completes.
        let decided = records(&s.audit, EventKind::ActionDecided, 1).await;
        assert_eq!(decided.len(), 1);
        let v = decided[0].event.verdict.as_ref().expect("verdict");
        assert_eq!(v.decision, "allow");
        assert_eq!(
            decided[0].event.actor.as_ref().map(|a| a.name.as_str()),
            Some("alice")
        );
        assert_eq!(decided[0].event.target.as_deref(), Some("prod-db"));
        let outcome = decided[0].event.outcome.as_ref().expect("outcome");
        assert_eq!(outcome.status.as_deref(), Some("SELECT 1"));
        assert!(outcome.duration_ms.is_some());
        assert!(records(&s.audit, EventKind::ActionCompleted, 0)
            .await
            .is_empty());
        assert_eq!(s.gate.stats().allowed, 1);
        assert_eq!(s.gate.stats().completed, 1);
    })
    .await
    .expect("bounded");
}

#[tokio::test]
async fn deny_names_the_rule_and_is_audited() {
    bounded(async {
        let s = setup();
        let Admission::Deny(refusal) = s.gate.decide(sql_action("DROP TABLE users")).await else {
            panic!("drop is denied");
        };
        assert_eq!(refusal.kind, RefusalKind::Denied);
        assert_eq!(refusal.rule, "no-drop");
        assert_eq!(refusal.message, "DROP is blocked here.");
        let decided = records(&s.audit, EventKind::ActionDecided, 1).await;
        let v = decided[0].event.verdict.as_ref().expect("verdict");
        assert_eq!(v.decision, "deny");
        assert_eq!(v.rules, vec!["no-drop".to_string()]);
        assert_eq!(
            decided[0].event.action.as_ref().map(|a| a.raw.as_str()),
            Some("DROP TABLE users")
        );
        assert_eq!(s.gate.stats().denied, 1);
    })
    .await
    .expect("bounded");
}

#[tokio::test]
async fn dry_run_lets_it_pass_but_records_the_rule() {
    bounded(async {
        let s = setup();
        let Admission::Allow(ticket) = s.gate.decide(sql_action("TRUNCATE audit_scratch")).await
        else {
            panic!("dry-run rules never block");
        };
        assert_eq!(ticket.verdict().dry_run.len(), 1);
        ticket.completed(Outcome::default()).await;
        let decided = records(&s.audit, EventKind::ActionDecided, 1).await;
        let v = decided[0].event.verdict.as_ref().expect("verdict");
        assert_eq!(v.decision, "allow");
        assert_eq!(v.dry_run, vec!["truncate-would-deny".to_string()]);
    })
    .await
    .expect("bounded");
}

#[tokio::test]
async fn audit_failure_fails_closed() {
    bounded(async {
        let s = setup();
        let audit = s.audit.clone();
        tokio::task::spawn_blocking(move || audit.shutdown())
            .await
            .expect("join")
            .expect("shutdown");
        for sql in [
            "SELECT 1",
            "DELETE FROM accounts WHERE id = 3",
            "DROP TABLE x",
            "DELETE FROM accounts",
        ] {
            match s.gate.decide(sql_action(sql)).await {
                Admission::Deny(r) => assert_eq!(r.kind, RefusalKind::AuditUnavailable, "{sql}"),
                other => panic!("{sql}: must refuse when the audit log is down, got {other:?}"),
            }
        }
        assert_eq!(s.gate.stats().audit_failures, 4);
        assert!(s
            .gate
            .record(
                warden_audit::Event::new(EventKind::ConnectionOpened),
                warden_audit::Durability::Durable
            )
            .await
            .is_err());
    })
    .await
    .expect("bounded");
}

#[tokio::test]
async fn abandoned_ticket_is_still_recorded() {
    bounded(async {
        let s = setup();
        let Admission::Allow(ticket) = s.gate.decide(sql_action("SELECT 2")).await else {
            panic!("allowed");
        };
        drop(ticket);
        let done = records(&s.audit, EventKind::ActionDecided, 1).await;
        assert_eq!(done.len(), 1, "a dropped ticket records an unknown outcome");
        assert!(done[0]
            .event
            .outcome
            .as_ref()
            .and_then(|o| o.error.as_deref())
            .is_some());
    })
    .await
    .expect("bounded");
}

fn allow() -> Verdict {
    Verdict {
        decision: Decision::Allow,
        matched: vec![],
        dry_run: vec![],
        message: String::new(),
        rule: String::new(),
        approval: None,
    }
}

fn http_action(method: &str, wire: Option<&str>) -> Action {
    let mut a = sql_action("x");
    a.protocol = Protocol::Http;
    a.facts = Facts::Http(HttpFacts {
        method: method.into(),
        wire_method: wire.map(str::to_owned),
        path: "/v1/users".into(),
        ..HttpFacts::default()
    });
    a
}

#[test]
fn durability_classes() {
    let v = allow();
    assert!(!needs_durable_record(&sql_action("SELECT 1"), &v));
    assert!(needs_durable_record(
        &sql_action("UPDATE t SET a = 1 WHERE id = 1"),
        &v
    ));
    assert!(needs_durable_record(
        &sql_action("SELECT pg_terminate_backend(1); DELETE FROM t WHERE id = 1"),
        &v
    ));
    assert!(
        needs_durable_record(&sql_action("SELEC oops"), &v),
        "unparsed is durable"
    );
    assert!(!needs_durable_record(&http_action("GET", None), &v));
    assert!(needs_durable_record(&http_action("DELETE", None), &v));
    assert!(
        needs_durable_record(&http_action("GET", Some("POST")), &v),
        "an override never downgrades"
    );
    let mut ignored_override = http_action("GET", None);
    if let Facts::Http(h) = &mut ignored_override.facts {
        h.override_method = Some("DELETE".into());
    }
    assert!(needs_durable_record(&ignored_override, &v));
    let mut denied = allow();
    denied.decision = Decision::Deny;
    assert!(needs_durable_record(&sql_action("SELECT 1"), &denied));
}
