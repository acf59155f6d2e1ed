//! Shared set-up for the Gate tests: a real audit log, a real approvals store and a
//! compiled policy set, all in a temporary folder.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tempfile::TempDir;
use warden_approval::Approvals;
use warden_audit::{AuditConfig, AuditLog, EventKind, Query, Record};
use warden_gate::Gate;
use warden_inspect::sql::{self, Dialect};
use warden_inspect::{Action, Actor, Facts, Protocol, TargetRef};
use warden_policy::{PolicySet, PolicyStore, SqlCache};

pub const POLICY: &str = r#"version: 1
rules:
  - name: no-drop
    when: { protocol: postgres, sql: { statements: [drop] } }
    action: deny
    message: DROP is blocked here.
  - name: unbounded-delete-needs-dba
    when: { protocol: postgres, sql: { statements: [delete], without_where: true } }
    action: hold
    approval: { approvers: { roles: [dba] }, required: 1, timeout: 10m }
  - name: slow-inserts-expire
    when: { protocol: postgres, sql: { statements: [insert], objects: ["*.slow"] } }
    action: hold
    approval: { approvers: { roles: [dba] }, required: 1, timeout: 1s }
  - name: unbounded-update-retry
    when: { protocol: postgres, sql: { statements: [update], without_where: true } }
    action: hold
    approval: { approvers: { roles: [dba] }, required: 1, timeout: 10m, wait: false }
  - name: truncate-would-deny
    when: { protocol: postgres, sql: { statements: [truncate] } }
    action: deny
    mode: dry_run
"#;

pub struct Setup {
    pub gate: Gate,
    pub audit: AuditLog,
    pub approvals: Approvals,
    pub dir: TempDir,
}

pub fn setup() -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let stores = warden_app::stores::open_in(
        dir.path(),
        AuditConfig::new(dir.path().join("audit")),
        "http://console.test",
    )
    .expect("stores");
    let (audit, approvals) = (stores.audit, stores.approvals);
    let set =
        PolicySet::from_sources(&[("test.yaml".to_string(), POLICY.to_string())]).expect("policy");
    let gate = Gate::new(
        PolicyStore::new(set),
        audit.clone(),
        approvals.clone(),
        Arc::new(SqlCache::default()),
    );
    Setup {
        gate,
        audit,
        approvals,
        dir,
    }
}

pub fn alice() -> Actor {
    Actor {
        name: "alice".into(),
        roles: vec!["developer".into()],
        client_addr: Some("127.0.0.1:50000".into()),
        alerts: Vec::new(),
    }
}

pub fn bob_dba() -> Actor {
    Actor {
        name: "bob".into(),
        roles: vec!["dba".into()],
        client_addr: None,
        alerts: Vec::new(),
    }
}

pub fn sql_action(text: &str) -> Action {
    Action {
        protocol: Protocol::Postgres,
        user: alice(),
        target: TargetRef {
            name: "prod-db".into(),
            labels: BTreeMap::from([("env".to_string(), "production".to_string())]),
        },
        session: Some("s-1".into()),
        raw: text.into(),
        facts: Facts::Sql(Arc::new(sql::inspect(text, Dialect::Postgres))),
    }
}

/// Every record of `kind`, oldest first, waiting up to 5 s for at least `min` of them
/// (queued appends become visible within the writer's window).
pub async fn records(audit: &AuditLog, kind: EventKind, min: usize) -> Vec<Record> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let page = audit
            .query(&Query {
                limit: 1000,
                ..Query::default()
            })
            .expect("query");
        let mut found: Vec<Record> = page
            .records
            .into_iter()
            .filter(|r| r.event.kind == kind)
            .collect();
        found.reverse();
        if found.len() >= min || tokio::time::Instant::now() > deadline {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
