//! The http front-end against a real upstream and real clients (reqwest/hyper, curl):
//! allow, deny, hold → approve/deny/expire, respond-async, identity and credential
//! injection, streaming, upgrades, TLS on both sides.

mod http_support;

use std::time::Duration;

use http_support::*;
use serde_json::Value;

const POLICY: &str = r#"
version: 1
rules:
  - name: no-admin-delete
    when: { protocol: http, http: { methods: [DELETE], paths: ["/admin/**"] } }
    action: deny
    message: Admin deletions are not allowed through Warden.
  - name: user-delete-needs-approval
    when: { protocol: http, http: { methods: [DELETE], paths: ["/v1/users/*"] } }
    action: hold
    approval: { approvers: { roles: [admin] }, required: 1, timeout: 3s }
  - name: everything-else
    when: { protocol: http }
    action: allow
"#;

async fn setup() -> (Upstream, Warden) {
    let up = Upstream::start(None).await;
    let w = Warden::start(Setup::http(up.addr, POLICY)).await;
    (up, w)
}

async fn json(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let v = resp.json::<Value>().await.expect("json body");
    (status, v)
}

#[tokio::test]
async fn allowed_get_is_forwarded_with_the_targets_credential() {
    let (up, w) = setup().await;
    let (status, v) = within(10, async {
        json(
            client()
                .get(w.url("/v1/users?x=1"))
                .bearer_auth(ALICE_TOKEN)
                .header("impersonate-user", "system:admin")
                .send()
                .await
                .expect("send"),
        )
        .await
    })
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["method"], "GET");
    assert_eq!(v["uri"], "/v1/users?x=1");
    assert_eq!(
        v["headers"]["authorization"][0],
        format!("Bearer {UPSTREAM_TOKEN}")
    );
    assert!(v["headers"].get("impersonate-user").is_none(), "{v}");
    assert_eq!(up.hits(), 1);
    let audit = w.audit_json().await;
    let text = serde_json::to_string(&audit).expect("json");
    // A read-only allow: one `action_decided` record that carries the outcome.
    assert!(
        text.contains("action_decided") && text.contains("\"status\":\"200\""),
        "{text}"
    );
    assert!(!text.contains(ALICE_TOKEN) && !text.contains(UPSTREAM_TOKEN));
}

#[tokio::test]
async fn missing_or_wrong_credentials_get_401_and_are_audited() {
    let (up, w) = setup().await;
    let r = within(10, client().get(w.url("/v1/users")).send())
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 401);
    assert!(r.headers().contains_key("www-authenticate"));
    let r = within(
        10,
        client().get(w.url("/v1/users")).bearer_auth("nope").send(),
    )
    .await
    .expect("send");
    assert_eq!(r.status().as_u16(), 401);
    // Basic with the right password works.
    let r = within(
        20,
        client()
            .get(w.url("/v1/users"))
            .basic_auth("alice", Some("pw-of-alice"))
            .send(),
    )
    .await
    .expect("send");
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(up.hits(), 1);
    let audit = serde_json::to_string(&w.audit_json().await).expect("json");
    assert!(
        audit.contains("auth_failed") && audit.contains("unknown bearer token"),
        "{audit}"
    );
}

/// Login records: method and outcome; a success once per connection, not per request.
#[tokio::test]
async fn logins_are_audited_with_their_method_once_per_connection() {
    let (_up, w) = setup().await;
    // One keep-alive client: three requests, one connection, one `authenticated`.
    let c = client();
    for _ in 0..3 {
        let r = within(
            10,
            c.get(w.url("/v1/users")).bearer_auth(ALICE_TOKEN).send(),
        )
        .await
        .expect("send");
        assert_eq!(r.status().as_u16(), 200);
    }
    let r = within(
        20,
        client()
            .get(w.url("/v1/users"))
            .basic_auth("bob", Some("pw-of-bob"))
            .send(),
    )
    .await
    .expect("send");
    assert_eq!(r.status().as_u16(), 200);
    let r = within(
        20,
        client()
            .get(w.url("/v1/users"))
            .basic_auth("alice", Some("wrong"))
            .send(),
    )
    .await
    .expect("send");
    assert_eq!(r.status().as_u16(), 401);
    let r = within(10, client().get(w.url("/v1/users")).send())
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 401);
    let audit = w.audit_json().await;
    let of = |kind: &str| -> Vec<&Value> {
        audit
            .iter()
            .filter(|r| r["event"]["kind"] == kind)
            .collect()
    };
    let ok = of("authenticated");
    let detail = |r: &&Value| r["event"]["detail"].as_str().unwrap_or("").to_string();
    let name = |r: &&Value| {
        r["event"]["actor"]["name"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    let roles = |r: &&Value| r["event"]["actor"]["roles"].clone();
    let tokens: Vec<_> = ok.iter().filter(|r| detail(r) == "method=token").collect();
    assert_eq!(tokens.len(), 1, "one per connection: {ok:?}");
    assert_eq!(name(tokens[0]), "alice");
    assert_eq!(roles(tokens[0]), serde_json::json!(["developer"]));
    assert_eq!(tokens[0]["event"]["protocol"], "http");
    let basic: Vec<_> = ok.iter().filter(|r| detail(r) == "method=basic").collect();
    assert_eq!(basic.len(), 1, "{ok:?}");
    assert_eq!(name(basic[0]), "bob");
    assert_eq!(roles(basic[0]), serde_json::json!(["admin", "sre"]));
    let failed = of("auth_failed");
    let wrong = failed
        .iter()
        .find(|r| detail(r) == "method=basic; wrong password")
        .unwrap_or_else(|| panic!("{failed:?}"));
    assert_eq!(name(wrong), "alice");
    assert_eq!(
        roles(wrong),
        serde_json::json!(["developer"]),
        "the account tried"
    );
    assert!(
        failed
            .iter()
            .any(|r| detail(r) == "method=none; no credentials"),
        "{failed:?}"
    );
}

#[tokio::test]
async fn denied_delete_gets_403_naming_the_rule_and_never_reaches_upstream() {
    let (up, w) = setup().await;
    let (status, v) = within(10, async {
        json(
            client()
                .delete(w.url("/admin/cache"))
                .bearer_auth(ALICE_TOKEN)
                .send()
                .await
                .expect("send"),
        )
        .await
    })
    .await;
    assert_eq!(status, 403);
    assert_eq!(v["rule"], "no-admin-delete");
    assert_eq!(
        v["message"],
        "Admin deletions are not allowed through Warden."
    );
    assert_eq!(up.hits(), 0);
}

#[tokio::test]
async fn held_request_waits_and_runs_once_after_approval() {
    let (up, w) = setup().await;
    let url = w.url("/v1/users/7");
    let req =
        tokio::spawn(async move { client().delete(url).bearer_auth(ALICE_TOKEN).send().await });
    let pending = w.pending().await;
    assert!(
        pending.action.raw.starts_with("DELETE /v1/users/7"),
        "{}",
        pending.action.raw
    );
    assert_eq!(up.hits(), 0, "nothing reaches the upstream while held");
    w.approve(&pending.id).await;
    let resp = within(10, req).await.expect("join").expect("send");
    let (status, v) = json(resp).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["method"], "DELETE");
    assert_eq!(up.hits(), 1);
}

#[tokio::test]
async fn held_request_denied_or_expired_gets_403() {
    let (up, w) = setup().await;
    let url = w.url("/v1/users/8");
    let req =
        tokio::spawn(async move { client().delete(url).bearer_auth(ALICE_TOKEN).send().await });
    let pending = w.pending().await;
    w.deny(&pending.id).await;
    let (status, v) = json(within(10, req).await.expect("join").expect("send")).await;
    assert_eq!(status, 403, "{v}");

    // No decision: the 3 s rule timeout expires the request.
    let (status, v) = within(20, async {
        json(
            client()
                .delete(w.url("/v1/users/9"))
                .bearer_auth(ALICE_TOKEN)
                .send()
                .await
                .expect("send"),
        )
        .await
    })
    .await;
    assert_eq!(status, 403, "{v}");
    assert_eq!(v["error"], "expired", "{v}");
    assert_eq!(up.hits(), 0);
}

#[tokio::test]
async fn respond_async_returns_202_and_the_retry_runs_once() {
    let (up, w) = setup().await;
    let send = || async {
        json(
            client()
                .delete(w.url("/v1/users/3"))
                .bearer_auth(ALICE_TOKEN)
                .header("prefer", "respond-async")
                .send()
                .await
                .expect("send"),
        )
        .await
    };
    let (status, first) = within(10, send()).await;
    assert_eq!(status, 202, "{first}");
    assert_eq!(first["status"], "pending");
    let id = first["approval_id"]
        .as_str()
        .expect("approval id")
        .to_string();
    assert_eq!(first["url"], format!("http://console.test/approvals/{id}"));
    let (status, again) = within(10, send()).await;
    assert_eq!(
        (status, again["approval_id"].as_str()),
        (202, Some(id.as_str()))
    );
    w.approve(&id).await;
    let ran = within(10, async {
        loop {
            let (status, v) = send().await;
            if status == 200 {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert_eq!(ran["method"], "DELETE");
    assert_eq!(up.hits(), 1);
    // The approval was used: the next identical request is a new hold.
    let (status, next) = within(10, send()).await;
    assert_eq!(status, 202);
    assert_ne!(next["approval_id"].as_str(), Some(id.as_str()));
    assert_eq!(up.hits(), 1);
}

#[tokio::test]
async fn client_going_away_withdraws_the_hold() {
    let (_up, w) = setup().await;
    let url = w.url("/v1/users/5");
    let req =
        tokio::spawn(async move { client().delete(url).bearer_auth(ALICE_TOKEN).send().await });
    let pending = w.pending().await;
    req.abort();
    within(10, async {
        loop {
            if let Some(r) = w.approvals.get(&pending.id) {
                if r.state == warden_approval::ApprovalState::Withdrawn {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
}

#[tokio::test]
async fn large_bodies_stream_both_ways_with_flat_memory() {
    let (_up, w) = setup().await;
    const SIZE: usize = 128 * 1024 * 1024;
    let slow = reqwest::Client::builder()
        .timeout(Duration::from_secs(150))
        .build()
        .expect("client");
    let rss_before = rss_kib();
    let chunk = bytes::Bytes::from(vec![7u8; 1024 * 1024]);
    let stream = futures::stream::iter(
        (0..SIZE / chunk.len()).map(move |_| Ok::<_, std::io::Error>(chunk.clone())),
    );
    let resp = within(
        160,
        slow.put(w.url("/v1/blobs/big"))
            .bearer_auth(ALICE_TOKEN)
            .body(reqwest::Body::wrap_stream(stream))
            .send(),
    )
    .await
    .expect("send");
    let (status, v) = json(resp).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["body_len"], SIZE as u64);
    // Download the same amount.
    let mut resp = within(
        10,
        slow.get(w.url(&format!("/stream?bytes={SIZE}")))
            .bearer_auth(ALICE_TOKEN)
            .send(),
    )
    .await
    .expect("send");
    let mut got = 0usize;
    within(120, async {
        while let Some(c) = resp.chunk().await.expect("chunk") {
            got += c.len();
        }
    })
    .await;
    assert_eq!(got, SIZE);
    let grown = rss_kib().saturating_sub(rss_before);
    assert!(
        grown < 96 * 1024,
        "memory grew by {grown} KiB while streaming 2 x 256 MiB"
    );
}

fn rss_kib() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        })
        .unwrap_or(0)
}

#[tokio::test]
async fn websocket_upgrade_is_passed_through_after_it_was_allowed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (up, w) = setup().await;
    within(10, async {
        let mut s = tokio::net::TcpStream::connect(w.addr).await.expect("connect");
        let req = format!(
            "GET /v1/ws HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ALICE_TOKEN}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        );
        s.write_all(req.as_bytes()).await.expect("write");
        let mut head = Vec::new();
        let mut b = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            s.read_exact(&mut b).await.expect("read head");
            head.push(b[0]);
        }
        let head = String::from_utf8_lossy(&head).to_string();
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        s.write_all(b"ping-through-warden").await.expect("write");
        let mut echo = [0u8; 19];
        s.read_exact(&mut echo).await.expect("echo");
        assert_eq!(&echo, b"ping-through-warden");
    })
    .await;
    assert_eq!(up.hits(), 1);

    // A denied upgrade never reaches the upstream.
    let out = raw_exchange(
        w.addr,
        format!("DELETE /admin/ws HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ALICE_TOKEN}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n").as_bytes(),
    )
    .await;
    assert!(out.starts_with("HTTP/1.1 403"), "{out}");
    assert_eq!(up.hits(), 1);
}

#[tokio::test]
async fn tls_on_both_sides_with_upstream_ca_verification() {
    let dir = tempfile::tempdir().expect("dir");
    let up_cert = self_signed(dir.path(), "upstream");
    let up = Upstream::start(Some(server_tls(&up_cert))).await;
    let mut s = Setup::http(up.addr, POLICY);
    s.upstream = format!("localhost:{}", up.addr.port());
    s.tls = true;
    s.upstream_tls = Some(warden_config::UpstreamTls {
        ca: Some(up_cert.cert.clone()),
        client: None,
        server_name: None,
    });
    let w = Warden::start(s).await;
    let warden_ca = std::fs::read(w.dir.path().join("warden.crt")).expect("warden cert");
    let c = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&warden_ca).expect("pem"))
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client");
    let resp = within(
        20,
        c.get(format!("https://localhost:{}/v1/users", w.addr.port()))
            .bearer_auth(ALICE_TOKEN)
            .send(),
    )
    .await
    .expect("send");
    let (status, v) = json(resp).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(up.hits(), 1);

    // An upstream whose certificate the configured CA does not vouch for: 502.
    let other = self_signed(dir.path(), "other");
    let mut s = Setup::http(up.addr, POLICY);
    s.upstream = format!("localhost:{}", up.addr.port());
    s.upstream_tls = Some(warden_config::UpstreamTls {
        ca: Some(other.cert.clone()),
        client: None,
        server_name: None,
    });
    let w2 = Warden::start(s).await;
    let resp = within(
        20,
        client()
            .get(w2.url("/v1/users"))
            .bearer_auth(ALICE_TOKEN)
            .send(),
    )
    .await
    .expect("send");
    assert_eq!(resp.status().as_u16(), 502);
    assert_eq!(up.hits(), 1);
}

fn curl(args: &[&str]) -> (String, String) {
    let out = std::process::Command::new("timeout")
        .arg("20")
        .arg("curl")
        .args(["-sS", "-w", "\n%{http_code} %{http_version}"])
        .args(args)
        .output()
        .expect("run curl");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = stdout.rsplit_once('\n').unwrap_or((&stdout, ""));
    (body.to_string(), code.to_string())
}

#[tokio::test]
async fn curl_allowed_denied_and_http2() {
    let (up, w) = setup().await;
    let auth = format!("Authorization: Bearer {ALICE_TOKEN}");
    let base = format!("http://{}", w.addr);
    let (b, code, ..) = {
        let (base, auth) = (base.clone(), auth.clone());
        tokio::task::spawn_blocking(move || {
            let (b, c) = curl(&["-H", &auth, &format!("{base}/v1/users")]);
            (b, c)
        })
        .await
        .expect("join")
    };
    assert_eq!(code, "200 1.1", "{b}");
    let (b, code) = {
        let (base, auth) = (base.clone(), auth.clone());
        tokio::task::spawn_blocking(move || {
            curl(&["-X", "DELETE", "-H", &auth, &format!("{base}/admin/x")])
        })
        .await
        .expect("join")
    };
    assert_eq!(code, "403 1.1");
    assert!(b.contains("no-admin-delete"), "{b}");
    let (b, code) = {
        let (base, auth) = (base.clone(), auth.clone());
        tokio::task::spawn_blocking(move || {
            curl(&[
                "--http2-prior-knowledge",
                "-H",
                &auth,
                &format!("{base}/v1/users"),
            ])
        })
        .await
        .expect("join")
    };
    assert_eq!(code, "200 2", "{b}");
    assert_eq!(up.hits(), 2);
}
