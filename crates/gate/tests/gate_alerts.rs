//! The Gate fills in the actor's open alerts before it evaluates, so a policy can hold
//! what a user under an alert tries to write; the audit record shows the alerts.

use std::sync::Arc;

use warden_audit::{AuditConfig, Query};
use warden_gate::{Admission, Gate, OpenAlerts};
use warden_inspect::sql::{self, Dialect};
use warden_inspect::{Action, Actor, Facts, Protocol, TargetRef};
use warden_policy::{PolicySet, PolicyStore, SqlCache};

/// mallory is under a privilege-change alert; nobody else is.
struct Book;

impl OpenAlerts for Book {
    fn open_detectors(&self, user: &str) -> Vec<String> {
        if user == "mallory" {
            vec!["privilege-change".into()]
        } else {
            Vec::new()
        }
    }
}

const POLICY: &str = r#"version: 1
rules:
  - name: writes-under-alert-need-review
    when:
      user: { alerts: ["*"] }
      sql: { statements: [insert, update, delete] }
    action: hold
    approval: { approvers: { roles: [security] }, timeout: 10m, wait: false }
"#;

fn update_by(name: &str) -> Action {
    let text = "UPDATE accounts SET balance = 0 WHERE id = 1";
    Action {
        protocol: Protocol::Postgres,
        user: Actor {
            name: name.into(),
            roles: vec!["developer".into()],
            client_addr: None,
            alerts: Vec::new(),
        },
        target: TargetRef::default(),
        session: None,
        raw: text.into(),
        facts: Facts::Sql(Arc::new(sql::inspect(text, Dialect::Postgres))),
    }
}

#[tokio::test]
async fn a_user_under_an_open_alert_is_held_and_the_record_names_the_alert() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stores = warden_app::stores::open_in(
        dir.path(),
        AuditConfig::new(dir.path().join("audit")),
        "http://console.test",
    )
    .expect("stores");
    let set = PolicySet::from_sources(&[("p.yaml".into(), POLICY.into())]).expect("policy");
    let gate = Gate::new(
        PolicyStore::new(set),
        stores.audit.clone(),
        stores.approvals.clone(),
        Arc::new(SqlCache::default()),
    );
    assert!(
        matches!(gate.decide(update_by("mallory")).await, Admission::Allow(_)),
        "no analytics view installed: nothing is known about alerts"
    );
    gate.set_alerts(Arc::new(Book));
    assert!(matches!(
        gate.decide(update_by("alice")).await,
        Admission::Allow(_)
    ));
    match gate.decide(update_by("mallory")).await {
        Admission::Deny(r) => assert_eq!(r.rule, "writes-under-alert-need-review"),
        other => panic!("mallory's write was not held: {other:?}"),
    }
    let audit = stores.audit.clone();
    let records = tokio::task::spawn_blocking(move || {
        audit
            .query(&Query {
                limit: 100,
                ..Query::default()
            })
            .expect("query")
            .records
    })
    .await
    .expect("join");
    let held = records
        .iter()
        .find(|r| {
            r.event.actor.as_ref().is_some_and(|a| a.name == "mallory")
                && r.event
                    .verdict
                    .as_ref()
                    .is_some_and(|v| v.decision == "hold")
        })
        .expect("the held decision is audited");
    assert_eq!(
        held.event.actor.as_ref().map(|a| a.alerts.clone()),
        Some(vec!["privilege-change".to_string()])
    );
}
