//! A real console on a real socket, with a real audit log, store and users.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use argon2::password_hash::{PasswordHasher, SaltString};
use warden_approval::{Approvals, Held};
use warden_audit::{AuditConfig, AuditLog};
use warden_gate::auth::{LoginThrottle, User, UserDirectory};
use warden_inspect::{Action, Actor, Facts, Protocol, TargetRef};
use warden_policy::{ApprovalSpec, Decision, Mode, PolicySet, PolicyStore, RuleHit, Verdict};
use warden_web::{RetryPolicy, WebState, WebhookConfig};

pub const PASSWORD: &str = "correct horse battery staple";

pub struct Console {
    pub addr: SocketAddr,
    pub base: String,
    pub approvals: Approvals,
    pub audit: AuditLog,
    pub dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Console {
    /// Stops the server and waits (bounded) for it to drain.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let done = tokio::time::timeout(Duration::from_secs(10), &mut self.task).await;
        assert!(done.is_ok(), "server did not shut down within 10s");
    }
}

/// A cheap argon2id hash (tests only: low memory cost keeps debug builds fast).
pub fn hash(password: &str) -> String {
    let params = argon2::Params::new(1024, 1, 1, None).expect("params");
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let salt = SaltString::generate(&mut rand::thread_rng());
    argon
        .hash_password(password.as_bytes(), &salt)
        .expect("hash")
        .to_string()
}

fn user(name: &str, roles: &[&str]) -> User {
    User {
        name: name.into(),
        roles: roles.iter().map(|r| r.to_string()).collect(),
        password_hash: Some(hash(PASSWORD)),
        scram: None,
        mysql_native: None,
        ssh_authorized_keys: Vec::new(),
        token_hashes: Vec::new(),
        service: false,
    }
}

/// alice (developer: requests), bob + dave (dba: approve), carol (developer),
/// vera (viewer: reads audit), root (admin).
pub fn users() -> Vec<User> {
    vec![
        user("alice", &["developer"]),
        user("bob", &["dba"]),
        user("dave", &["dba"]),
        user("carol", &["developer"]),
        user("vera", &["viewer"]),
        user("root", &["admin"]),
    ]
}

pub async fn start(notifications: Vec<WebhookConfig>) -> Console {
    let dir = tempfile::tempdir().expect("tempdir");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let base = format!("http://{addr}");
    let stores = warden_app::stores::open_in(
        dir.path(),
        AuditConfig::new(dir.path().join("audit")),
        &base,
    )
    .expect("stores");
    let (audit, approvals) = (stores.audit, stores.approvals);
    let policies = PolicySet::from_sources(&[(
        "prod.yaml".to_string(),
        "version: 1\nrules:\n  - name: unbounded-writes-need-approval\n    when:\n      sql: { statements: [update, delete], without_where: true }\n    action: hold\n    approval: { approvers: { roles: [dba] }, required: 1, timeout: 15m }\n  - name: watch-selects\n    when:\n      sql: { statements: [select] }\n    action: deny\n    mode: dry_run\n".to_string(),
    )])
    .expect("policy");
    let state = WebState {
        approvals: approvals.clone(),
        audit: audit.clone(),
        policies: PolicyStore::new(policies),
        users: std::sync::Arc::new(UserDirectory::new(users())),
        throttle: std::sync::Arc::new(LoginThrottle::default()),
        public_url: base.clone(),
        secure_cookies: false,
        notifications,
        targets: vec![
            warden_web::WebTarget {
                name: "prod-db".into(),
                protocol: "postgres".into(),
                listen: "127.0.0.1:16432".into(),
                labels: [("env".to_string(), "production".to_string())].into(),
                host_key_fingerprint: None,
            },
            warden_web::WebTarget {
                name: "web-1".into(),
                protocol: "ssh".into(),
                listen: "127.0.0.1:2222".into(),
                labels: Default::default(),
                host_key_fingerprint: Some(
                    "SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8".into(),
                ),
            },
        ],
        alerts: None,
        proposals: None,
        fleet_audit: None,
        oidc: None,
        counters: Some(std::sync::Arc::new(|| {
            vec![warden_web::CounterFamily {
                name: "warden_gate_decisions_total",
                help: "Decisions by verdict.",
                gauge: false,
                samples: vec![
                    (Some(("decision", "allow")), 7),
                    (Some(("decision", "deny")), 2),
                ],
            }]
        })),
    };
    let retry = RetryPolicy {
        attempts: 3,
        first_backoff: Duration::from_millis(50),
        timeout: Duration::from_secs(2),
    };
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(warden_web::serve_with(listener, state, retry, async move {
        let _ = rx.await;
    }));
    Console {
        addr,
        base,
        approvals,
        audit,
        dir,
        stop: Some(tx),
        task,
    }
}

pub fn action(user: &str, raw: &str) -> Action {
    Action {
        protocol: Protocol::Postgres,
        user: Actor {
            name: user.into(),
            roles: vec!["developer".into()],
            client_addr: Some("127.0.0.1:5555".into()),
            alerts: Vec::new(),
        },
        target: TargetRef {
            name: "prod-db".into(),
            labels: [("env".to_string(), "production".to_string())].into(),
        },
        session: Some("sess-1".into()),
        raw: raw.into(),
        facts: Facts::None,
    }
}

pub fn hold_verdict(required: u32) -> Verdict {
    Verdict {
        decision: Decision::Hold,
        matched: vec![RuleHit {
            rule: "unbounded-writes-need-approval".into(),
            file: "prod.yaml".into(),
            decision: Decision::Hold,
            mode: Mode::Enforce,
            message: None,
        }],
        dry_run: Vec::new(),
        message: "Unbounded writes on production need a DBA's approval.".into(),
        rule: "unbounded-writes-need-approval".into(),
        approval: Some(ApprovalSpec {
            approver_roles: vec!["dba".into()],
            approver_users: vec![],
            required,
            timeout: Duration::from_secs(900),
            wait: true,
        }),
    }
}

pub async fn hold(console: &Console, user: &str, raw: &str) -> Held {
    console
        .approvals
        .request(&action(user, raw), &hold_verdict(1), false)
        .await
        .expect("request")
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}
