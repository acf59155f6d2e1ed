//! The per-user profile through a real gateway: psql actions as a Warden user show up in
//! `GET /api/v1/users/{name}/profile` (target with its uses, the hour-of-week cell of
//! now, today's volume, the privilege-change alert) and on the console page
//! `/users/{name}` (heatmap, targets, alerts; names escaped); the alerts page links to
//! it; a user without an alert-reading role gets 403; an unknown name 404.

mod live_support;

use std::time::{Duration, Instant};

use live_support::{admin, psql_as, scratch_db};
use time::OffsetDateTime;
use warden_config::{Config, ScramVerifier};
use warden_gate::auth::password::hash_password;
use warden_policy::PolicySet;

const ERIN_PW: &str = "erin-password";
const SEC_PW: &str = "security-password";
const PLAIN_PW: &str = "plain-password";
const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn gateway_yaml() -> String {
    format!(
        r#"web: {{ listen: 127.0.0.1:0 }}
audit: {{ path: ./audit }}
data_dir: ./data
users:
  - name: erin
    roles: [developer]
    password_hash: "{erin_hash}"
    scram_sha256: "{erin_scram}"
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
"#,
        erin_hash = hash_password(ERIN_PW).expect("hash"),
        erin_scram = ScramVerifier::generate(ERIN_PW).to_text(),
        sec_hash = hash_password(SEC_PW).expect("hash"),
        plain_hash = hash_password(PLAIN_PW).expect("hash"),
    )
}

/// "wed-14": the heatmap cell of a UTC time.
fn cell(t: OffsetDateTime) -> String {
    let day = DAYS[usize::from(t.weekday().number_days_from_monday())];
    format!("{day}-{:02}", t.hour())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_users_actions_show_in_their_profile_and_page() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = scratch_db("warden_profile");
    let config = Config::parse(&gateway_yaml(), "warden.yaml", dir.path()).expect("config");
    let gateway = warden_app::gateway::start(&config, PolicySet::empty(), None)
        .await
        .expect("gateway starts");
    let console = format!("http://{}", gateway.started.console);
    let port = gateway.started.targets[0].2.port();
    let client = reqwest::Client::new();

    let before = OffsetDateTime::now_utc();
    for sql in [
        "INSERT INTO notes VALUES (1)",
        "SELECT count(*) FROM notes",
        "GRANT SELECT ON notes TO PUBLIC",
    ] {
        let db = db.clone();
        let (code, err) =
            tokio::task::spawn_blocking(move || psql_as(port, "erin", &db, ERIN_PW, sql))
                .await
                .expect("join");
        assert_eq!(code, Some(0), "{sql}: {err}");
    }
    // A name that only ever failed to log in, with markup in it.
    let (code, _) = tokio::task::spawn_blocking(move || {
        psql_as(port, "<i>eve</i>", "postgres", "x", "SELECT 1")
    })
    .await
    .expect("join");
    assert_ne!(code, Some(0));
    let after = OffsetDateTime::now_utc();

    // The runner judges the records as they are appended; wait until it saw them all.
    let profile_url = format!("{console}/api/v1/users/erin/profile");
    let deadline = Instant::now() + Duration::from_secs(10);
    let profile = loop {
        let v: serde_json::Value = client
            .get(&profile_url)
            .basic_auth("sec", Some(SEC_PW))
            .send()
            .await
            .expect("GET profile")
            .json()
            .await
            .expect("profile JSON");
        let today = v["baseline"]["daily"]
            .as_array()
            .and_then(|d| d.last())
            .cloned();
        let done = today.is_some_and(|d| d["completed"] == 3)
            && v["open_alerts"].as_array().is_some_and(|a| !a.is_empty());
        if done || Instant::now() > deadline {
            break v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(profile["user"], "erin", "{profile}");
    assert_eq!(profile["configured"], true);
    assert_eq!(
        profile["configured_roles"],
        serde_json::json!(["developer"])
    );
    let b = &profile["baseline"];
    assert_eq!(b["roles"], serde_json::json!(["developer"]), "{b}");
    assert_eq!(b["trusted"], false);
    let targets = b["targets"].as_array().expect("targets");
    assert_eq!(targets.len(), 1, "{b}");
    assert_eq!(targets[0]["name"], "app-db");
    assert_eq!(targets[0]["actions"], 3, "three actions: {b}");
    assert_eq!(b["addresses"][0]["address"], "127.0.0.1", "{b}");
    let today = b["daily"].as_array().and_then(|d| d.last()).expect("today");
    assert_eq!(today["actions"], 3, "{b}");
    assert_eq!(today["date"], before.date().to_string());
    let hours = b["hour_of_week"].as_array().expect("hours");
    assert_eq!(hours.len(), 168);
    let index = |t: OffsetDateTime| {
        usize::from(t.weekday().number_days_from_monday()) * 24 + usize::from(t.hour())
    };
    let lit = |t: OffsetDateTime| hours[index(t)].as_u64().unwrap_or(0);
    assert!(lit(before) + lit(after) >= 1, "{hours:?}");
    assert!(b["last_active"].as_i64().unwrap_or(0) >= before.unix_timestamp());
    let alerts = profile["open_alerts"].as_array().expect("alerts");
    assert!(
        alerts.iter().any(|a| a["detector"] == "privilege-change"),
        "{alerts:?}"
    );

    // The page: heatmap with the cell lit, targets, the alert.
    let page = client
        .get(format!("{console}/users/erin"))
        .basic_auth("sec", Some(SEC_PW))
        .send()
        .await
        .expect("GET page");
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("html");
    assert!(
        html.contains("id=\"usual-hours\"") && html.contains("<svg"),
        "{html}"
    );
    let lit = |t| format!("data-cell=\"{}\" data-days=\"1\"", cell(t));
    assert!(
        html.contains(&lit(before)) || html.contains(&lit(after)),
        "{html}"
    );
    assert!(html.contains("<td>app-db</td>"), "{html}");
    assert!(html.contains("privilege-change") && html.contains("href=\"/alerts?status=open\""));
    assert!(html.contains("id=\"volume-trend\"") && html.contains("data-actions=\"3\""));

    // The alerts page links user names to their page.
    let alerts_page = client
        .get(format!("{console}/alerts"))
        .basic_auth("sec", Some(SEC_PW))
        .send()
        .await
        .expect("GET alerts")
        .text()
        .await
        .expect("html");
    assert!(
        alerts_page.contains("href=\"/users/erin\""),
        "{alerts_page}"
    );

    // A name with markup is escaped on its page (the runner reads the feed in batches:
    // wait until it judged eve's failed login too).
    let deadline = Instant::now() + Duration::from_secs(10);
    let eve = loop {
        let r = client
            .get(format!("{console}/users/%3Ci%3Eeve%3C%2Fi%3E"))
            .basic_auth("sec", Some(SEC_PW))
            .send()
            .await
            .expect("GET eve");
        if r.status() == 200 || Instant::now() > deadline {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(eve.status(), 200);
    let eve = eve.text().await.expect("html");
    assert!(
        eve.contains("&lt;i&gt;eve&lt;/i&gt;") && !eve.contains("<i>eve"),
        "{eve}"
    );

    // Roles: a developer may not read profiles; unknown names are 404 with a JSON error.
    for url in [profile_url.clone(), format!("{console}/users/erin")] {
        let refused = client
            .get(&url)
            .basic_auth("plain", Some(PLAIN_PW))
            .send()
            .await
            .expect("GET as plain");
        assert_eq!(refused.status(), 403, "{url}");
    }
    let missing = client
        .get(format!("{console}/api/v1/users/nobody-at-all/profile"))
        .basic_auth("sec", Some(SEC_PW))
        .send()
        .await
        .expect("GET unknown");
    assert_eq!(missing.status(), 404);
    let body: serde_json::Value = missing.json().await.expect("JSON error");
    assert_eq!(body["error"]["code"], "not_found", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("nobody-at-all")),
        "{body}"
    );

    gateway.stop().await.expect("clean stop");
    admin("postgres", &format!("DROP DATABASE IF EXISTS {db}"));
}
