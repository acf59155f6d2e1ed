//! The HTML console over a real socket: login, session cookie flags, CSRF refusal,
//! deciding through the form, live events, pages, webhooks.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{client, hold, start, PASSWORD};
use warden_approval::ApprovalState;
use warden_web::WebhookConfig;

fn set_cookie(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_string)
}

fn cookie_value(set_cookie: &str) -> String {
    set_cookie
        .split(';')
        .next()
        .unwrap_or("")
        .split_once('=')
        .map(|(_, v)| v.to_string())
        .unwrap_or_default()
}

fn hidden_csrf(html: &str) -> Option<String> {
    let at = html.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    Some(html[at..].split('"').next()?.to_string())
}

struct Session {
    cookie: String,
    csrf: String,
}

async fn login(base: &str, user: &str) -> Session {
    let http = client();
    let page = http
        .get(format!("{base}/login"))
        .send()
        .await
        .expect("login page");
    let login_cookie = set_cookie(&page, "warden_login_csrf").expect("login csrf cookie");
    let html = page.text().await.expect("html");
    let token = hidden_csrf(&html).expect("csrf field on login form");
    let resp = http
        .post(format!("{base}/login"))
        .header(
            "cookie",
            format!("warden_login_csrf={}", cookie_value(&login_cookie)),
        )
        .form(&[
            ("user", user),
            ("password", PASSWORD),
            ("csrf", &token),
            ("next", "/inbox"),
        ])
        .send()
        .await
        .expect("login");
    assert_eq!(resp.status(), 303, "login redirects");
    let sc = set_cookie(&resp, "warden_session").expect("session cookie");
    assert!(
        sc.contains("HttpOnly") && sc.contains("SameSite=Strict"),
        "{sc}"
    );
    assert!(!sc.contains("Secure"), "no Secure flag without TLS: {sc}");
    let cookie = format!("warden_session={}", cookie_value(&sc));
    let inbox = http
        .get(format!("{base}/inbox"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("inbox");
    assert_eq!(inbox.status(), 200);
    let csrf = hidden_csrf(&inbox.text().await.expect("html")).expect("csrf in page");
    Session { cookie, csrf }
}

#[tokio::test]
async fn pages_redirect_anonymous_visitors_to_login() {
    let c = start(vec![]).await;
    let resp = client()
        .get(format!("{}/approvals/abc", c.base))
        .send()
        .await
        .expect("page");
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "/login?next=/approvals/abc");
    c.stop().await;
}

#[tokio::test]
async fn login_without_the_form_token_is_refused() {
    let c = start(vec![]).await;
    let resp = client()
        .post(format!("{}/login", c.base))
        .form(&[("user", "bob"), ("password", PASSWORD), ("csrf", "forged")])
        .send()
        .await
        .expect("login");
    assert_eq!(resp.status(), 403);
    c.stop().await;
}

#[tokio::test]
async fn form_posts_without_csrf_are_refused_and_with_it_decide() {
    let c = start(vec![]).await;
    let held = hold(&c, "alice", "DELETE FROM accounts").await;
    let id = held.id.clone();
    let bob = login(&c.base, "bob").await;
    let http = client();
    let decide = format!("{}/approvals/{id}/decide", c.base);
    // No token, wrong token: refused, nothing changes.
    for form in [
        vec![("decision", "approve")],
        vec![("decision", "approve"), ("csrf", "nope")],
    ] {
        let r = http
            .post(&decide)
            .header("cookie", &bob.cookie)
            .form(&form)
            .send()
            .await
            .expect("post");
        assert_eq!(r.status(), 403);
    }
    // JSON API with the cookie but no header: refused too.
    let r = http
        .post(format!("{}/api/v1/approvals/{id}/approve", c.base))
        .header("cookie", &bob.cookie)
        .json(&serde_json::json!({}))
        .send()
        .await
        .expect("api");
    assert_eq!(r.status(), 403);
    // ... also when disguised as a form post with an empty body.
    let r = http
        .post(format!("{}/api/v1/approvals/{id}/approve", c.base))
        .header("cookie", &bob.cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .expect("api form");
    assert_eq!(r.status(), 403);
    assert_eq!(
        c.approvals.get(&id).expect("req").state,
        ApprovalState::Pending
    );
    // The request page shows the full statement and the decide form.
    let page = http
        .get(format!("{}/approvals/{id}", c.base))
        .header("cookie", &bob.cookie)
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(
        page.contains("<span class=\"kw\">DELETE</span>"),
        "highlighted statement"
    );
    assert!(page.contains("unbounded-writes-need-approval"));
    assert!(page.contains("action=\"/approvals/"), "decide form");
    let r = http
        .post(&decide)
        .header("cookie", &bob.cookie)
        .form(&[
            ("decision", "approve"),
            ("reason", "ticket 42"),
            ("csrf", bob.csrf.as_str()),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 303);
    let req = c.approvals.get(&id).expect("req");
    assert_eq!(req.state, ApprovalState::Approved);
    assert_eq!(req.approvals[0].reason.as_deref(), Some("ticket 42"));
    drop(held);
    c.stop().await;
}

#[tokio::test]
async fn the_requester_sees_no_decide_form() {
    let c = start(vec![]).await;
    let held = hold(&c, "alice", "DELETE FROM accounts").await;
    let alice = login(&c.base, "alice").await;
    let page = client()
        .get(format!("{}/approvals/{}", c.base, held.id))
        .header("cookie", &alice.cookie)
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(!page.contains("/decide"), "no form for the requester");
    assert!(page.contains("You requested this"));
    c.stop().await;
}

#[tokio::test]
async fn events_stream_announces_new_holds() {
    let c = start(vec![]).await;
    let bob = login(&c.base, "bob").await;
    let mut resp = client()
        .get(format!("{}/events", c.base))
        .header("cookie", &bob.cookie)
        .send()
        .await
        .expect("events");
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap_or("")
        .starts_with("text/event-stream"));
    let held = hold(&c, "alice", "DELETE FROM accounts").await;
    let mut seen = String::new();
    let found = tokio::time::timeout(Duration::from_secs(5), async {
        while let Ok(Some(chunk)) = resp.chunk().await {
            seen.push_str(&String::from_utf8_lossy(&chunk));
            if seen.contains(&held.id) {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(found, Ok(true), "saw: {seen}");
    assert!(seen.contains("event: approval"));
    // An open event stream must not keep the server from shutting down.
    c.stop().await;
}

#[tokio::test]
async fn audit_and_policy_pages_render_for_viewers() {
    let c = start(vec![]).await;
    let _held = hold(&c, "alice", "DELETE FROM accounts").await;
    let vera = login(&c.base, "vera").await;
    let http = client();
    let page = http
        .get(format!("{}/audit?q=accounts", c.base))
        .header("cookie", &vera.cookie)
        .send()
        .await
        .expect("audit")
        .text()
        .await
        .expect("html");
    assert!(page.contains("ApprovalRequested"), "record listed");
    assert!(page.contains("chain not verified yet"));
    let r = http
        .post(format!("{}/audit/verify", c.base))
        .header("cookie", &vera.cookie)
        .form(&[("csrf", vera.csrf.as_str())])
        .send()
        .await
        .expect("verify");
    assert_eq!(r.status(), 303);
    let page = http
        .get(format!("{}/audit", c.base))
        .header("cookie", &vera.cookie)
        .send()
        .await
        .expect("audit")
        .text()
        .await
        .expect("html");
    assert!(page.contains("chain intact"), "badge after verify");
    let page = http
        .get(format!("{}/policies", c.base))
        .header("cookie", &vera.cookie)
        .send()
        .await
        .expect("policies")
        .text()
        .await
        .expect("html");
    assert!(page.contains("unbounded-writes-need-approval") && page.contains("prod.yaml"));
    let bob = login(&c.base, "bob").await;
    let r = http
        .get(format!("{}/audit", c.base))
        .header("cookie", &bob.cookie)
        .send()
        .await
        .expect("audit");
    assert_eq!(r.status(), 403);
    c.stop().await;
}

/// A webhook receiver that fails the first `fail_first` deliveries.
#[tokio::test]
async fn targets_page_and_api_show_ssh_fingerprints_to_viewers_only() {
    let c = start(vec![]).await;
    let vera = login(&c.base, "vera").await;
    let http = client();
    let page = http
        .get(format!("{}/targets", c.base))
        .header("cookie", &vera.cookie)
        .send()
        .await
        .expect("targets")
        .text()
        .await
        .expect("html");
    assert!(
        page.contains("prod-db") && page.contains("env=production"),
        "{page}"
    );
    assert!(
        page.contains("SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8"),
        "ssh fingerprint shown"
    );
    let api: serde_json::Value = http
        .get(format!("{}/api/v1/targets", c.base))
        .header("cookie", &vera.cookie)
        .send()
        .await
        .expect("api")
        .json()
        .await
        .expect("json");
    let targets = api["targets"].as_array().expect("array");
    assert_eq!(targets.len(), 2);
    assert_eq!(targets[1]["name"], "web-1");
    assert_eq!(
        targets[1]["host_key_fingerprint"],
        "SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8"
    );
    assert!(targets[0].get("host_key_fingerprint").is_none());
    let alice = login(&c.base, "alice").await;
    let r = http
        .get(format!("{}/targets", c.base))
        .header("cookie", &alice.cookie)
        .send()
        .await
        .expect("targets");
    assert_eq!(
        r.status(),
        403,
        "developers do not read the gateway's layout"
    );
    c.stop().await;
}

async fn receiver(fail_first: usize) -> (String, Arc<Mutex<Vec<String>>>) {
    let got: Arc<Mutex<Vec<String>>> = Arc::default();
    let calls = Arc::new(Mutex::new(0usize));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let got2 = got.clone();
    let app = axum::Router::new().route(
        "/hook/secret-token",
        axum::routing::post(move |body: String| {
            let (got, calls) = (got2.clone(), calls.clone());
            async move {
                let n = {
                    let mut c = calls.lock().unwrap_or_else(|p| p.into_inner());
                    *c += 1;
                    *c
                };
                if n <= fail_first {
                    return axum::http::StatusCode::INTERNAL_SERVER_ERROR;
                }
                got.lock().unwrap_or_else(|p| p.into_inner()).push(body);
                axum::http::StatusCode::OK
            }
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/hook/secret-token"), got)
}

#[tokio::test]
async fn webhooks_retry_and_report_failures() {
    let (flaky, got) = receiver(2).await;
    // A port nobody listens on: every attempt fails.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("http://{}/hook/secret-token", l.local_addr().expect("addr"))
    };
    let c = start(vec![
        WebhookConfig {
            url: flaky,
            on: vec!["hold".into(), "decision".into()],
        },
        WebhookConfig {
            url: dead,
            on: vec!["hold".into()],
        },
    ])
    .await;
    let held = hold(&c, "alice", "DELETE FROM accounts").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let n = got.lock().unwrap_or_else(|p| p.into_inner()).len();
        if n >= 1 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "webhook never delivered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let body = got.lock().unwrap_or_else(|p| p.into_inner())[0].clone();
    let v: serde_json::Value = serde_json::from_str(&body).expect("slack json");
    let text = v["text"].as_str().expect("text");
    assert!(
        text.contains("DELETE FROM accounts") && text.contains(&format!("/approvals/{}", held.id)),
        "{text}"
    );
    // The dead hook's failure is audited and shown, without its secret path.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let record = loop {
        let page = c
            .audit
            .query(&warden_audit::Query {
                text: Some("webhook".into()),
                limit: 10,
                ..Default::default()
            })
            .expect("query");
        if let Some(r) = page
            .records
            .into_iter()
            .find(|r| r.event.kind == warden_audit::EventKind::Notification)
        {
            break r;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "failure never audited"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let detail = record.event.detail.unwrap_or_default();
    assert!(
        detail.contains("failed") && !detail.contains("secret-token"),
        "{detail}"
    );
    let bob = login(&c.base, "bob").await;
    let page = client()
        .get(format!("{}/inbox", c.base))
        .header("cookie", &bob.cookie)
        .send()
        .await
        .expect("inbox")
        .text()
        .await
        .expect("html");
    assert!(page.contains("Notification failures") && !page.contains("secret-token"));
    let metrics = client()
        .get(format!("{}/metrics", c.base))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("warden_notification_failures_total 1"),
        "{metrics}"
    );
    // Decisions are announced too.
    c.approvals
        .deny(
            &held.id,
            &warden_inspect::Actor {
                name: "bob".into(),
                roles: vec!["dba".into()],
                client_addr: None,
                alerts: Vec::new(),
            },
            Some("no".into()),
        )
        .await
        .expect("deny");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while got.lock().unwrap_or_else(|p| p.into_inner()).len() < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "decision never delivered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(got.lock().unwrap_or_else(|p| p.into_inner())[1].contains("DENIED"));
    c.stop().await;
}

/// Dry-run hits are counted from the audit feed (drained in batches, not per record)
/// and shown on the Policies page.
#[tokio::test]
async fn dry_run_hits_from_the_audit_feed_reach_the_policies_page() {
    let c = start(vec![]).await;
    let vera = login(&c.base, "vera").await;
    for i in 0..3 {
        let mut ev = warden_audit::Event::new(warden_audit::EventKind::ActionDecided);
        ev.verdict = Some(warden_audit::VerdictSummary {
            decision: "allow".into(),
            rules: Vec::new(),
            dry_run: vec!["watch-selects".into()],
            message: None,
        });
        ev.detail = Some(format!("select {i}"));
        c.audit
            .append(ev, warden_audit::Durability::Queued)
            .await
            .expect("append");
    }
    let http = client();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let page = http
            .get(format!("{}/policies", c.base))
            .header("cookie", &vera.cookie)
            .send()
            .await
            .expect("policies")
            .text()
            .await
            .expect("html");
        let row = page
            .split("<tr>")
            .find(|r| r.contains("watch-selects"))
            .expect("the dry-run rule is listed")
            .to_owned();
        if row.contains("<td>3</td>") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "3 dry-run hits never shown: {row}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    c.stop().await;
}
