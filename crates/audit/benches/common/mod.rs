//! Shared by the audit benches: a realistic event (≈ 600 bytes encoded).

use warden_audit::{Event, EventKind, VerdictSummary};
use warden_inspect::{Action, Actor, Facts, Protocol, TargetRef};

pub fn event(i: u64) -> Event {
    let mut ev = Event::new(EventKind::ActionDecided);
    let actor = Actor {
        name: format!("user{}", i % 50),
        roles: vec!["dev".into(), "oncall".into()],
        client_addr: Some("10.1.2.3:54321".into()),
        alerts: Vec::new(),
    };
    ev.actor = Some(actor.clone());
    ev.target = Some(format!("db{}", i % 7));
    ev.protocol = Some(Protocol::Postgres);
    ev.session = Some(format!("sess-{}", i % 1000));
    ev.action = Some(Action {
        protocol: Protocol::Postgres,
        user: actor,
        target: TargetRef {
            name: format!("db{}", i % 7),
            labels: [("env".to_string(), "prod".to_string())].into(),
        },
        session: Some(format!("sess-{}", i % 1000)),
        raw: format!("UPDATE orders SET status = 'shipped' WHERE id = {i} AND tenant = 42"),
        facts: Facts::None,
    });
    ev.verdict = Some(VerdictSummary {
        decision: if i.is_multiple_of(10) {
            "deny"
        } else {
            "allow"
        }
        .into(),
        rules: vec!["prod-writes-need-where".into()],
        dry_run: vec![],
        message: None,
    });
    ev
}
