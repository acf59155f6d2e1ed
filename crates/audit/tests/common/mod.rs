//! Helpers shared by the audit integration tests.
#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use warden_audit::{AuditConfig, Event, EventKind, VerdictSummary};
use warden_inspect::{Action, Actor, Facts, Protocol, TargetRef};

/// A config for a store in `dir/audit`, with an external checkpoint file.
pub fn config(dir: &Path) -> AuditConfig {
    let mut cfg = AuditConfig::new(dir.join("audit"));
    cfg.checkpoint_file = Some(dir.join("checkpoints.jsonl"));
    cfg.checkpoint_every = 1000;
    cfg.checkpoint_interval = Duration::from_secs(60);
    cfg
}

/// A realistic "action decided" event.
pub fn decided(i: u64, user: &str, target: &str, decision: &str) -> Event {
    let mut ev = Event::new(EventKind::ActionDecided);
    let actor = Actor {
        name: user.to_string(),
        roles: vec!["dev".into()],
        client_addr: Some("10.0.0.7:51234".into()),
        alerts: Vec::new(),
    };
    ev.actor = Some(actor.clone());
    ev.target = Some(target.to_string());
    ev.protocol = Some(Protocol::Postgres);
    ev.session = Some(format!("s-{}", i % 97));
    ev.action = Some(Action {
        protocol: Protocol::Postgres,
        user: actor,
        target: TargetRef {
            name: target.to_string(),
            labels: [("env".to_string(), "prod".to_string())].into(),
        },
        session: Some(format!("s-{}", i % 97)),
        raw: format!("UPDATE accounts SET balance = balance - 1 WHERE id = {i}"),
        facts: Facts::None,
    });
    ev.verdict = Some(VerdictSummary {
        decision: decision.to_string(),
        rules: vec!["prod-writes".into()],
        dry_run: vec![],
        message: None,
    });
    ev
}
