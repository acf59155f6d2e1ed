//! warden.yaml's users reloaded live through a real gateway: anna and bert log in with
//! psql; the file is rewritten (bert removed, carl added, anna given another role) and
//! reloaded; carl logs in, bert is refused, the chain holds `config_reloaded` with the
//! convention's detail, and privilege-change alerts name all three in the API. A broken
//! file keeps the users and is audited with its diagnostics; a changed target is
//! reported as needing a restart.

mod live_support;

use std::path::Path;
use std::time::{Duration, Instant};

use live_support::psql_as;
use warden_app::config_reload::ConfigReloadOutcome;
use warden_audit::EventKind;
use warden_config::{Config, ScramVerifier};
use warden_gate::auth::password::hash_password;
use warden_policy::PolicySet;

const PW: &str = "reload-test-password";

fn user(name: &str, roles: &str) -> String {
    format!(
        "  - name: {name}\n    roles: [{roles}]\n    password_hash: \"{}\"\n    scram_sha256: \"{}\"\n",
        hash_password(PW).expect("hash"),
        ScramVerifier::generate(PW).to_text()
    )
}

fn yaml(users: &str, label: &str) -> String {
    format!(
        r#"web: {{ listen: 127.0.0.1:0 }}
audit: {{ path: ./audit }}
data_dir: ./data
users:
{users}targets:
  - name: app-db
    protocol: postgres
    listen: 127.0.0.1:0
    upstream: 127.0.0.1:5432
    upstream_user: postgres
    labels: {{ tier: {label} }}
"#
    )
}

/// Replace the file in one step (write aside, rename), as editors do.
fn rewrite(file: &Path, text: &str) {
    let aside = file.with_extension("yaml.new");
    std::fs::write(&aside, text).expect("write");
    std::fs::rename(&aside, file).expect("rename");
}

async fn login(port: u16, name: &'static str) -> (Option<i32>, String) {
    tokio::task::spawn_blocking(move || psql_as(port, name, "postgres", PW, "SELECT 1"))
        .await
        .expect("join")
}

async fn details(audit: &warden_audit::AuditLog, kind: EventKind) -> Vec<String> {
    let audit = audit.clone();
    tokio::task::spawn_blocking(move || {
        audit
            .query(&warden_audit::Query {
                limit: 1000,
                ..Default::default()
            })
            .expect("query")
            .records
            .into_iter()
            .filter(|r| r.event.kind == kind)
            .map(|r| r.event.detail.unwrap_or_default())
            .collect()
    })
    .await
    .expect("join")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_added_removed_and_regranted_at_a_reload_apply_and_raise_privilege_change() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("warden.yaml");
    let sec = user("sec", "security");
    let before = format!(
        "{}{}{sec}",
        user("anna", "developer"),
        user("bert", "developer")
    );
    std::fs::write(&file, yaml(&before, "prod")).expect("write");
    let config = Config::load(&file).expect("valid config");
    let gateway = warden_app::gateway::start(&config, PolicySet::empty(), None)
        .await
        .expect("gateway starts");
    let console = format!("http://{}", gateway.started.console);
    let port = gateway.started.targets[0].2.port();
    let reloader = gateway
        .running
        .config_reloader
        .clone()
        .expect("a config read from a file reloads");
    let audit = gateway.running.audit.clone();

    let (code, err) = login(port, "bert").await;
    assert_eq!(code, Some(0), "bert before the reload: {err}");
    let (code, _) = login(port, "carl").await;
    assert_ne!(code, Some(0), "carl before he exists");

    let after = format!(
        "{}{}{sec}",
        user("anna", "developer, dba"),
        user("carl", "developer")
    );
    rewrite(&file, &yaml(&after, "prod"));
    // The file watcher may have reloaded first; then this one finds nothing new.
    let outcome = reloader.reload(false).await;
    assert!(
        matches!(
            outcome,
            ConfigReloadOutcome::Reloaded { .. } | ConfigReloadOutcome::Unchanged
        ),
        "{outcome:?}"
    );

    let (code, err) = login(port, "carl").await;
    assert_eq!(code, Some(0), "carl after the reload: {err}");
    let (code, err) = login(port, "bert").await;
    assert_ne!(code, Some(0), "bert logged in after his removal");
    assert!(
        err.contains("password authentication failed") || err.contains("authentication"),
        "{err}"
    );
    let (code, err) = login(port, "anna").await;
    assert_eq!(code, Some(0), "anna keeps logging in: {err}");

    let reloaded = details(&audit, EventKind::ConfigReloaded).await;
    assert_eq!(
        reloaded,
        ["users added: carl; users removed: bert; roles changed: anna"],
        "one reload, names only"
    );
    assert!(details(&audit, EventKind::ConfigReloadFailed)
        .await
        .is_empty());

    // The privilege-change detector reads the record: one alert per changed user.
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    let users = loop {
        let v: serde_json::Value = client
            .get(format!("{console}/api/v1/alerts?detector=privilege-change"))
            .basic_auth("sec", Some(PW))
            .send()
            .await
            .expect("GET alerts")
            .json()
            .await
            .expect("alerts JSON");
        let mut users: Vec<String> = v["alerts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a["user"].as_str().map(str::to_string))
            .collect();
        users.sort();
        if users.len() >= 3 || Instant::now() > deadline {
            break users;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(users, ["anna", "bert", "carl"]);

    // A broken file keeps everyone; its diagnostics are audited.
    rewrite(&file, &yaml(&after, "prod").replace("roles:", "rolez:"));
    let outcome = reloader.reload(true).await;
    let ConfigReloadOutcome::Rejected { diagnostics } = outcome else {
        panic!("a broken file must be rejected: {outcome:?}");
    };
    assert!(diagnostics.contains("rolez"), "{diagnostics}");
    let failed = details(&audit, EventKind::ConfigReloadFailed).await;
    assert!(failed.iter().any(|d| d.contains("rolez")), "{failed:?}");
    assert!(
        failed.iter().all(|d| !d.contains("$argon2")),
        "a secret in the audit"
    );
    let (code, err) = login(port, "carl").await;
    assert_eq!(code, Some(0), "carl after a rejected reload: {err}");

    // Another section changed: reported, not applied.
    rewrite(&file, &yaml(&after, "staging"));
    let outcome = reloader.reload(true).await;
    assert_eq!(
        outcome,
        ConfigReloadOutcome::Reloaded {
            detail: "restart needed for: targets".into()
        }
    );
    assert_eq!(gateway.running.targets[0].config.labels["tier"], "prod");

    gateway.stop().await.expect("clean stop");
}
