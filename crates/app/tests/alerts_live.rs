//! Behaviour analytics live, through real clients: wrong passwords with psql through a
//! real gateway raise a `failed-login-burst` alert that the API shows within a second
//! and a local webhook receives; its lock refuses the next (correct) login with the
//! alert named, audited; resolving the alert through the API lifts the lock.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use warden_config::{Config, ScramVerifier};
use warden_gate::auth::password::hash_password;
use warden_policy::PolicySet;

mod live_support;
use live_support::{admin, psql_as};

const ALICE_PW: &str = "alice-right-password";
const SEC_PW: &str = "security-password";

/// A webhook receiver: answers 200 to every POST and hands over each body.
async fn webhook_receiver() -> (SocketAddr, mpsc::UnboundedReceiver<String>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let n = match sock.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    let Some((head, body)) = text.split_once("\r\n\r\n") else {
                        continue;
                    };
                    let len = head
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse().ok())?
                        })
                        .unwrap_or(0usize);
                    if body.len() < len {
                        continue;
                    }
                    let _ = tx.send(body.to_string());
                    let _ = sock
                        .write_all(
                            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                        )
                        .await;
                    return;
                }
            });
        }
    });
    (addr, rx)
}

/// psql through the gateway; (exit code, stderr).
fn psql(port: u16, password: &str) -> (Option<i32>, String) {
    psql_in(port, "postgres", password, "SELECT 1")
}

/// `sql` through the gateway as alice in database `db`; (exit code, stderr).
fn psql_in(port: u16, db: &str, password: &str, sql: &str) -> (Option<i32>, String) {
    psql_as(port, "alice", db, password, sql)
}

/// A gateway in front of the machine's PostgreSQL with alice (developer, password and
/// SCRAM), sec (security) and bob (developer, sec's password); `extra` adds top-level keys.
fn gateway_yaml(extra: &str) -> String {
    format!(
        r#"web: {{ listen: 127.0.0.1:0 }}
audit: {{ path: ./audit }}
data_dir: ./data
users:
  - name: alice
    roles: [developer]
    password_hash: "{alice_hash}"
    scram_sha256: "{alice_scram}"
  - name: sec
    roles: [security]
    password_hash: "{sec_hash}"
  - name: bob
    roles: [developer]
    password_hash: "{sec_hash}"
targets:
  - name: app-db
    protocol: postgres
    listen: 127.0.0.1:0
    upstream: 127.0.0.1:5432
    upstream_user: postgres
{extra}"#,
        alice_hash = hash_password(ALICE_PW).expect("hash"),
        alice_scram = ScramVerifier::generate(ALICE_PW).to_text(),
        sec_hash = hash_password(SEC_PW).expect("hash"),
    )
}

/// `GET /api/v1/alerts` as the security user: alice's alerts of one detector.
async fn alerts(client: &reqwest::Client, console: &str, detector: &str) -> serde_json::Value {
    client
        .get(format!(
            "{console}/api/v1/alerts?detector={detector}&user=alice"
        ))
        .basic_auth("sec", Some(SEC_PW))
        .send()
        .await
        .expect("GET alerts")
        .json()
        .await
        .expect("alerts JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_psql_login_burst_raises_an_alert_whose_lock_refuses_logins_until_resolved() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (hook, mut hooked) = webhook_receiver().await;
    let extra = format!(
        r#"notifications:
  - webhook: http://{hook}/hooks/alerts
    on: [alert]
analytics:
  detectors:
    failed-login-burst: {{ threshold: 3, window: 10m, lock: 15m }}
"#
    );
    let yaml = gateway_yaml(&extra);
    let config = Config::parse(&yaml, "warden.yaml", dir.path()).expect("valid config");
    let gateway = warden_app::gateway::start(&config, PolicySet::empty(), None)
        .await
        .expect("gateway starts");
    let console = format!("http://{}", gateway.started.console);
    let port = gateway.started.targets[0].2.port();
    let client = reqwest::Client::new();

    // Three wrong passwords (under the throttle's own limit of five).
    for _ in 0..3 {
        let (code, err) = tokio::task::spawn_blocking(move || psql(port, "wrong"))
            .await
            .expect("join");
        assert_ne!(code, Some(0), "a wrong password logged in");
        assert!(
            err.contains("password") || err.contains("authentication"),
            "{err}"
        );
    }
    let after_burst = Instant::now();
    let alert = loop {
        let v = alerts(&client, &console, "failed-login-burst").await;
        if let Some(a) = v["alerts"].as_array().and_then(|a| a.first()).cloned() {
            break a;
        }
        assert!(
            after_burst.elapsed() < Duration::from_secs(1),
            "no alert in the API within 1 s: {v}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(alert["status"], "open", "{alert}");
    assert_eq!(alert["severity"], "high", "{alert}");
    let why = alert["explanation"].as_str().expect("explanation");
    assert!(
        why.contains("alice") && why.contains("3 failed logins"),
        "{why}"
    );
    assert_eq!(
        alert["evidence"].as_array().map(Vec::len),
        Some(3),
        "{alert}"
    );
    let id = alert["id"].as_str().expect("id").to_string();

    let hooked_text = tokio::time::timeout(Duration::from_secs(10), hooked.recv())
        .await
        .expect("webhook delivered")
        .expect("webhook body");
    assert!(
        hooked_text.contains(&id) && hooked_text.contains("failed-login-burst"),
        "{hooked_text}"
    );

    // The lock refuses even the right password, naming the alert.
    let (code, err) = tokio::task::spawn_blocking(move || psql(port, ALICE_PW))
        .await
        .expect("join");
    assert_ne!(code, Some(0), "a locked user logged in");
    assert!(err.contains(&format!("locked by alert {id}")), "{err}");

    // The console's Alerts page shows it, with its numbers and evidence links.
    let page = client
        .get(format!("{console}/alerts?status=open"))
        .basic_auth("sec", Some(SEC_PW))
        .send()
        .await
        .expect("GET /alerts");
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("page");
    assert!(
        html.contains(&id) && html.contains("3 failed logins"),
        "{html}"
    );
    // Evidence is listed by seq; a security user may not open the audit log, so the
    // seqs are not links for them.
    assert!(html.contains("evidence: #"), "evidence listed");
    assert!(
        !html.contains("/audit?after="),
        "no link to a page sec may not open"
    );

    // The console refuses her too (one throttle, one lock for every entry point).
    let locked = client
        .get(format!("{console}/api/v1/approvals"))
        .basic_auth("alice", Some(ALICE_PW))
        .send()
        .await
        .expect("GET approvals");
    assert_eq!(locked.status(), 429);

    // Resolving needs the admin or security role and a reason; then alice is back.
    let denied = client
        .post(format!("{console}/api/v1/alerts/{id}/resolve"))
        .basic_auth("bob", Some(SEC_PW))
        .json(&serde_json::json!({ "reason": "not mine to say" }))
        .send()
        .await
        .expect("POST resolve");
    assert_eq!(denied.status(), 403);
    let no_reason = client
        .post(format!("{console}/api/v1/alerts/{id}/resolve"))
        .basic_auth("sec", Some(SEC_PW))
        .send()
        .await
        .expect("POST resolve");
    assert_eq!(no_reason.status(), 400);
    let resolved: serde_json::Value = client
        .post(format!("{console}/api/v1/alerts/{id}/resolve"))
        .basic_auth("sec", Some(SEC_PW))
        .json(&serde_json::json!({ "reason": "alice mistyped; confirmed by phone" }))
        .send()
        .await
        .expect("POST resolve")
        .json()
        .await
        .expect("JSON");
    assert_eq!(resolved["status"], "resolved", "{resolved}");
    assert_eq!(resolved["resolved_by"], "sec", "{resolved}");
    let (code, err) = tokio::task::spawn_blocking(move || psql(port, ALICE_PW))
        .await
        .expect("join");
    assert_eq!(
        code,
        Some(0),
        "alice cannot log in after the resolve: {err}"
    );

    // Everything is in the chain.
    let audit = gateway.running.audit.clone();
    let records = tokio::task::spawn_blocking(move || {
        audit
            .query(&warden_audit::Query {
                limit: 1000,
                ..Default::default()
            })
            .expect("query")
            .records
    })
    .await
    .expect("join");
    let kinds: Vec<_> = records.iter().map(|r| r.event.kind).collect();
    use warden_audit::EventKind::*;
    assert!(
        kinds.contains(&AlertRaised) && kinds.contains(&AlertResolved),
        "{kinds:?}"
    );
    assert!(
        records.iter().any(|r| r.event.kind == AuthFailed
            && r.event
                .detail
                .as_deref()
                .is_some_and(|d| d.starts_with("method=scram-sha-256; locked ("))),
        "the locked login is not audited"
    );
    gateway.stop().await.expect("clean stop");

    // A restart rebuilds the book from the chain and raises nothing again.
    let gateway = warden_app::gateway::start(&config, PolicySet::empty(), None)
        .await
        .expect("gateway restarts");
    let console = format!("http://{}", gateway.started.console);
    let deadline = Instant::now() + Duration::from_secs(10);
    let after = loop {
        let v = alerts(&client, &console, "failed-login-burst").await;
        let list = v["alerts"].as_array().cloned().unwrap_or_default();
        if !list.is_empty() || Instant::now() > deadline {
            break list;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!(after[0]["id"], id.as_str());
    assert_eq!(after[0]["status"], "resolved");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let audit = gateway.running.audit.clone();
    let raised = tokio::task::spawn_blocking(move || {
        audit
            .query(&warden_audit::Query {
                limit: 1000,
                ..Default::default()
            })
            .expect("query")
            .records
            .iter()
            .filter(|r| r.event.kind == AlertRaised)
            .count()
    })
    .await
    .expect("join");
    assert_eq!(raised, 1, "an alert was raised again after the restart");
    gateway.stop().await.expect("clean stop");
}

const PREVENTION: &str = r#"version: 1
rules:
  - name: writes-under-alert-need-security
    when:
      protocol: postgres
      user: { alerts: [privilege-change] }
      sql: { statements: [insert, update, delete] }
    action: hold
    message: open behaviour alert; writes need a security review
    approval: { approvers: { roles: [security] }, timeout: 10m, wait: false }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_raises_privilege_change_and_the_users_writes_are_held_until_it_is_resolved() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("warden_alerts_{}", std::process::id());
    admin("postgres", &format!("DROP DATABASE IF EXISTS {db}"));
    admin("postgres", &format!("CREATE DATABASE {db}"));
    admin(&db, "CREATE TABLE notes (id int)");
    std::fs::write(dir.path().join("policy.yaml"), PREVENTION).expect("policy");
    let yaml = gateway_yaml("policies: [./policy.yaml]\n");
    let config = Config::parse(&yaml, "warden.yaml", dir.path()).expect("valid config");
    let set = PolicySet::load(&config.policies).expect("policy");
    let gateway = warden_app::gateway::start(&config, set, None)
        .await
        .expect("gateway starts");
    let console = format!("http://{}", gateway.started.console);
    let port = gateway.started.targets[0].2.port();
    let client = reqwest::Client::new();
    let run = |sql: &'static str| {
        let db = db.clone();
        tokio::task::spawn_blocking(move || psql_in(port, &db, ALICE_PW, sql))
    };

    let (code, err) = run("INSERT INTO notes VALUES (1)").await.expect("join");
    assert_eq!(code, Some(0), "a write before any alert: {err}");
    let (code, err) = run("GRANT SELECT ON notes TO PUBLIC").await.expect("join");
    assert_eq!(code, Some(0), "the grant itself is allowed here: {err}");

    let started = Instant::now();
    let alert = loop {
        let v = alerts(&client, &console, "privilege-change").await;
        if let Some(a) = v["alerts"].as_array().and_then(|a| a.first()).cloned() {
            break a;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "no privilege-change alert: {v}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let id = alert["id"].as_str().expect("id").to_string();
    assert!(
        alert["explanation"]
            .as_str()
            .unwrap_or("")
            .contains("alice"),
        "{alert}"
    );

    let (code, err) = run("INSERT INTO notes VALUES (2)").await.expect("join");
    assert_ne!(code, Some(0), "a write under the alert ran");
    assert!(
        err.contains("writes-under-alert-need-security") || err.contains("approval"),
        "{err}"
    );
    assert_eq!(
        admin(&db, "SELECT count(*) FROM notes"),
        "1",
        "the held write reached the database"
    );

    let resolved = client
        .post(format!("{console}/api/v1/alerts/{id}/resolve"))
        .basic_auth("sec", Some(SEC_PW))
        .json(&serde_json::json!({ "reason": "grant was part of ticket OPS-12" }))
        .send()
        .await
        .expect("POST resolve");
    assert_eq!(resolved.status(), 200);
    let (code, err) = run("INSERT INTO notes VALUES (2)").await.expect("join");
    assert_eq!(code, Some(0), "the write after the resolve: {err}");
    assert_eq!(admin(&db, "SELECT count(*) FROM notes"), "2");
    gateway.stop().await.expect("clean stop");
    admin("postgres", &format!("DROP DATABASE IF EXISTS {db}"));
}
