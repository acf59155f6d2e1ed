//! The access tally and report on hand-made records.

use time::OffsetDateTime;
use warden_audit::{Event, EventKind, Record, VerdictSummary};
use warden_inspect::{Action, Actor, Facts, Protocol, TargetRef};

use super::*;

fn actor(name: &str, roles: &[&str]) -> Actor {
    Actor {
        name: name.into(),
        roles: roles.iter().map(|r| r.to_string()).collect(),
        client_addr: None,
        alerts: Vec::new(),
    }
}

fn record(seq: u64, ev: Event) -> Record {
    Record {
        seq,
        time: OffsetDateTime::from_unix_timestamp(1_800_000_000 + seq as i64).expect("time"),
        prev_hash: String::new(),
        hash: String::new(),
        event: ev,
    }
}

fn decided(seq: u64, who: Actor, decision: &str, rules: &[&str], raw: &str) -> Record {
    let mut ev = Event::new(EventKind::ActionDecided);
    ev.target = Some("db".into());
    ev.verdict = Some(VerdictSummary {
        decision: decision.into(),
        rules: rules.iter().map(|r| r.to_string()).collect(),
        ..VerdictSummary::default()
    });
    ev.action = Some(Action {
        protocol: Protocol::Postgres,
        user: who.clone(),
        target: TargetRef {
            name: "db".into(),
            ..TargetRef::default()
        },
        session: None,
        raw: raw.into(),
        facts: Facts::None,
    });
    ev.actor = Some(who);
    record(seq, ev)
}

fn with_kind(seq: u64, kind: EventKind, who: Actor, rules: &[&str]) -> Record {
    let mut ev = Event::new(kind);
    ev.actor = Some(who);
    ev.target = Some("db".into());
    ev.verdict = Some(VerdictSummary {
        decision: "hold".into(),
        rules: rules.iter().map(|r| r.to_string()).collect(),
        ..VerdictSummary::default()
    });
    record(seq, ev)
}

fn inputs() -> Inputs {
    let acc = |n: &str, roles: &[&str], service: bool| Account {
        name: n.into(),
        roles: roles.iter().map(|r| r.to_string()).collect(),
        service,
    };
    let rule = |n: &str, roles: &[&str], approvers: &[&str], sensitive: bool| RuleFacts {
        name: n.into(),
        roles: roles.iter().map(|r| r.to_string()).collect(),
        approver_roles: approvers.iter().map(|r| r.to_string()).collect(),
        sensitive,
    };
    Inputs {
        accounts: vec![
            acc("alice", &["developer", "oncall"], false),
            acc("bob", &["dba"], false),
            acc("root", &["admin"], false),
            acc("etl", &["loader"], true),
        ],
        rules: vec![
            rule("dev-reads", &["developer"], &[], false),
            rule("big-delete", &[], &["dba"], false),
            rule("no-drop", &[], &[], true),
            rule("ghost-role", &["auditor"], &[], false),
        ],
    }
}

fn report(inputs: &Inputs, records: &[Record]) -> AccessReport {
    let mut t = AccessTally::new(inputs);
    for r in records {
        t.observe(r);
    }
    AccessReport::build(t, None, None)
}

fn counts(r: &AccessReport, role: &str) -> [u64; 4] {
    let row = r.roles.iter().find(|x| x.role == role).expect(role);
    let c = row.counts;
    [c.allowed, c.denied, c.held, c.failed_logins]
}

#[test]
fn decisions_and_failed_logins_count_per_role() {
    let i = inputs();
    let alice = actor("alice", &["developer", "oncall"]);
    let mut failed_alice = Event::new(EventKind::AuthFailed);
    failed_alice.actor = Some(actor("alice", &[]));
    let mut failed_ghost = Event::new(EventKind::AuthFailed);
    failed_ghost.actor = Some(actor("mallory", &[]));
    let r = report(
        &i,
        &[
            decided(1, alice.clone(), "allow", &["dev-reads"], "SELECT 1"),
            decided(2, alice.clone(), "deny", &["no-drop"], "DROP TABLE t"),
            decided(3, alice, "hold", &["big-delete"], "DELETE FROM t"),
            decided(4, actor("nobody", &[]), "allow", &[], "SELECT 2"),
            record(5, failed_alice),
            record(6, failed_ghost),
        ],
    );
    assert_eq!(counts(&r, "developer"), [1, 1, 1, 1]);
    assert_eq!(
        counts(&r, "oncall"),
        [1, 1, 1, 1],
        "a user counts under each role"
    );
    assert_eq!(counts(&r, NO_ROLE), [1, 0, 0, 0]);
    assert_eq!(counts(&r, UNKNOWN_USER), [0, 0, 0, 1]);
    assert_eq!(
        counts(&r, "dba"),
        [0, 0, 0, 0],
        "held roles appear even when idle"
    );
    let dev = r.roles.iter().find(|x| x.role == "developer").expect("dev");
    assert_eq!(dev.targets.len(), 1);
    assert_eq!(dev.targets[0].target, "db");
    assert_eq!(r.records, 6);
}

#[test]
fn roles_are_used_through_rules_and_approvals_and_idle_ones_are_named() {
    let i = inputs();
    let r = report(
        &i,
        &[
            decided(
                1,
                actor("alice", &["developer", "oncall"]),
                "allow",
                &["dev-reads"],
                "SELECT 1",
            ),
            with_kind(
                2,
                EventKind::ApprovalApproved,
                actor("bob", &["dba"]),
                &["big-delete"],
            ),
        ],
    );
    let uses = |u: &str| -> Vec<(String, bool)> {
        let row = r.users.iter().find(|x| x.user == u).expect(u);
        row.roles.iter().map(|x| (x.role.clone(), x.used)).collect()
    };
    assert_eq!(
        uses("alice"),
        vec![("developer".into(), true), ("oncall".into(), false)]
    );
    assert_eq!(uses("bob"), vec![("dba".into(), true)]);
    let bob = r.users.iter().find(|x| x.user == "bob").expect("bob");
    assert_eq!(bob.roles[0].via, vec!["approval".to_string()]);
    let alice = r.users.iter().find(|x| x.user == "alice").expect("alice");
    assert_eq!(alice.roles[0].via, vec!["rule dev-reads".to_string()]);
    // root holds admin and did nothing; bob's dba was used, so only root is listed.
    let unused: Vec<_> = r
        .unused_privileges
        .iter()
        .map(|u| (u.user.as_str(), u.role.as_str()))
        .collect();
    assert_eq!(unused, vec![("root", "admin")]);
    let idle: Vec<_> = r.idle_roles.iter().map(|x| x.role.as_str()).collect();
    assert_eq!(idle, vec!["admin", "auditor", "loader"]);
    let ghost = r
        .idle_roles
        .iter()
        .find(|x| x.role == "auditor")
        .expect("auditor");
    assert!(ghost.holders.is_empty());
    assert_eq!(ghost.named_by, vec!["ghost-role".to_string()]);
}

#[test]
fn an_approver_who_never_approved_is_unused_privilege() {
    let i = inputs();
    let r = report(&i, &[]);
    let bob = r
        .unused_privileges
        .iter()
        .find(|u| u.user == "bob")
        .expect("bob listed");
    assert_eq!(bob.role, "dba");
    assert!(bob.why.contains("big-delete"), "{}", bob.why);
}

#[test]
fn sensitive_actions_are_listed_for_people_not_services() {
    let i = inputs();
    let r = report(
        &i,
        &[
            decided(
                1,
                actor("alice", &["developer"]),
                "deny",
                &["no-drop"],
                "DROP TABLE t",
            ),
            decided(
                2,
                actor("bob", &["dba"]),
                "allow",
                &[],
                "GRANT SELECT ON t TO PUBLIC",
            ),
            decided(
                3,
                actor("etl", &["loader"]),
                "allow",
                &[],
                "GRANT SELECT ON t TO PUBLIC",
            ),
            decided(
                4,
                actor("etl", &["loader"]),
                "deny",
                &["no-drop"],
                "DROP TABLE t",
            ),
            decided(
                5,
                actor("alice", &["developer"]),
                "allow",
                &["dev-reads"],
                "SELECT 1",
            ),
        ],
    );
    let listed: Vec<_> = r
        .sensitive_actions
        .iter()
        .map(|a| (a.seq, a.user.as_str()))
        .collect();
    assert_eq!(listed, vec![(1, "alice"), (2, "bob")]);
    assert_eq!(r.sensitive_total, 2);
    assert_eq!(
        r.sensitive_actions[0].sensitive_rules,
        vec!["no-drop".to_string()]
    );
    assert!(r.sensitive_actions[1].privilege_change.is_some());
}

#[test]
fn the_sensitive_list_keeps_the_newest_and_counts_all() {
    let i = inputs();
    let alice = actor("alice", &["developer"]);
    let recs: Vec<Record> = (1..=(SENSITIVE_LIMIT as u64 + 5))
        .map(|s| decided(s, alice.clone(), "deny", &["no-drop"], "DROP TABLE t"))
        .collect();
    let r = report(&i, &recs);
    assert_eq!(r.sensitive_total, SENSITIVE_LIMIT as u64 + 5);
    assert_eq!(r.sensitive_actions.len(), SENSITIVE_LIMIT);
    assert_eq!(
        r.sensitive_actions[0].seq, 6,
        "the oldest five were dropped"
    );
}

#[test]
fn csv_quotes_what_needs_quoting_and_text_names_the_numbers() {
    let i = inputs();
    let r = report(
        &i,
        &[decided(
            1,
            actor("alice", &["developer"]),
            "deny",
            &["no-drop"],
            "DROP TABLE \"a,b\"",
        )],
    );
    let csv = to_csv(&r);
    assert!(csv.contains("\"#1 "), "{csv}");
    assert!(csv.contains("DROP TABLE \"\"a,b\"\"\""), "{csv}");
    assert!(
        csv.contains("\nrole,developer,,,0,1,0,0,holders: alice\n"),
        "{csv}"
    );
    let text = to_text(&r);
    assert!(text.contains("root holds admin"), "{text}");
    assert!(
        text.contains("Sensitive actions by human accounts: 1"),
        "{text}"
    );
}
