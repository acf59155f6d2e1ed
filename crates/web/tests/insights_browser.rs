//! The insights pages in real headless Chromium over a real gateway run: psql-protocol
//! traffic (tokio-postgres) and HTTP traffic (reqwest through the HTTP front-end in front
//! of the embedded sample API) go through Warden; a security user signs in and opens
//! `/insights`. The SVG charts hold that data (stacked activity bars, a lit heatmap cell,
//! usage bars, the error classes), and at 390×844 the page does not scroll sideways.
//! Screenshots: `insights.png`, `insights-usage.png`, `insights-phone.png` in
//! `target/e2e-artifacts/` (copies in `docs/images/`).

mod common;

#[path = "common/browser.rs"]
mod browser;

use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use tokio_postgres::NoTls;
use warden_config::{Config, ScramVerifier};
use warden_policy::PolicySet;

const WAIT: Duration = Duration::from_secs(20);
const ALICE_PW: &str = "alice-insights-secret";

const POLICY: &str = r#"version: 1
rules:
  - name: no-deleting-users
    when: { protocol: http, http: { methods: [DELETE], paths: ["/v1/users/*"] } }
    action: deny
    message: users are not deleted through the API
  - name: no-drops
    when: { protocol: postgres, sql: { statements: [drop] } }
    action: deny
    message: no drops
"#;

async fn js(client: &Client, script: &str) -> serde_json::Value {
    client.execute(script, vec![]).await.expect("script")
}

async fn login(client: &Client, base: &str) {
    client
        .goto(&format!("{base}/login"))
        .await
        .expect("login page");
    client
        .find(Locator::Css("#user"))
        .await
        .expect("user")
        .send_keys("sec")
        .await
        .expect("type");
    client
        .find(Locator::Css("#password"))
        .await
        .expect("password")
        .send_keys(common::PASSWORD)
        .await
        .expect("type");
    client
        .find(Locator::Css("button[type=submit]"))
        .await
        .expect("submit")
        .click()
        .await
        .expect("click");
    client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("a[href='/insights']"))
        .await
        .expect("signed in, Insights in the nav");
}

/// Real traffic through the gateway's two front-ends.
async fn traffic(pg_port: u16, db: &str, api: &str) {
    let conninfo =
        format!("host=127.0.0.1 port={pg_port} user=alice password={ALICE_PW} dbname={db}");
    let (alice, conn) = tokio_postgres::connect(&conninfo, NoTls)
        .await
        .expect("alice connects through warden");
    let conn = tokio::spawn(conn);
    alice
        .batch_execute("INSERT INTO notes VALUES (1)")
        .await
        .expect("insert");
    for _ in 0..3 {
        alice
            .batch_execute("SELECT count(*) FROM notes")
            .await
            .expect("select");
    }
    assert!(alice.batch_execute("SELECT * FROM missing").await.is_err());
    assert!(alice.batch_execute("DROP TABLE notes").await.is_err());
    drop(alice);
    let _ = conn.await;
    let bad = format!("host=127.0.0.1 port={pg_port} user=alice password=wrong dbname={db}");
    assert!(tokio_postgres::connect(&bad, NoTls).await.is_err());
    let http = reqwest::Client::new();
    for (method, path) in [
        ("GET", "/v1/users"),
        ("GET", "/v1/users"),
        ("GET", "/v1/users/2"),
        ("GET", "/v1/users/999"),
        ("DELETE", "/v1/users/1"),
    ] {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        http.request(m, format!("{api}{path}"))
            .basic_auth("alice", Some(ALICE_PW))
            .send()
            .await
            .expect("http through warden");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insights_pages_show_real_traffic_and_fit_a_phone() {
    let Some(b) = browser::launch().await else {
        return;
    };
    let client = &b.client;
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("warden_insights_ui_{}", std::process::id());
    let (admin, conn) =
        tokio_postgres::connect("host=127.0.0.1 user=postgres dbname=postgres", NoTls)
            .await
            .expect("the machine's PostgreSQL");
    tokio::spawn(conn);
    for sql in [
        format!("DROP DATABASE IF EXISTS {db}"),
        format!("CREATE DATABASE {db}"),
    ] {
        admin.batch_execute(&sql).await.expect("scratch db");
    }
    {
        let (c, conn) =
            tokio_postgres::connect(&format!("host=127.0.0.1 user=postgres dbname={db}"), NoTls)
                .await
                .expect("scratch");
        tokio::spawn(conn);
        c.batch_execute("CREATE TABLE notes (id int)")
            .await
            .expect("table");
    }
    let sample = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let sample_addr = sample.local_addr().expect("addr");
    let sample_task = tokio::spawn(warden_app::sample_api::serve_sample_api(sample));
    std::fs::write(dir.path().join("policy.yaml"), POLICY).expect("policy");
    let yaml = format!(
        r#"web: {{ listen: 127.0.0.1:0 }}
audit: {{ path: ./audit }}
data_dir: ./data
policies: [./policy.yaml]
users:
  - name: alice
    roles: [developer]
    password_hash: "{alice_hash}"
    scram_sha256: "{alice_scram}"
  - name: sec
    roles: [security]
    password_hash: "{sec_hash}"
targets:
  - name: app-db
    protocol: postgres
    listen: 127.0.0.1:0
    upstream: 127.0.0.1:5432
    upstream_user: postgres
  - name: api
    protocol: http
    listen: 127.0.0.1:0
    upstream: http://{sample_addr}
"#,
        alice_hash = common::hash(ALICE_PW),
        alice_scram = ScramVerifier::generate(ALICE_PW).to_text(),
        sec_hash = common::hash(common::PASSWORD),
    );
    let config = Config::parse(&yaml, "warden.yaml", dir.path()).expect("config");
    let set = PolicySet::load(&config.policies).expect("policy");
    let gateway = warden_app::gateway::start(&config, set, None)
        .await
        .expect("gateway starts");
    let base = format!("http://{}", gateway.started.console);
    let addr = |name: &str| {
        gateway
            .started
            .targets
            .iter()
            .find(|t| t.0 == name)
            .map(|t| t.2)
            .expect("target")
    };
    traffic(
        addr("app-db").port(),
        &db,
        &format!("http://{}", addr("api")),
    )
    .await;

    // Wait until the runner counted it all: 4 + 3 allowed through the two front-ends
    // (the failing SELECT is allowed too), the DROP and the DELETE denied.
    let http = reqwest::Client::new();
    let deadline = Instant::now() + WAIT;
    loop {
        let v: serde_json::Value = http
            .get(format!("{base}/api/v1/insights?user=alice"))
            .basic_auth("sec", Some(common::PASSWORD))
            .send()
            .await
            .expect("GET insights")
            .json()
            .await
            .expect("JSON");
        if v["totals"] == serde_json::json!([9, 2, 0]) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "insights never counted the traffic: {}",
            v["totals"]
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let result = tokio::time::timeout(Duration::from_secs(120), async {
        login(client, &base).await;
        client.set_window_size(1280, 1500).await.expect("desktop size");
        client.goto(&format!("{base}/insights")).await.expect("insights");
        client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css("#activity svg.activity"))
            .await
            .expect("activity chart");
        let allowed = js(client, "return [...document.querySelectorAll('#activity g[data-allow]')].reduce((s, g) => s + Number(g.dataset.allow), 0);").await;
        assert_eq!(allowed, 9, "allowed actions in the activity bars");
        let bars = js(client, "return document.querySelectorAll('#activity svg rect.allow').length;").await;
        assert!(bars.as_u64().unwrap_or(0) >= 1, "no drawn bars");
        let lit = js(client, "return [...document.querySelectorAll('#heatmaps svg.grid rect')].filter(r => Number(r.dataset.count) > 0).length;").await;
        assert!(lit.as_u64().unwrap_or(0) >= 1, "no lit heatmap cell");
        let select = js(client, "const g = document.querySelector('[data-feature=\"sql-statement\"] g[data-name=\"select\"]'); return g ? Number(g.dataset.count) : -1;").await;
        assert_eq!(select, 4, "select statements in the usage bars");
        let endpoints = js(client, "return document.querySelectorAll('[data-feature=\"http-endpoint\"] svg g[data-name]').length;").await;
        assert!(endpoints.as_u64().unwrap_or(0) >= 3, "endpoints: {endpoints}");
        let classes = js(client, "return [...document.querySelectorAll('#errors tr[data-class]')].map(r => r.dataset.class).sort().join('|');").await;
        assert_eq!(classes, "HTTP 404|SQLSTATE 42");
        let logins = js(client, "return document.querySelectorAll('#auth svg g[data-name]').length;").await;
        assert!(logins.as_u64().unwrap_or(0) >= 2, "successes and the wrong password");
        browser::screenshot(client, "insights.png").await;
        js(client, "document.getElementById('usage').scrollIntoView(); return 1;").await;
        browser::screenshot(client, "insights-usage.png").await;

        // A filter through the GET form's query string.
        client.goto(&format!("{base}/insights?protocol=http")).await.expect("filtered");
        let denied = js(client, "return [...document.querySelectorAll('#activity g[data-deny]')].reduce((s, g) => s + Number(g.dataset.deny), 0);").await;
        assert_eq!(denied, 1, "only the HTTP DELETE is denied over http");

        client.set_window_size(390, 844).await.expect("phone size");
        client.goto(&format!("{base}/insights")).await.expect("insights on a phone");
        client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css("#activity svg.activity"))
            .await
            .expect("activity chart");
        let fits = js(client, "return document.documentElement.scrollWidth <= window.innerWidth + 1;").await;
        let widths = js(client, "return [document.documentElement.scrollWidth, window.innerWidth];").await;
        assert_eq!(fits, true, "horizontal scroll at 390×844: {widths}");
        js(client, "document.getElementById('activity').scrollIntoView(); return 1;").await;
        browser::screenshot(client, "insights-phone.png").await;
    })
    .await;
    gateway.stop().await.expect("clean stop");
    sample_task.abort();
    let _ = admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {db}"))
        .await;
    result.expect("scenario within 120s");
}
