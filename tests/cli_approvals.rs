//! `warden approvals list|show|approve|deny` against a real console on a real socket.

use std::process::{Command, Output};
use std::time::Duration;

use warden_approval::{Approvals, Resolution};
use warden_audit::{AuditConfig, AuditLog};
use warden_gate::auth::{LoginThrottle, User, UserDirectory};
use warden_inspect::{Action, Actor, Facts, Protocol, TargetRef};
use warden_policy::{ApprovalSpec, Decision, PolicySet, PolicyStore, Verdict};
use warden_web::WebState;

mod cli_support;
use cli_support::cheap_password_hash;

const PW: &str = "cli-test-password";

fn user(name: &str, role: &str) -> User {
    User {
        name: name.into(),
        roles: vec![role.into()],
        password_hash: Some(cheap_password_hash(PW)),
        scram: None,
        mysql_native: None,
        ssh_authorized_keys: Vec::new(),
        token_hashes: Vec::new(),
        service: false,
    }
}

fn verdict() -> Verdict {
    Verdict {
        decision: Decision::Hold,
        matched: vec![],
        dry_run: vec![],
        message: "unbounded write".into(),
        rule: "unbounded-writes-need-approval".into(),
        approval: Some(ApprovalSpec {
            approver_roles: vec!["dba".into()],
            ..ApprovalSpec::default()
        }),
    }
}

fn action(raw: &str) -> Action {
    Action {
        protocol: Protocol::Postgres,
        user: Actor {
            name: "alice".into(),
            roles: vec!["developer".into()],
            client_addr: None,
            alerts: Vec::new(),
        },
        target: TargetRef {
            name: "prod-db".into(),
            labels: Default::default(),
        },
        session: None,
        raw: raw.into(),
        facts: Facts::None,
    }
}

async fn warden(args: Vec<String>, password: &str) -> Output {
    let password = password.to_string();
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_warden"))
            .args(&args)
            .env("WARDEN_PASSWORD", password)
            .env_remove("WARDEN_URL")
            .env_remove("WARDEN_USER")
            .output()
            .expect("run warden")
    })
    .await
    .expect("join")
}

fn args(base: &str, user: &str, rest: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = vec!["approvals".into()];
    v.extend(rest.iter().map(|s| s.to_string()));
    v.extend([
        "--url".to_string(),
        base.to_string(),
        "--user".to_string(),
        user.to_string(),
    ]);
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approvals_cli_lists_shows_and_decides() {
    let dir = tempfile::tempdir().expect("tempdir");
    let audit = AuditLog::open(AuditConfig::new(dir.path().join("audit"))).expect("audit");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let approvals =
        Approvals::open_path(&dir.path().join("approvals"), audit.clone(), base.clone())
            .expect("approvals");
    let state = WebState {
        approvals: approvals.clone(),
        audit,
        policies: PolicyStore::new(PolicySet::empty()),
        users: std::sync::Arc::new(UserDirectory::new([
            user("alice", "developer"),
            user("bob", "dba"),
        ])),
        throttle: std::sync::Arc::new(LoginThrottle::default()),
        public_url: base.clone(),
        secure_cookies: false,
        notifications: vec![],
        targets: vec![],
        alerts: None,
        proposals: None,
        fleet_audit: None,
        oidc: None,
        counters: None,
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(warden_web::serve(listener, state, async move {
        let _ = stopped.await;
    }));

    let long = format!("DELETE FROM accounts -- {}", "x".repeat(200));
    let held = approvals
        .request(&action(&long), &verdict(), false)
        .await
        .expect("hold");
    let id = held.id.clone();
    let waiter = tokio::spawn(held.wait());

    let out = warden(args(&base, "bob", &["list"]), PW).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&id) && stdout.contains("alice") && stdout.contains("truncated"),
        "{stdout}"
    );

    let out = warden(args(&base, "bob", &["show", &id]), PW).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        stdout.contains(&long),
        "show prints the statement in full: {stdout}"
    );

    let out = warden(args(&base, "bob", &["list"]), "wrong").await;
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("401"));

    let out = warden(args(&base, "alice", &["approve", &id]), PW).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot approve"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = warden(
        args(&base, "bob", &["approve", &id, "--reason", "looks fine"]),
        PW,
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("approved"));
    let res = tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .expect("in time")
        .expect("join");
    assert_eq!(
        res,
        Resolution::Approved {
            approvers: vec!["bob".into()]
        }
    );

    let held = approvals
        .request(
            &action("UPDATE accounts SET balance = 0"),
            &verdict(),
            false,
        )
        .await
        .expect("hold");
    let id2 = held.id.clone();
    let out = warden(
        args(&base, "bob", &["deny", &id2, "--reason", "no", "--json"]),
        PW,
    )
    .await;
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json output");
    assert_eq!(v["state"], "denied");
    let res = tokio::time::timeout(Duration::from_secs(5), held.wait())
        .await
        .expect("in time");
    assert!(matches!(res, Resolution::Denied { .. }));

    let out = warden(args(&base, "bob", &["list", "--state", "denied"]), PW).await;
    assert!(String::from_utf8_lossy(&out.stdout).contains(&id2));
    let out = warden(args(&base, "bob", &["list", "--state", "bogus"]), PW).await;
    assert_eq!(out.status.code(), Some(1));

    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(10), server).await;
}
