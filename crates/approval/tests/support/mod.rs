//! Shared by the approval tests: a real sled store and audit log in a temporary
//! folder, and the actions, actors and verdicts the tests hold.

#![allow(dead_code)]

use std::time::Duration;

use warden_approval::{ApprovalBackend, Approvals, Held};
use warden_audit::{AuditConfig, AuditLog, EventKind, Query, Record};
use warden_inspect::{Action, Actor, Facts, Protocol, TargetRef};
use warden_policy::{ApprovalSpec, Decision, Mode, RuleHit, Verdict};

pub struct Fixture {
    pub _dir: tempfile::TempDir,
    pub db_path: std::path::PathBuf,
    pub audit: AuditLog,
    pub approvals: Approvals,
}

pub fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let audit = AuditLog::open(AuditConfig::new(dir.path().join("audit"))).expect("audit");
    let db_path = dir.path().join("approvals");
    let db = sled::open(&db_path).expect("sled");
    let approvals = Approvals::open(
        ApprovalBackend::Sled(db.clone()),
        audit.clone(),
        "http://console.test".into(),
    )
    .expect("open");
    Fixture {
        _dir: dir,
        db_path,
        audit,
        approvals,
    }
}

pub fn actor(name: &str, roles: &[&str]) -> Actor {
    Actor {
        name: name.into(),
        roles: roles.iter().map(|r| r.to_string()).collect(),
        client_addr: None,
        alerts: Vec::new(),
    }
}

pub fn action(user: &str, raw: &str) -> Action {
    Action {
        protocol: Protocol::Postgres,
        user: actor(user, &["developer", "dba"]),
        target: TargetRef {
            name: "prod-db".into(),
            labels: Default::default(),
        },
        session: Some("s-1".into()),
        raw: raw.into(),
        facts: Facts::None,
    }
}

pub fn verdict(required: u32, timeout: Duration, wait: bool) -> Verdict {
    Verdict {
        decision: Decision::Hold,
        matched: vec![RuleHit {
            rule: "unbounded-writes-need-approval".into(),
            file: "p.yaml".into(),
            decision: Decision::Hold,
            mode: Mode::Enforce,
            message: None,
        }],
        dry_run: Vec::new(),
        message: "unbounded write".into(),
        rule: "unbounded-writes-need-approval".into(),
        approval: Some(ApprovalSpec {
            approver_roles: vec!["dba".into()],
            approver_users: vec![],
            required,
            timeout,
            wait,
        }),
    }
}

pub const MIN: Duration = Duration::from_secs(60);

/// The first 1,000 records of `audit`, oldest first.
pub fn records(audit: &AuditLog) -> Vec<Record> {
    let page = audit
        .query(&Query {
            limit: 1000,
            ..Query::default()
        })
        .expect("query");
    let mut records = page.records;
    records.reverse();
    records
}

/// The kinds of `audit`'s records, oldest first.
pub fn kinds(audit: &AuditLog) -> Vec<EventKind> {
    records(audit).iter().map(|r| r.event.kind).collect()
}

/// The approval ids named by `kind` records in `audit`, oldest first.
pub fn named(audit: &AuditLog, kind: EventKind) -> Vec<String> {
    records(audit)
        .iter()
        .filter(|r| r.event.kind == kind)
        .filter_map(|r| r.event.approval.as_ref().map(|a| a.id.clone()))
        .collect()
}

pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let dest = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), &dest).expect("copy");
        }
    }
}

/// The fixture's store as a crash leaves it (a copy of its folder: the live handle keeps
/// its lock), reopened against `audit` as a restarted gateway opens it (recovery runs).
pub fn reopen(f: &Fixture, name: &str, audit: &AuditLog) -> Approvals {
    let copy = f._dir.path().join(name);
    copy_dir(&f.db_path, &copy);
    let db = sled::open(&copy).expect("reopen");
    Approvals::open(
        ApprovalBackend::Sled(db),
        audit.clone(),
        "http://console.test".into(),
    )
    .expect("open again")
}

/// Alice's `raw` held for one dba within `timeout`; `retry` for retry mode.
pub async fn hold(approvals: &Approvals, raw: &str, timeout: Duration, retry: bool) -> Held {
    approvals
        .request(&action("alice", raw), &verdict(1, timeout, !retry), retry)
        .await
        .expect("request")
}
