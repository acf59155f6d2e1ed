//! Holds beyond the basics: retry mode (`approval: { wait: false }`), what approvers
//! and the audit log see of a held request's body (redacted, bound by its digest), and
//! the audited outcome of a forwarded request.

mod http_support;

use std::time::Duration;

use http_support::*;
use serde_json::Value;

const POLICY: &str = r#"
version: 1
rules:
  - name: exports-retry-mode
    when: { protocol: http, http: { methods: [POST], paths: ["/v1/exports"] } }
    action: hold
    approval: { approvers: { roles: [admin] }, required: 1, timeout: 1m, wait: false }
  - name: user-changes-need-approval
    when: { protocol: http, http: { methods: [POST, PATCH], paths: ["/v1/users/*"] } }
    action: hold
    approval: { approvers: { roles: [admin] }, required: 1, timeout: 1m }
  - name: everything-else
    when: { protocol: http }
    action: allow
"#;

#[tokio::test]
async fn retry_mode_answers_202_and_the_same_request_runs_once_after_approval() {
    let up = Upstream::start(None).await;
    let w = Warden::start(Setup::http(up.addr, POLICY)).await;
    let send = || async {
        let r = client()
            .post(w.url("/v1/exports"))
            .bearer_auth(ALICE_TOKEN)
            .body("{\"table\":\"users\"}")
            .send()
            .await
            .expect("send");
        (r.status().as_u16(), r.json::<Value>().await.expect("json"))
    };
    let (status, v) = within(10, send()).await;
    assert_eq!(status, 202, "{v}");
    let id = v["approval_id"].as_str().expect("id").to_string();
    w.approve(&id).await;
    let (status, v) = within(10, send()).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["body_len"], 17);
    assert_eq!(up.hits(), 1);
    let (status, _) = within(10, send()).await;
    assert_eq!(status, 202, "a used approval does not run twice");
    assert_eq!(up.hits(), 1);
}

#[tokio::test]
async fn a_held_body_is_shown_redacted_and_bound_by_its_digest() {
    let up = Upstream::start(None).await;
    let w = Warden::start(Setup::http(up.addr, POLICY)).await;
    let body = r#"{"name":"eve","password":"hunter2"}"#;
    let url = w.url("/v1/users/4");
    let req = tokio::spawn(async move {
        client()
            .patch(url)
            .bearer_auth(ALICE_TOKEN)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
    });
    let pending = w.pending().await;
    let raw = &pending.action.raw;
    assert!(raw.starts_with("PATCH /v1/users/4\n\n"), "{raw}");
    assert!(raw.contains("\"name\":\"eve\""), "{raw}");
    assert!(!raw.contains("hunter2"), "{raw}");
    assert!(
        raw.contains(&format!("sha256 {}", sha_hex(body.as_bytes()))),
        "{raw}"
    );
    w.approve(&pending.id).await;
    let resp = within(10, req).await.expect("join").expect("send");
    let v: Value = resp.json().await.expect("json");
    // Exactly the held bytes were forwarded.
    assert_eq!(v["body_sha256"], sha_hex(body.as_bytes()));
    let audit = serde_json::to_string(&w.audit_json().await).expect("json");
    assert!(!audit.contains("hunter2"), "secret in the audit log");
}

#[tokio::test]
async fn the_outcome_of_a_forwarded_request_is_audited() {
    let up = Upstream::start(None).await;
    let w = Warden::start(Setup::http(up.addr, POLICY)).await;
    let r = within(
        10,
        client()
            .get(w.url("/stream?bytes=5000"))
            .bearer_auth(ALICE_TOKEN)
            .send(),
    )
    .await
    .expect("send");
    assert_eq!(within(10, r.bytes()).await.expect("body").len(), 5000);
    let completed = within(10, async {
        loop {
            let records = w.audit_json().await;
            // A read-only allow: its one `action_decided` record carries the outcome.
            if let Some(r) = records.into_iter().find(|r| {
                r["event"]["kind"] == "action_decided" && !r["event"]["outcome"].is_null()
            }) {
                return r;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    let text = completed.to_string();
    assert!(text.contains("\"status\":\"200\""), "{text}");
    assert!(text.contains("\"bytes\":5000"), "{text}");
    assert!(text.contains("duration_ms"), "{text}");
}
