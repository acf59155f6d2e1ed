//! The acceptance scenario end to end: the real gateway runtime (config file, policies,
//! PostgreSQL front-end, audit, approvals) plus this console, the machine's PostgreSQL
//! behind it, a real PostgreSQL client (tokio-postgres) sending `DELETE FROM accounts`
//! through Warden, and real headless Chromium as the approver. Approve → the client gets
//! `DELETE 3`; deny → the client gets SQLSTATE 42501 and the rows stay.

mod common;

#[path = "common/browser.rs"]
mod browser;

use std::time::Duration;

use fantoccini::{Client, Locator};
use tokio_postgres::NoTls;
use warden_config::{Config, ScramVerifier};
use warden_policy::PolicySet;

const WAIT: Duration = Duration::from_secs(20);
const ALICE_PW: &str = "alice-pg-secret";

const POLICY: &str = r#"version: 1
rules:
  - name: unbounded-writes-need-approval
    when:
      target: { labels: { env: production } }
      sql: { statements: [update, delete], without_where: true }
    action: hold
    message: Unbounded writes on production need a DBA's approval.
    approval: { approvers: { roles: [dba] }, required: 1, timeout: 2m }
"#;

async fn admin(db: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(
        &format!("host=127.0.0.1 port=5432 user=postgres dbname={db}"),
        NoTls,
    )
    .await
    .expect("connect to the machine's PostgreSQL");
    tokio::spawn(conn);
    client
}

async fn approver_login(client: &Client, base: &str) {
    client
        .goto(&format!("{base}/login"))
        .await
        .expect("login page");
    client
        .find(Locator::Css("#user"))
        .await
        .expect("user")
        .send_keys("bob")
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
        .for_element(Locator::Css("body[data-live='1']"))
        .await
        .expect("live inbox");
}

/// Waits for the held statement to appear in the open inbox; returns its approval id.
async fn wait_for_card(client: &Client, needle: &str) -> String {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        for card in client
            .find_all(Locator::Css("article[data-id]"))
            .await
            .expect("cards")
        {
            if card.text().await.unwrap_or_default().contains(needle) {
                return card.attr("data-id").await.expect("attr").expect("data-id");
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "held statement never appeared in the inbox"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_delete_is_approved_and_denied_in_the_browser() {
    let Some(b) = browser::launch().await else {
        return;
    };
    let client = &b.client;

    // A fresh database with three accounts.
    let db = format!("warden_e2e_{}", hex::encode(rand::random::<[u8; 5]>()));
    admin("postgres")
        .await
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .await
        .expect("create db");
    admin(&db)
        .await
        .batch_execute("CREATE TABLE accounts (id int primary key, balance int); INSERT INTO accounts VALUES (1, 10), (2, 20), (3, 30);")
        .await
        .expect("seed");

    // The gateway, configured the way an operator would.
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("policy.yaml"), POLICY).expect("policy file");
    let web_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind console");
    let console = format!("http://{}", web_listener.local_addr().expect("addr"));
    let pg_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let yaml = format!(
        r#"web:
  listen: 127.0.0.1:0
  public_url: {console}
audit:
  path: ./data/audit
policies: [./policy.yaml]
users:
  - name: alice
    roles: [developer]
    password_hash: "{alice_hash}"
    scram_sha256: "{alice_scram}"
  - name: bob
    roles: [dba]
    password_hash: "{bob_hash}"
targets:
  - name: prod-db
    protocol: postgres
    listen: 127.0.0.1:{pg_port}
    upstream: 127.0.0.1:5432
    labels: {{ env: production }}
    upstream_user: postgres
"#,
        alice_hash = common::hash(ALICE_PW),
        alice_scram = ScramVerifier::generate(ALICE_PW).to_text(),
        bob_hash = common::hash(common::PASSWORD),
    );
    let config = Config::parse(&yaml, "warden.yaml", dir.path()).expect("valid config");
    let set = PolicySet::load(&config.policies).expect("valid policy");
    let gateway = warden_app::gateway::start(&config, set, Some(web_listener))
        .await
        .expect("gateway starts");
    let pg_addr = gateway.started.targets[0].2;

    let scenario = tokio::time::timeout(Duration::from_secs(150), async {
        approver_login(client, &console).await;

        // alice connects through Warden with her own identity.
        let conninfo = format!(
            "host=127.0.0.1 port={} user=alice password={ALICE_PW} dbname={db}",
            pg_addr.port()
        );
        let (alice, conn) = tokio_postgres::connect(&conninfo, NoTls)
            .await
            .expect("alice connects through warden");
        tokio::spawn(conn);

        // --- approve: the held DELETE runs once approved ---------------------------
        let pending = tokio::spawn(async move {
            let r = alice.execute("DELETE FROM accounts", &[]).await;
            (alice, r)
        });
        let id = wait_for_card(client, "DELETE FROM accounts").await;
        browser::screenshot(client, "pg-inbox.png").await;
        client
            .goto(&format!("{console}/approvals/{id}"))
            .await
            .expect("request page");
        let page = client
            .find(Locator::Css("#request-page"))
            .await
            .expect("page")
            .text()
            .await
            .expect("text");
        assert!(
            page.contains("alice")
                && page.contains("prod-db")
                && page.contains("unbounded-writes-need-approval"),
            "{page}"
        );
        client
            .find(Locator::Css(&format!("#reason-{id}")))
            .await
            .expect("reason")
            .send_keys("ticket OPS-1")
            .await
            .expect("type");
        client
            .find(Locator::Css("button.approve"))
            .await
            .expect("approve")
            .click()
            .await
            .expect("click");
        let (alice, result) = tokio::time::timeout(WAIT, pending)
            .await
            .expect("client answered in time")
            .expect("join");
        assert_eq!(
            result.expect("DELETE runs after approval"),
            3,
            "client receives DELETE 3"
        );
        client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(".badge.s-executed, .badge.s-approved"))
            .await
            .expect("badge");
        browser::screenshot(client, "pg-request-approved.png").await;

        // --- deny: the client gets 42501 and nothing is deleted ----------------------
        admin(&db)
            .await
            .batch_execute("INSERT INTO accounts VALUES (4, 40), (5, 50)")
            .await
            .expect("reseed");
        client
            .goto(&format!("{console}/inbox"))
            .await
            .expect("inbox");
        client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css("body[data-live='1']"))
            .await
            .expect("live");
        let pending = tokio::spawn(async move { alice.execute("DELETE FROM accounts", &[]).await });
        let id = wait_for_card(client, "DELETE FROM accounts").await;
        client
            .find(Locator::Css(&format!("#reason-{id}")))
            .await
            .expect("reason")
            .send_keys("not during business hours")
            .await
            .expect("type");
        client
            .find(Locator::Css(&format!(
                "article[data-id='{id}'] button.deny"
            )))
            .await
            .expect("deny")
            .click()
            .await
            .expect("click");
        let result = tokio::time::timeout(WAIT, pending)
            .await
            .expect("client answered in time")
            .expect("join");
        let err = result.expect_err("denied statement fails");
        let code = err.as_db_error().map(|e| e.code().code().to_string());
        assert_eq!(code.as_deref(), Some("42501"), "{err}");
        client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(".badge.s-denied"))
            .await
            .expect("denied badge");
        browser::screenshot(client, "pg-request-denied.png").await;
        let left: i64 = admin(&db)
            .await
            .query_one("SELECT count(*) FROM accounts", &[])
            .await
            .expect("count")
            .get(0);
        assert_eq!(left, 2, "the denied DELETE never ran");
    })
    .await;

    let _ = b.client.clone().close().await;
    let _ = tokio::time::timeout(Duration::from_secs(25), gateway.stop()).await;
    let _ = admin("postgres")
        .await
        .batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        .await;
    scenario.expect("scenario finished within 150s");
}
