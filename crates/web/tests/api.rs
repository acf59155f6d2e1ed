//! The JSON API over a real socket: every endpoint, auth failures, role checks,
//! state conflicts, JSON errors.

mod common;

use std::time::Duration;

use common::{client, hold, start, PASSWORD};
use serde_json::Value;
use warden_approval::Resolution;

async fn json(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn health_and_metrics_are_public() {
    let c = start(vec![]).await;
    let http = client();
    let (status, body) = json(
        http.get(format!("{}/healthz", c.base))
            .send()
            .await
            .expect("healthz"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["ok"], true);
    let _held = hold(&c, "alice", "DELETE FROM accounts").await;
    let text = http
        .get(format!("{}/metrics", c.base))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(text.contains("warden_approvals_pending 1"), "{text}");
    assert!(
        text.contains("warden_approval_decision_seconds_bucket"),
        "{text}"
    );
    assert!(
        text.contains("warden_audit_append_seconds_count 1"),
        "{text}"
    );
    assert!(
        text.contains("# TYPE warden_gate_decisions_total counter")
            && text.contains("warden_gate_decisions_total{decision=\"allow\"} 7")
            && text.contains("warden_gate_decisions_total{decision=\"deny\"} 2"),
        "counters handed in by the gateway are exported: {text}"
    );
    c.stop().await;
}

#[tokio::test]
async fn api_requires_valid_credentials() {
    let c = start(vec![]).await;
    let http = client();
    let url = format!("{}/api/v1/approvals", c.base);
    let resp = http.get(&url).send().await.expect("anon");
    assert_eq!(resp.status(), 401);
    assert!(resp.headers().get("www-authenticate").is_some());
    let (status, body) = json(resp).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
    let resp = http
        .get(&url)
        .basic_auth("bob", Some("wrong"))
        .send()
        .await
        .expect("bad pw");
    assert_eq!(resp.status(), 401);
    let resp = http
        .get(&url)
        .basic_auth("nobody", Some(PASSWORD))
        .send()
        .await
        .expect("unknown user");
    assert_eq!(resp.status(), 401);
    let resp = http
        .get(&url)
        .basic_auth("bob", Some(PASSWORD))
        .send()
        .await
        .expect("ok");
    assert_eq!(resp.status(), 200);
    c.stop().await;
}

#[tokio::test]
async fn repeated_failures_are_throttled() {
    let c = start(vec![]).await;
    let http = client();
    let url = format!("{}/api/v1/approvals", c.base);
    for _ in 0..5 {
        let r = http
            .get(&url)
            .basic_auth("dave", Some("guess"))
            .send()
            .await
            .expect("fail");
        assert_eq!(r.status(), 401);
    }
    // Even the right password is refused while throttled.
    let r = http
        .get(&url)
        .basic_auth("dave", Some(PASSWORD))
        .send()
        .await
        .expect("throttled");
    assert_eq!(r.status(), 429);
    c.stop().await;
}

#[tokio::test]
async fn list_show_approve_over_the_api() {
    let c = start(vec![]).await;
    let http = client();
    let held = hold(&c, "alice", "DELETE FROM accounts").await;
    let id = held.id.clone();
    let waiter = tokio::spawn(held.wait());

    let (status, body) = json(
        http.get(format!("{}/api/v1/approvals?state=pending", c.base))
            .basic_auth("bob", Some(PASSWORD))
            .send()
            .await
            .expect("list"),
    )
    .await;
    assert_eq!(status, 200);
    let items = body["approvals"].as_array().expect("array");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], id.as_str());
    assert_eq!(items[0]["action"]["raw"], "DELETE FROM accounts");
    assert_eq!(items[0]["url"], format!("{}/approvals/{id}", c.base));

    let (status, _) = json(
        http.get(format!("{}/api/v1/approvals?state=bogus", c.base))
            .basic_auth("bob", Some(PASSWORD))
            .send()
            .await
            .expect("bad state"),
    )
    .await;
    assert_eq!(status, 400);
    let (status, body) = json(
        http.get(format!("{}/api/v1/approvals/nope", c.base))
            .basic_auth("bob", Some(PASSWORD))
            .send()
            .await
            .expect("404"),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );

    let (status, body) = json(
        http.get(format!("{}/api/v1/approvals/{id}", c.base))
            .basic_auth("carol", Some(PASSWORD))
            .send()
            .await
            .expect("show"),
    )
    .await;
    assert_eq!(
        (status, body["state"].as_str(), body["remaining"].as_u64()),
        (200, Some("pending"), Some(1))
    );

    let approve = format!("{}/api/v1/approvals/{id}/approve", c.base);
    let (status, body) = json(
        http.post(&approve)
            .basic_auth("alice", Some(PASSWORD))
            .json(&serde_json::json!({"reason": "mine"}))
            .send()
            .await
            .expect("self"),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("self_approval"))
    );
    let (status, body) = json(
        http.post(&approve)
            .basic_auth("carol", Some(PASSWORD))
            .send()
            .await
            .expect("not dba"),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("not_entitled"))
    );
    let (status, _) = json(
        http.post(&approve)
            .basic_auth("bob", Some(PASSWORD))
            .body("not json")
            .send()
            .await
            .expect("bad body"),
    )
    .await;
    assert_eq!(status, 400);
    let (status, body) = json(
        http.post(&approve)
            .basic_auth("bob", Some(PASSWORD))
            .json(&serde_json::json!({"reason": "checked the ticket"}))
            .send()
            .await
            .expect("approve"),
    )
    .await;
    assert_eq!((status, body["state"].as_str()), (200, Some("approved")));
    assert_eq!(body["approvals"][0]["reason"], "checked the ticket");
    let res = tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .expect("in time")
        .expect("join");
    assert_eq!(
        res,
        Resolution::Approved {
            approvers: vec!["bob".into()]
        }
    );
    let (status, body) = json(
        http.post(&approve)
            .basic_auth("dave", Some(PASSWORD))
            .send()
            .await
            .expect("again"),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("wrong_state"))
    );
    c.stop().await;
}

#[tokio::test]
async fn deny_over_the_api_reaches_the_waiter() {
    let c = start(vec![]).await;
    let http = client();
    let held = hold(&c, "alice", "UPDATE accounts SET balance = 0").await;
    let id = held.id.clone();
    let waiter = tokio::spawn(held.wait());
    let (status, body) = json(
        http.post(format!("{}/api/v1/approvals/{id}/deny", c.base))
            .basic_auth("bob", Some(PASSWORD))
            .json(&serde_json::json!({"reason": "use a WHERE"}))
            .send()
            .await
            .expect("deny"),
    )
    .await;
    assert_eq!((status, body["state"].as_str()), (200, Some("denied")));
    let res = tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .expect("in time")
        .expect("join");
    assert_eq!(
        res,
        Resolution::Denied {
            by: "bob".into(),
            reason: Some("use a WHERE".into())
        }
    );
    let (_, body) = json(
        http.get(format!("{}/api/v1/approvals?state=denied", c.base))
            .basic_auth("alice", Some(PASSWORD))
            .send()
            .await
            .expect("list"),
    )
    .await;
    assert_eq!(body["approvals"].as_array().map(Vec::len), Some(1));
    c.stop().await;
}

#[tokio::test]
async fn audit_query_and_verify_need_the_viewer_role() {
    let c = start(vec![]).await;
    let http = client();
    let held = hold(&c, "alice", "DELETE FROM accounts").await;
    c.approvals
        .deny(
            &held.id,
            &warden_inspect::Actor {
                name: "bob".into(),
                roles: vec!["dba".into()],
                client_addr: None,
                alerts: Vec::new(),
            },
            None,
        )
        .await
        .expect("deny");
    let audit = format!("{}/api/v1/audit", c.base);
    let (status, body) = json(
        http.get(&audit)
            .basic_auth("bob", Some(PASSWORD))
            .send()
            .await
            .expect("bob"),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
    let (status, body) = json(
        http.get(&audit)
            .basic_auth("vera", Some(PASSWORD))
            .send()
            .await
            .expect("vera"),
    )
    .await;
    assert_eq!(status, 200);
    let kinds: Vec<&str> = body["records"]
        .as_array()
        .expect("records")
        .iter()
        .filter_map(|r| r["event"]["kind"].as_str())
        .collect();
    assert_eq!(kinds, vec!["approval_denied", "approval_requested"]);
    let (_, body) = json(
        http.get(format!("{audit}?user=bob&limit=10"))
            .basic_auth("root", Some(PASSWORD))
            .send()
            .await
            .expect("by user"),
    )
    .await;
    assert_eq!(body["records"].as_array().map(Vec::len), Some(1));
    let (_, body) = json(
        http.get(format!("{audit}?q={}&limit=1", held.id))
            .basic_auth("vera", Some(PASSWORD))
            .send()
            .await
            .expect("paged"),
    )
    .await;
    assert_eq!(body["records"].as_array().map(Vec::len), Some(1));
    let after = body["next"].as_u64().expect("next page cursor");
    let (_, body) = json(
        http.get(format!("{audit}?q={}&limit=1&after={after}", held.id))
            .basic_auth("vera", Some(PASSWORD))
            .send()
            .await
            .expect("page 2"),
    )
    .await;
    assert_eq!(body["records"].as_array().map(Vec::len), Some(1));
    assert_eq!(body["records"][0]["event"]["kind"], "approval_requested");
    let (status, _) = json(
        http.get(format!("{audit}?since=yesterday"))
            .basic_auth("vera", Some(PASSWORD))
            .send()
            .await
            .expect("bad time"),
    )
    .await;
    assert_eq!(status, 400);
    let (status, body) = json(
        http.get(format!("{}/api/v1/audit/verify", c.base))
            .basic_auth("vera", Some(PASSWORD))
            .send()
            .await
            .expect("verify"),
    )
    .await;
    assert_eq!((status, body["ok"].as_bool()), (200, Some(true)));
    assert!(body["records"].as_u64().unwrap_or(0) >= 2, "{body}");
    assert_eq!(body["head"].as_str().map(str::len), Some(64));
    let (status, _) = json(
        http.get(format!("{}/api/v1/audit/verify", c.base))
            .basic_auth("alice", Some(PASSWORD))
            .send()
            .await
            .expect("alice"),
    )
    .await;
    assert_eq!(status, 403);
    c.stop().await;
}
