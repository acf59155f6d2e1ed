//! Hard edges, each with raw TCP writes: ambiguous framing (CL+TE, duplicate CL, bad
//! chunking), path normalisation before policy, method overrides, size limits. Every
//! refusal must be answered before policy, never reach the upstream, and be audited.

mod http_support;

use http_support::*;

const POLICY: &str = r#"
version: 1
rules:
  - name: no-admin-delete
    when: { protocol: http, http: { methods: [DELETE], paths: ["/admin/**"] } }
    action: deny
    message: Admin deletions are not allowed through Warden.
  - name: everything-else
    when: { protocol: http }
    action: allow
"#;

async fn setup() -> (Upstream, Warden) {
    let up = Upstream::start(None).await;
    let mut s = Setup::http(up.addr, POLICY);
    s.http.max_header_bytes = 8 * 1024;
    s.http.max_body_bytes = 1024 * 1024;
    let w = Warden::start(s).await;
    (up, w)
}

fn auth() -> String {
    format!("Authorization: Bearer {ALICE_TOKEN}\r\n")
}

async fn assert_refused(w: &Warden, up: &Upstream, request: String, status: &str, why: &str) {
    let before = up.hits();
    let out = raw_exchange(w.addr, request.as_bytes()).await;
    assert!(
        out.starts_with(&format!("HTTP/1.1 {status}")),
        "expected {status} for {:?}, got {out:?}",
        &request[..request.len().min(200)]
    );
    assert!(out.contains(why), "answer should say {why:?}: {out}");
    assert_eq!(
        up.hits(),
        before,
        "refused request reached the upstream: {:?}",
        &request[..request.len().min(200)]
    );
}

async fn audited(w: &Warden, needle: &str) {
    let audit = serde_json::to_string(&w.audit_json().await).expect("json");
    assert!(audit.contains(needle), "audit lacks {needle:?}: {audit}");
}

#[tokio::test]
async fn content_length_with_transfer_encoding_is_refused_and_audited() {
    let (up, w) = setup().await;
    let req = format!(
        "POST /v1/users HTTP/1.1\r\nHost: x\r\n{}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        auth()
    );
    assert_refused(
        &w,
        &up,
        req,
        "400",
        "both Content-Length and Transfer-Encoding",
    )
    .await;
    let req = format!(
        "POST /v1/users HTTP/1.1\r\nHost: x\r\n{}Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n",
        auth()
    );
    assert_refused(
        &w,
        &up,
        req,
        "400",
        "both Content-Length and Transfer-Encoding",
    )
    .await;
    // A first request whose method is `PRI` is not the HTTP/2 preface: still checked.
    let req = format!(
        "PRI /v1/users HTTP/1.1\r\nHost: x\r\n{}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        auth()
    );
    assert_refused(
        &w,
        &up,
        req,
        "400",
        "both Content-Length and Transfer-Encoding",
    )
    .await;
    audited(&w, "warden-http-framing").await;
}

#[tokio::test]
async fn duplicate_or_invalid_content_length_is_refused() {
    let (up, w) = setup().await;
    for (a, b) in [("3", "3"), ("3", "5")] {
        let req = format!(
            "POST /v1/users HTTP/1.1\r\nHost: x\r\n{}Content-Length: {a}\r\nContent-Length: {b}\r\n\r\nabc",
            auth()
        );
        assert_refused(&w, &up, req, "400", "more than one Content-Length").await;
    }
    let req = format!(
        "POST /v1/users HTTP/1.1\r\nHost: x\r\n{}Content-Length: +3\r\n\r\nabc",
        auth()
    );
    assert_refused(&w, &up, req, "400", "invalid Content-Length").await;
    audited(&w, "more than one Content-Length").await;
}

#[tokio::test]
async fn invalid_chunking_and_transfer_codings_are_refused() {
    let (up, w) = setup().await;
    let bad_bodies = [
        "zz\r\nabc\r\n0\r\n\r\n", // not hex
        "3\r\nabcX\r\n0\r\n\r\n", // data not followed by CRLF
        "3\nabc\r\n0\r\n\r\n",    // bare LF after size
        "ffffffffffffffffff\r\n", // size overflow
    ];
    for body in bad_bodies {
        let req = format!(
            "POST /v1/users HTTP/1.1\r\nHost: x\r\n{}Transfer-Encoding: chunked\r\n\r\n{body}",
            auth()
        );
        assert_refused(&w, &up, req, "400", "chunked framing").await;
    }
    let req = format!(
        "POST /v1/users HTTP/1.1\r\nHost: x\r\n{}Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
        auth()
    );
    assert_refused(&w, &up, req, "400", "Transfer-Encoding must be exactly").await;
    audited(&w, "invalid chunked framing").await;

    // Valid chunking passes.
    let req = format!(
        "POST /v1/users HTTP/1.1\r\nHost: x\r\n{}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n3;ext=1\r\nabc\r\n0\r\nX-Trailer: 1\r\n\r\n",
        auth()
    );
    let out = raw_exchange(w.addr, req.as_bytes()).await;
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert!(out.contains("\"body_len\":3"), "{out}");
}

#[tokio::test]
async fn a_smuggled_second_request_is_refused_but_the_first_is_served() {
    let (up, w) = setup().await;
    let req = format!(
        "GET /v1/users HTTP/1.1\r\nHost: x\r\n{a}\r\nPOST /v1/users HTTP/1.1\r\nHost: x\r\n{a}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        a = auth()
    );
    let out = raw_exchange(w.addr, req.as_bytes()).await;
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert!(out.contains("HTTP/1.1 400"), "{out}");
    assert_eq!(up.hits(), 1);
}

#[tokio::test]
async fn ambiguous_paths_are_refused_before_policy() {
    let (up, w) = setup().await;
    for path in [
        "/v1/%2e%2e/admin/x",
        "/v1/users/..%2F..%2Fadmin",
        "/v1/..%2fadmin",
        "/../../etc/passwd",
        "/v1/a%00b",
    ] {
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: x\r\n{}Connection: close\r\n\r\n",
            auth()
        );
        assert_refused(&w, &up, req, "400", "warden-http-request").await;
    }
    audited(&w, "ambiguous path").await;
}

#[tokio::test]
async fn paths_are_normalised_before_policy_and_forwarded_normalised() {
    let (up, w) = setup().await;
    // Dot segments and doubled slashes cannot hide /admin from the deny rule.
    for path in ["/v1/../admin/x", "//admin//x", "/admin/./x", "/%61dmin/x"] {
        let req = format!(
            "DELETE {path} HTTP/1.1\r\nHost: x\r\n{}Connection: close\r\n\r\n",
            auth()
        );
        assert_refused(&w, &up, req, "403", "no-admin-delete").await;
    }
    // What is allowed is forwarded in its normalised form.
    let req = format!(
        "GET /v1/./users//7/../8 HTTP/1.1\r\nHost: x\r\n{}Connection: close\r\n\r\n",
        auth()
    );
    let out = raw_exchange(w.addr, req.as_bytes()).await;
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert!(out.contains("\"uri\":\"/v1/users/8\""), "{out}");
}

#[tokio::test]
async fn method_override_headers_are_the_effective_method() {
    let (up, w) = setup().await;
    for header in [
        "X-HTTP-Method-Override",
        "X-HTTP-Method",
        "X-Method-Override",
    ] {
        let req = format!(
            "POST /admin/x HTTP/1.1\r\nHost: x\r\n{}{header}: DELETE\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            auth()
        );
        assert_refused(&w, &up, req, "403", "no-admin-delete").await;
    }
}

#[tokio::test]
async fn header_and_body_limits() {
    let (up, w) = setup().await;
    let big = "a".repeat(10 * 1024);
    let req = format!(
        "GET /v1/users HTTP/1.1\r\nHost: x\r\n{}X-Big: {big}\r\n\r\n",
        auth()
    );
    assert_refused(&w, &up, req, "431", "size limit").await;
    let req = format!(
        "POST /v1/users HTTP/1.1\r\nHost: x\r\n{}Content-Length: {}\r\nConnection: close\r\n\r\n",
        auth(),
        2 * 1024 * 1024
    );
    assert_refused(&w, &up, req, "413", "exceeds the limit").await;
    audited(&w, "warden-http-limits").await;
}

#[tokio::test]
async fn a_refused_upgrade_closes_the_connection_so_nothing_follows_unchecked() {
    let (up, w) = setup().await;
    let req = format!(
        "DELETE /admin/ws HTTP/1.1\r\nHost: x\r\n{a}Connection: Upgrade\r\nUpgrade: websocket\r\n\r\nPOST /v1/users HTTP/1.1\r\nHost: x\r\n{a}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        a = auth()
    );
    let out = raw_exchange(w.addr, req.as_bytes()).await;
    assert!(out.starts_with("HTTP/1.1 403"), "{out}");
    assert_eq!(out.matches("HTTP/1.1").count(), 1, "{out}");
    assert_eq!(up.hits(), 0);
}

#[tokio::test]
async fn connect_is_refused() {
    let (up, w) = setup().await;
    let req = format!(
        "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n{}\r\n",
        auth()
    );
    assert_refused(&w, &up, req, "400", "CONNECT is not supported").await;
}
