//! Policy drift through a real gateway: every start and reload records the SHA-256 of
//! warden.yaml and of every policy file; a policy file edited on disk without review
//! raises a `config-drift` alert with the unified diff — applied under
//! `policy_changes: alert`, refused (the running policy stays) under `require_review`;
//! a change proposed through the API and approved by an admin is written, applied, and
//! raises no alert.

use std::path::Path;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use warden_audit::{AuditLog, EventKind, Query, Record};
use warden_config::Config;
use warden_gate::auth::password::hash_password;
use warden_policy::PolicySet;

const PW: &str = "policy-drift-password";
const ONE: &str = "version: 1\nrules:\n  - name: no-drop\n    when: { sql: { statements: [drop] } }\n    action: deny\n";
const TWO: &str = "version: 1\nrules:\n  - name: no-drop\n    when: { sql: { statements: [drop] } }\n    action: deny\n  - name: no-delete\n    when: { sql: { statements: [delete] } }\n    action: deny\n";
const THREE: &str = "version: 1\nrules:\n  - name: no-drop\n    when: { sql: { statements: [drop] } }\n    action: deny\n  - name: no-truncate\n    when: { sql: { statements: [truncate] } }\n    action: deny\n  - name: no-grant\n    when: { sql: { statements: [grant] } }\n    action: deny\n";

fn hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

struct Setup {
    _dir: tempfile::TempDir,
    policy: std::path::PathBuf,
    work: std::path::PathBuf,
    config: Config,
    gateway: warden_app::Gateway,
    console: String,
    client: reqwest::Client,
}

async fn setup(mode: &str) -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let folder = dir.path().join("policies");
    std::fs::create_dir_all(&folder).expect("mkdir");
    let work = dir.path().join("checkout");
    std::fs::create_dir_all(&work).expect("mkdir");
    let policy = folder.join("main.yaml");
    std::fs::write(&policy, ONE).expect("write");
    let hash = hash_password(PW).expect("hash");
    let file = dir.path().join("warden.yaml");
    let text = format!(
        "web: {{ listen: 127.0.0.1:0 }}\naudit: {{ path: ./audit }}\ndata_dir: ./data\npolicies: [./policies]\npolicy_changes: {mode}\nusers:\n  - name: alice\n    roles: [developer]\n    password_hash: \"{hash}\"\n  - name: bob\n    roles: [admin]\n    password_hash: \"{hash}\"\n  - name: sec\n    roles: [security]\n    password_hash: \"{hash}\"\n"
    );
    std::fs::write(&file, text).expect("write");
    let config = Config::load(&file).expect("valid config");
    let set = PolicySet::load(&config.policies).expect("policies");
    let gateway = warden_app::gateway::start(&config, set, None)
        .await
        .expect("gateway starts");
    let console = format!("http://{}", gateway.started.console);
    Setup {
        _dir: dir,
        policy,
        work,
        config,
        gateway,
        console,
        client: reqwest::Client::new(),
    }
}

/// Replace a file the way editors do.
fn rewrite(file: &Path, text: &str) {
    let aside = file.with_extension("yaml.tmp");
    std::fs::write(&aside, text).expect("write");
    std::fs::rename(&aside, file).expect("rename");
}

async fn records(audit: &AuditLog, kind: EventKind) -> Vec<Record> {
    let audit = audit.clone();
    tokio::task::spawn_blocking(move || {
        audit
            .query(&Query {
                limit: 10_000,
                ..Query::default()
            })
            .expect("query")
            .records
            .into_iter()
            .filter(|r| r.event.kind == kind)
            .collect()
    })
    .await
    .expect("join")
}

async fn drift_alerts(s: &Setup) -> Vec<serde_json::Value> {
    let v: serde_json::Value = s
        .client
        .get(format!("{}/api/v1/alerts?detector=config-drift", s.console))
        .basic_auth("sec", Some(PW))
        .send()
        .await
        .expect("GET alerts")
        .json()
        .await
        .expect("JSON");
    v["alerts"].as_array().cloned().unwrap_or_default()
}

async fn wait_alerts(s: &Setup, n: usize) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let found = drift_alerts(s).await;
        if found.len() >= n {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "no config-drift alert: {found:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn rules(s: &Setup) -> usize {
    s.gateway.running.policies.current().rules().count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreviewed_edit_is_applied_with_an_alert_carrying_the_diff() {
    let s = setup("alert").await;
    let audit = s.gateway.running.audit.clone();
    let loaded = records(&audit, EventKind::FilesLoaded).await;
    let detail = loaded[0].event.detail.clone().unwrap_or_default();
    // `<sha256>  <path>` lines: the policy file as configured (`./policies/main.yaml`).
    assert!(
        detail
            .lines()
            .any(|l| l.starts_with(&format!("{}  ", hex(ONE.as_bytes())))
                && l.ends_with("policies/main.yaml")),
        "{detail}"
    );
    assert!(detail.contains("warden.yaml"), "{detail}");

    rewrite(&s.policy, TWO);
    let found = wait_alerts(&s, 1).await;
    let text = found[0]["explanation"].as_str().unwrap_or_default();
    assert!(
        text.contains("policy files changed on disk without review"),
        "{text}"
    );
    assert!(text.contains("applied (policy_changes: alert)"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("--- a/") && l.ends_with("policies/main.yaml")),
        "{text}"
    );
    assert!(text.contains("+  - name: no-delete\n"), "{text}");
    assert_eq!(rules(&s), 2, "applied");
    let loaded = records(&audit, EventKind::FilesLoaded).await;
    assert!(loaded.iter().any(|r| r
        .event
        .detail
        .as_deref()
        .is_some_and(|d| d.contains(&hex(TWO.as_bytes())))));
    s.gateway.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn require_review_refuses_an_edit_and_applies_an_approved_proposal_without_alert() {
    let s = setup("require_review").await;
    let audit = s.gateway.running.audit.clone();

    rewrite(&s.policy, TWO);
    let found = wait_alerts(&s, 1).await;
    let text = found[0]["explanation"].as_str().unwrap_or_default();
    assert!(
        text.contains("NOT applied (policy_changes: require_review)"),
        "{text}"
    );
    assert!(text.contains("+  - name: no-delete\n"), "{text}");
    assert_eq!(rules(&s), 1, "the running policy stays");

    // The reviewed path: alice proposes from her checkout, bob (admin) approves.
    let copy = s.work.join("main.yaml");
    std::fs::write(&copy, THREE).expect("write");
    let body = serde_json::json!({
        "files": [{ "path": copy.display().to_string(), "content": THREE }],
        "reason": "block truncate and grant"
    });
    let resp = s
        .client
        .post(format!("{}/api/v1/policies/proposals", s.console))
        .basic_auth("alice", Some(PW))
        .json(&body)
        .send()
        .await
        .expect("propose");
    assert_eq!(resp.status().as_u16(), 201);
    let proposal: serde_json::Value = resp.json().await.expect("JSON");
    let id = proposal["id"].as_str().expect("id").to_string();
    assert!(
        proposal["diff"]
            .as_str()
            .unwrap_or_default()
            .contains("+  - name: no-truncate"),
        "{proposal}"
    );
    assert_eq!(proposal["approver_roles"], serde_json::json!(["admin"]));

    // The inbox's request page shows the diff to the approver.
    let page = s
        .client
        .get(format!("{}/approvals/{id}", s.console))
        .basic_auth("bob", Some(PW))
        .send()
        .await
        .expect("GET request page")
        .text()
        .await
        .expect("page");
    assert!(page.contains("+  - name: no-truncate"), "{page}");
    assert!(
        page.contains("block truncate and grant"),
        "the reason is shown"
    );

    let own = s
        .client
        .post(format!("{}/api/v1/approvals/{id}/approve", s.console))
        .basic_auth("alice", Some(PW))
        .send()
        .await
        .expect("approve own");
    assert!(own.status().is_client_error(), "no self-approval");
    assert_eq!(rules(&s), 1);

    let ok = s
        .client
        .post(format!("{}/api/v1/approvals/{id}/approve", s.console))
        .basic_auth("bob", Some(PW))
        .send()
        .await
        .expect("approve");
    assert!(
        ok.status().is_success(),
        "{}",
        ok.text().await.unwrap_or_default()
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while rules(&s) != 3 {
        assert!(
            Instant::now() < deadline,
            "the approved set was not applied"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        std::fs::read_to_string(&s.policy).expect("read"),
        THREE,
        "disk agrees"
    );
    let applied = records(&audit, EventKind::PolicyProposalApplied).await;
    assert_eq!(applied.len(), 1);
    assert_eq!(
        applied[0].event.approval.as_ref().map(|a| a.id.as_str()),
        Some(id.as_str())
    );
    // The file watcher sees the write too: still only the one (earlier) alert.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(drift_alerts(&s).await.len(), 1);
    assert_eq!(rules(&s), 3);

    // An invalid proposal is refused with its diagnostics.
    let bad = serde_json::json!({ "files": [{ "path": copy.display().to_string(), "content": "version: 1\nrules:\n  - name: x\n    whn: {}\n    action: deny\n" }] });
    let resp = s
        .client
        .post(format!("{}/api/v1/policies/proposals", s.console))
        .basic_auth("alice", Some(PW))
        .json(&bad)
        .send()
        .await
        .expect("propose");
    assert_eq!(resp.status().as_u16(), 400);
    let msg = resp.text().await.unwrap_or_default();
    assert!(msg.contains("whn"), "{msg}");
    s.gateway.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_made_while_warden_was_stopped_is_reported_at_the_next_start() {
    let mut s = setup("alert").await;
    // A restart with the same files raises nothing.
    s.gateway.stop().await.expect("clean stop");
    let set = PolicySet::load(&s.config.policies).expect("policies");
    s.gateway = warden_app::gateway::start(&s.config, set, None)
        .await
        .expect("restart");
    s.console = format!("http://{}", s.gateway.started.console);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(drift_alerts(&s).await.is_empty());

    s.gateway.stop().await.expect("clean stop");
    std::fs::write(&s.policy, TWO).expect("write");
    let set = PolicySet::load(&s.config.policies).expect("policies");
    s.gateway = warden_app::gateway::start(&s.config, set, None)
        .await
        .expect("restart");
    s.console = format!("http://{}", s.gateway.started.console);
    let found = wait_alerts(&s, 1).await;
    let text = found[0]["explanation"].as_str().unwrap_or_default();
    assert!(
        text.contains("1 policy file(s) changed while Warden was stopped"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "({} → {})",
            hex(ONE.as_bytes()),
            hex(TWO.as_bytes())
        )),
        "{text}"
    );
    s.gateway.stop().await.expect("clean stop");
}
