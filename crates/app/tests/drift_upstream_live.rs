//! Upstream drift, live against the machine's PostgreSQL: a gateway polls its postgres
//! target's catalogs every second. `ALTER TABLE` straight against PostgreSQL (around
//! Warden) raises a `config-drift` alert naming the table and the column within one
//! interval, shown by the alerts API and the /alerts page; so do a new role and a grant;
//! the same kinds of change made with psql through the gateway raise none. A target whose upstream cannot be reached
//! is audited once as `drift_poll_failed` and the gateway keeps serving.

mod live_support;

use std::time::{Duration, Instant};

use live_support::{admin, psql_as, scratch_db};
use warden_audit::{AuditLog, EventKind, Query, Record};
use warden_config::{Config, ScramVerifier};
use warden_gate::auth::password::hash_password;
use warden_policy::PolicySet;

const PW: &str = "drift-test-password";

fn yaml(db: &str, upstream: &str) -> String {
    format!(
        r#"web: {{ listen: 127.0.0.1:0 }}
audit: {{ path: ./audit }}
data_dir: ./data
users:
  - name: alice
    roles: [developer]
    password_hash: "{hash}"
    scram_sha256: "{scram}"
  - name: sec
    roles: [security]
    password_hash: "{hash}"
targets:
  - name: shop-db
    protocol: postgres
    listen: 127.0.0.1:0
    upstream: {upstream}
    upstream_user: postgres
    postgres:
      drift: {{ enabled: true, interval: 1s, database: {db} }}
"#,
        hash = hash_password(PW).expect("hash"),
        scram = ScramVerifier::generate(PW).to_text(),
    )
}

async fn records(audit: &AuditLog, kind: EventKind) -> Vec<Record> {
    let audit = audit.clone();
    tokio::task::spawn_blocking(move || {
        let page = audit
            .query(&Query {
                limit: 10_000,
                ..Query::default()
            })
            .expect("query");
        page.records
            .into_iter()
            .filter(|r| r.event.kind == kind)
            .collect()
    })
    .await
    .expect("join")
}

/// Wait (bounded) until a record of `kind` after `after` whose detail contains `needle`.
async fn wait_record(audit: &AuditLog, kind: EventKind, after: u64, needle: &str) -> Record {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let found = records(audit, kind).await.into_iter().find(|r| {
            r.seq > after
                && r.event
                    .detail
                    .as_deref()
                    .is_some_and(|d| d.contains(needle))
        });
        if let Some(r) = found {
            return r;
        }
        assert!(
            Instant::now() < deadline,
            "no {kind:?} record with {needle:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn drift_alerts(client: &reqwest::Client, console: &str) -> Vec<serde_json::Value> {
    let v: serde_json::Value = client
        .get(format!("{console}/api/v1/alerts?detector=config-drift"))
        .basic_auth("sec", Some(PW))
        .send()
        .await
        .expect("GET alerts")
        .json()
        .await
        .expect("alerts JSON");
    v["alerts"].as_array().cloned().unwrap_or_default()
}

/// Wait (bounded) for a config-drift alert whose explanation contains `needle` (other
/// tests on this PostgreSQL create roles too, so alerts are matched by content).
async fn wait_alert(client: &reqwest::Client, console: &str, needle: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found = drift_alerts(client, console).await.into_iter().find(|a| {
            a["explanation"]
                .as_str()
                .is_some_and(|e| e.contains(needle))
        });
        if let Some(a) = found {
            return a;
        }
        assert!(
            Instant::now() < deadline,
            "no config-drift alert naming {needle:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `sql` through the gateway as alice; wait for the poll that sees its one change.
async fn through_warden(audit: &AuditLog, port: u16, db: &str, sql: &str) {
    let head = audit.head().0;
    let (db, sql) = (db.to_string(), sql.to_string());
    let (code, err) = tokio::task::spawn_blocking(move || psql_as(port, "alice", &db, PW, &sql))
        .await
        .expect("join");
    assert_eq!(code, Some(0), "psql through Warden: {err}");
    let seen = wait_record(
        audit,
        EventKind::UpstreamFingerprinted,
        head,
        "1 changes made through Warden",
    )
    .await;
    assert!(seen.seq > head);
}

async fn mentioned(client: &reqwest::Client, console: &str, needle: &str) -> bool {
    drift_alerts(client, console).await.iter().any(|a| {
        a["explanation"]
            .as_str()
            .is_some_and(|e| e.contains(needle))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_around_warden_alert_and_the_same_changes_through_warden_do_not() {
    let db = scratch_db("drift_up");
    let role = format!("drift_reader_{}", std::process::id());
    admin("postgres", &format!("DROP ROLE IF EXISTS {role}"));
    // scratch_db made `notes (id int)`; orders is the table changed below.
    admin(&db, "CREATE TABLE orders (id int primary key, qty int)");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("warden.yaml");
    std::fs::write(&file, yaml(&db, "127.0.0.1:5432")).expect("write");
    let config = Config::load(&file).expect("valid config");
    let gateway = warden_app::gateway::start(&config, PolicySet::empty(), None)
        .await
        .expect("gateway starts");
    let console = format!("http://{}", gateway.started.console);
    let port = gateway.started.targets[0].2.port();
    let audit = gateway.running.audit.clone();
    let client = reqwest::Client::new();

    let baseline = wait_record(&audit, EventKind::UpstreamFingerprinted, 0, "baseline").await;
    assert!(
        baseline
            .event
            .detail
            .as_deref()
            .is_some_and(|d| d.contains("2 tables, 3 columns")),
        "{:?}",
        baseline.event.detail
    );

    // Around Warden: straight to PostgreSQL.
    let altered = Instant::now();
    admin(&db, "ALTER TABLE orders ADD COLUMN discount numeric");
    let alert = wait_alert(&client, &console, "column discount").await;
    let latency = altered.elapsed();
    println!(
        "config-drift alert {} ms after the ALTER TABLE (interval 1 s)",
        latency.as_millis()
    );
    assert!(
        latency < Duration::from_millis(2500),
        "{latency:?}: more than one interval"
    );
    let explanation = alert["explanation"].as_str().unwrap_or_default();
    assert!(
        explanation.contains("table public.orders: column discount added (numeric)"),
        "{explanation}"
    );
    assert_eq!(alert["target"], "shop-db");
    let page = client
        .get(format!("{console}/alerts"))
        .basic_auth("sec", Some(PW))
        .send()
        .await
        .expect("GET /alerts")
        .text()
        .await
        .expect("page");
    assert!(
        page.contains("table public.orders: column discount added (numeric)"),
        "the alerts page shows the change"
    );

    // A role and a grant around Warden: both named.
    admin(
        &db,
        &format!("CREATE ROLE {role}; GRANT SELECT ON orders TO {role}"),
    );
    let alert = wait_alert(&client, &console, &format!("SELECT granted to {role}")).await;
    let explanation = alert["explanation"].as_str().unwrap_or_default();
    assert!(
        explanation.contains(&format!("role {role} added")),
        "{explanation}"
    );

    // Through Warden: the same kinds of change with psql through the gateway.
    through_warden(&audit, port, &db, "ALTER TABLE orders ADD COLUMN note text").await;
    let grant = format!("GRANT INSERT ON orders TO {role}");
    through_warden(&audit, port, &db, &grant).await;
    // A few more polls: no alert names either change.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(!mentioned(&client, &console, "column note").await);
    assert!(!mentioned(&client, &console, &format!("INSERT granted to {role}")).await);

    gateway.stop().await.expect("clean stop");
    admin(
        "postgres",
        &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
    );
    admin("postgres", &format!("DROP ROLE IF EXISTS {role}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_upstream_is_audited_once_and_the_gateway_keeps_serving() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("warden.yaml");
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port");
    std::fs::write(&file, yaml("postgres", &closed.to_string())).expect("write");
    let config = Config::load(&file).expect("valid config");
    let gateway = warden_app::gateway::start(&config, PolicySet::empty(), None)
        .await
        .expect("gateway starts");
    let audit = gateway.running.audit.clone();
    let failed = wait_record(&audit, EventKind::DriftPollFailed, 0, "cannot fingerprint").await;
    assert_eq!(failed.event.target.as_deref(), Some("shop-db"));
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(records(&audit, EventKind::DriftPollFailed).await.len(), 1);
    let health: serde_json::Value =
        reqwest::get(format!("http://{}/healthz", gateway.started.console))
            .await
            .expect("healthz")
            .json()
            .await
            .expect("json");
    assert_eq!(health["ok"], true);
    gateway.stop().await.expect("clean stop");
}
