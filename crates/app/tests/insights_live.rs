//! The insights through a real gateway: psql through the PostgreSQL front-end and an
//! HTTP client through the HTTP front-end (in front of the embedded sample API), one
//! request held and approved in between; then the insights API, the CSV downloads and
//! the console page show exactly those numbers: activity by decision, the hour of the
//! week, statement kinds and endpoints, the error classes (SQLSTATE 42, HTTP 404), logins
//! (a wrong password), the approval and who gave it. Bad filters are a 400 naming the
//! value; a user without an alert-reading role gets 403 and no Insights link.

mod live_support;

use std::time::{Duration, Instant};

use live_support::{admin, psql_as, scratch_db};
use serde_json::Value;
use time::OffsetDateTime;
use warden_config::{Config, ScramVerifier};
use warden_gate::auth::password::hash_password;
use warden_policy::PolicySet;

const ERIN_PW: &str = "erin-password";
const BOB_PW: &str = "bob-password";
const SEC_PW: &str = "security-password";
const PLAIN_PW: &str = "plain-password";

const POLICY: &str = r#"version: 1
rules:
  - name: no-drops
    when: { protocol: postgres, sql: { statements: [drop] } }
    action: deny
    message: dropping tables is not allowed here
  - name: no-deleting-users
    when: { protocol: http, http: { methods: [DELETE], paths: ["/v1/users/*"] } }
    action: deny
    message: users are not deleted through the API
  - name: admin-needs-approval
    when: { protocol: http, http: { paths: ["/admin/**"] } }
    action: hold
    approval: { approvers: { roles: [approver] }, required: 1, timeout: 2m }
"#;

fn gateway_yaml(api: std::net::SocketAddr) -> String {
    format!(
        r#"web: {{ listen: 127.0.0.1:0 }}
audit: {{ path: ./audit }}
data_dir: ./data
policies: [./policy.yaml]
users:
  - name: erin
    roles: [developer]
    password_hash: "{erin_hash}"
    scram_sha256: "{erin_scram}"
  - name: bob
    roles: [approver, dba]
    password_hash: "{bob_hash}"
  - name: sec
    roles: [security]
    password_hash: "{sec_hash}"
  - name: plain
    roles: [developer]
    password_hash: "{plain_hash}"
targets:
  - name: app-db
    protocol: postgres
    listen: 127.0.0.1:0
    upstream: 127.0.0.1:5432
    upstream_user: postgres
  - name: api
    protocol: http
    listen: 127.0.0.1:0
    upstream: http://{api}
"#,
        erin_hash = hash_password(ERIN_PW).expect("hash"),
        erin_scram = ScramVerifier::generate(ERIN_PW).to_text(),
        bob_hash = hash_password(BOB_PW).expect("hash"),
        sec_hash = hash_password(SEC_PW).expect("hash"),
        plain_hash = hash_password(PLAIN_PW).expect("hash"),
    )
}

async fn get(client: &reqwest::Client, url: &str, user: &str, pw: &str) -> (u16, String) {
    let r = client
        .get(url)
        .basic_auth(user, Some(pw))
        .send()
        .await
        .expect("GET");
    let status = r.status().as_u16();
    (status, r.text().await.expect("body"))
}

fn named(list: &Value, name: &str) -> u64 {
    list.as_array()
        .and_then(|l| l.iter().find(|n| n["name"] == name))
        .and_then(|n| n["count"].as_u64())
        .unwrap_or(0)
}

fn usage<'a>(report: &'a Value, feature: &str) -> &'a Value {
    report["usage"]
        .as_array()
        .and_then(|u| u.iter().find(|x| x["feature"] == feature))
        .unwrap_or(&Value::Null)
}

/// Holds `/admin/reindex` through the HTTP front-end and approves it as bob.
async fn held_and_approved(client: &reqwest::Client, console: &str, api: &str) {
    let held = tokio::spawn({
        let (client, url) = (client.clone(), format!("{api}/admin/reindex"));
        async move {
            client
                .post(url)
                .basic_auth("erin", Some(ERIN_PW))
                .send()
                .await
                .expect("POST held")
                .status()
                .as_u16()
        }
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    let id = loop {
        let (_, body) = get(
            client,
            &format!("{console}/api/v1/approvals?state=pending"),
            "bob",
            BOB_PW,
        )
        .await;
        let v: Value = serde_json::from_str(&body).expect("approvals JSON");
        if let Some(id) = v["approvals"][0]["id"].as_str() {
            break id.to_string();
        }
        assert!(Instant::now() < deadline, "no pending approval: {v}");
        tokio::time::sleep(Duration::from_millis(30)).await;
    };
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let approved = client
        .post(format!("{console}/api/v1/approvals/{id}/approve"))
        .basic_auth("bob", Some(BOB_PW))
        .json(&serde_json::json!({ "reason": "reindex is fine" }))
        .send()
        .await
        .expect("approve");
    assert_eq!(approved.status(), 200);
    assert_eq!(held.await.expect("join"), 200, "the approved request ran");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_traffic_shows_in_the_insights_charts_csv_and_page() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = scratch_db("warden_insights");
    let sample = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind sample api");
    let sample_addr = sample.local_addr().expect("addr");
    let sample_task = tokio::spawn(warden_app::sample_api::serve_sample_api(sample));
    std::fs::write(dir.path().join("policy.yaml"), POLICY).expect("policy");
    let config =
        Config::parse(&gateway_yaml(sample_addr), "warden.yaml", dir.path()).expect("config");
    let set = PolicySet::load(&config.policies).expect("policy");
    let gateway = warden_app::gateway::start(&config, set, None)
        .await
        .expect("gateway starts");
    let console = format!("http://{}", gateway.started.console);
    let addr = |name: &str| {
        gateway
            .started
            .targets
            .iter()
            .find(|t| t.0 == name)
            .map(|t| t.2)
            .expect("target")
    };
    let port = addr("app-db").port();
    let api = format!("http://{}", addr("api"));
    let client = reqwest::Client::new();

    let before = OffsetDateTime::now_utc();
    for (sql, ok) in [
        ("INSERT INTO notes VALUES (1)", true),
        ("SELECT count(*) FROM notes", true),
        ("SELECT * FROM no_such_table", false),
        ("DROP TABLE notes", false),
    ] {
        let db = db.clone();
        let (code, err) =
            tokio::task::spawn_blocking(move || psql_as(port, "erin", &db, ERIN_PW, sql))
                .await
                .expect("join");
        assert_eq!(code == Some(0), ok, "{sql}: {err}");
    }
    let (code, _) = tokio::task::spawn_blocking({
        let db = db.clone();
        move || psql_as(port, "erin", &db, "wrong", "SELECT 1")
    })
    .await
    .expect("join");
    assert_ne!(code, Some(0), "a wrong password logs in");
    for (method, path, status) in [
        ("GET", "/v1/users", 200),
        ("GET", "/v1/users/999", 404),
        ("DELETE", "/v1/users/1", 403),
    ] {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let r = client
            .request(m, format!("{api}{path}"))
            .basic_auth("erin", Some(ERIN_PW))
            .send()
            .await
            .expect("request");
        assert_eq!(r.status().as_u16(), status, "{method} {path}");
    }
    held_and_approved(&client, &console, &api).await;
    let after = OffsetDateTime::now_utc();

    // The runner counts records as they are appended; wait until it saw them all.
    let url = format!("{console}/api/v1/insights?user=erin");
    let deadline = Instant::now() + Duration::from_secs(10);
    let report: Value = loop {
        let (status, body) = get(&client, &url, "sec", SEC_PW).await;
        assert_eq!(status, 200, "{body}");
        let v: Value = serde_json::from_str(&body).expect("insights JSON");
        let done = v["totals"] == serde_json::json!([5, 2, 1])
            && v["approvals"]["decided"] == 1
            && v["errors"].as_array().is_some_and(|e| e.len() == 2);
        if done || Instant::now() > deadline {
            break v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // Activity: 3 psql + 2 HTTP allowed, the DROP and the DELETE denied, the POST held.
    assert_eq!(report["totals"], serde_json::json!([5, 2, 1]), "{report}");
    assert_eq!(report["step"], "hour");
    let points = report["activity"].as_array().expect("points");
    let sum = |k: &str| {
        points
            .iter()
            .map(|p| p[k].as_u64().unwrap_or(0))
            .sum::<u64>()
    };
    assert_eq!((sum("allow"), sum("deny"), sum("hold")), (5, 2, 1));
    // The hour of the week.
    let cell = |t: OffsetDateTime| {
        usize::from(t.weekday().number_days_from_monday()) * 24 + usize::from(t.hour())
    };
    let cells = report["heatmap"]["cells"].as_array().expect("cells");
    let lit = |t| cells[cell(t)].as_u64().unwrap_or(0);
    let same_hour = cell(before) == cell(after);
    assert_eq!(
        if same_hour {
            lit(before)
        } else {
            lit(before) + lit(after)
        },
        8,
        "{cells:?}"
    );
    assert_eq!(report["role_heatmaps"][0]["name"], "developer");
    assert_eq!(report["user_heatmaps"][0]["name"], "erin");
    assert_eq!(report["user_heatmaps"][0]["total"], 8);
    // Feature usage.
    let targets = usage(&report, "target");
    assert_eq!(named(&targets["top"], "app-db"), 4, "{targets}");
    assert_eq!(named(&targets["top"], "api"), 4, "{targets}");
    let sql = usage(&report, "sql-statement");
    assert_eq!(named(&sql["top"], "select"), 2, "{sql}");
    assert_eq!(named(&sql["top"], "insert"), 1);
    assert_eq!(named(&sql["top"], "drop"), 1);
    let http = usage(&report, "http-endpoint");
    assert_eq!(named(&http["top"], "GET /v1/users/{id}"), 1, "{http}");
    assert_eq!(named(&http["top"], "POST /admin/reindex"), 1, "{http}");
    assert_eq!(http["names"], 4);
    // Errors: the missing table (SQLSTATE class 42) and the missing user (HTTP 404).
    let errors = report["errors"].as_array().expect("errors");
    let class = |c: &str| errors.iter().find(|e| e["class"] == c).cloned();
    let sqlstate = class("SQLSTATE 42").expect("SQLSTATE 42");
    assert_eq!(sqlstate["count"], 1, "{errors:?}");
    assert_eq!(named(&sqlstate["targets"], "app-db"), 1);
    assert_eq!(named(&sqlstate["users"], "erin"), 1);
    assert_eq!(class("HTTP 404").expect("HTTP 404")["count"], 1);
    // Logins: four psql logins (SCRAM), one wrong password.
    let auth = report["auth"].as_array().expect("auth");
    let pg = |k: &str| {
        auth.iter()
            .filter(|a| a["front_end"] == "postgres")
            .map(|a| a[k].as_u64().unwrap_or(0))
            .sum::<u64>()
    };
    assert_eq!((pg("successes"), pg("failures")), (4, 1), "{auth:?}");
    assert!(
        auth.iter().any(|a| a["front_end"] == "postgres"
            && a["method"] == "scram-sha-256"
            && a["reasons"][0]["name"] == "wrong password"),
        "{auth:?}"
    );
    // The approval: requested by erin, approved by bob after about a second.
    let a = &report["approvals"];
    assert_eq!(
        (a["requests"].as_u64(), a["approvals"].as_u64()),
        (Some(1), Some(1)),
        "{a}"
    );
    assert!(
        a["median_seconds"]
            .as_u64()
            .is_some_and(|s| (1..30).contains(&s)),
        "{a}"
    );
    assert_eq!(named(&a["deciders"], "bob"), 1);

    // Filters: by protocol and role; bad values are refused with the reason.
    let (_, body) = get(
        &client,
        &format!("{console}/api/v1/insights/activity?protocol=http&role=developer"),
        "sec",
        SEC_PW,
    )
    .await;
    let v: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(
        v["activity"]["totals"],
        serde_json::json!({"allow": 2, "deny": 1, "hold": 1}),
        "{v}"
    );
    for (q, needle) in [
        ("protocol=ftp", "unknown protocol `ftp`"),
        ("since=yesterday", "`yesterday` is not a time"),
        ("step=week", "`week` is not a step"),
    ] {
        let (status, body) = get(
            &client,
            &format!("{console}/api/v1/insights?{q}"),
            "sec",
            SEC_PW,
        )
        .await;
        assert_eq!(status, 400, "{q}: {body}");
        assert!(body.contains(needle), "{q}: {body}");
    }

    // CSV: the same numbers.
    let csv = |chart: &'static str| {
        let client = client.clone();
        let url = format!("{console}/insights/{chart}.csv?user=erin");
        async move { get(&client, &url, "sec", SEC_PW).await }
    };
    let (status, activity) = csv("activity").await;
    assert_eq!(status, 200);
    let mut lines = activity.lines();
    assert_eq!(lines.next(), Some("start,label,allow,deny,hold"));
    let mut sums = [0u64; 3];
    for l in lines {
        let f: Vec<&str> = l.split(',').collect();
        for (s, v) in sums.iter_mut().zip(&f[2..5]) {
            *s += v.parse::<u64>().expect("count");
        }
    }
    assert_eq!(sums, [5, 2, 1], "{activity}");
    let (_, usage_csv) = csv("usage").await;
    assert!(
        usage_csv.contains("sql-statement,most,select,2\r\n"),
        "{usage_csv}"
    );
    let (_, errors_csv) = csv("errors").await;
    assert!(
        errors_csv.contains("SQLSTATE 42,1,user,erin,1\r\n"),
        "{errors_csv}"
    );
    let (_, approvals_csv) = csv("approvals").await;
    assert!(
        approvals_csv.contains("decider,bob,1\r\n"),
        "{approvals_csv}"
    );
    let (_, heat_csv) = csv("heatmap").await;
    let selection: u64 = heat_csv
        .lines()
        .filter(|l| l.starts_with("selection,"))
        .map(|l| {
            l.rsplit(',')
                .next()
                .and_then(|c| c.parse::<u64>().ok())
                .unwrap_or(0)
        })
        .sum();
    assert_eq!(selection, 8, "{heat_csv}");
    assert_eq!(
        heat_csv
            .lines()
            .filter(|l| l.starts_with("selection,"))
            .count(),
        168
    );
    let (status, _) = get(
        &client,
        &format!("{console}/insights/nothing.csv"),
        "sec",
        SEC_PW,
    )
    .await;
    assert_eq!(status, 404);

    // The page: the charts with data, CSV links carrying the filter; the nav link.
    let (status, html) = get(
        &client,
        &format!("{console}/insights?user=erin"),
        "sec",
        SEC_PW,
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        html.contains("href=\"/insights\" aria-current=\"page\""),
        "nav link"
    );
    let attr_sum = |name: &str| {
        html.split(&format!(" {name}=\""))
            .skip(1)
            .filter_map(|rest| rest.split('"').next()?.parse::<u64>().ok())
            .sum::<u64>()
    };
    assert_eq!(
        (
            attr_sum("data-allow"),
            attr_sum("data-deny"),
            attr_sum("data-hold")
        ),
        (5, 2, 1)
    );
    assert!(
        html.contains("href=\"/insights/activity.csv?user=erin\""),
        "{html}"
    );
    assert!(
        html.contains("data-name=\"select\" data-count=\"2\""),
        "{html}"
    );
    assert!(html.contains("data-class=\"SQLSTATE 42\""), "{html}");

    // Roles: a developer may not see insights and gets no link to them.
    for url in [
        format!("{console}/insights"),
        format!("{console}/api/v1/insights"),
        format!("{console}/insights/activity.csv"),
    ] {
        let (status, _) = get(&client, &url, "plain", PLAIN_PW).await;
        assert_eq!(status, 403, "{url}");
    }
    let (_, inbox) = get(&client, &format!("{console}/inbox"), "plain", PLAIN_PW).await;
    assert!(!inbox.contains("href=\"/insights\""), "{inbox}");
    let (_, inbox) = get(&client, &format!("{console}/inbox"), "sec", SEC_PW).await;
    assert!(inbox.contains("href=\"/insights\""), "{inbox}");

    gateway.stop().await.expect("clean stop");
    sample_task.abort();
    admin("postgres", &format!("DROP DATABASE IF EXISTS {db}"));
}
