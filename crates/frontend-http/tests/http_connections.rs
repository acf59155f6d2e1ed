//! Connection lifetimes at both ends of the http front-end: a client that connects and
//! says nothing is let go after the request timeout; an HTTP/2 prior-knowledge client
//! (h2c) is still served after the first-bytes check; an upstream keep-alive connection
//! the pool no longer uses is closed by Warden, not left to the upstream.

mod http_support;

use std::time::{Duration, Instant};

use http_support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const ALLOW_ALL: &str = r#"
version: 1
rules:
  - name: everything
    when: { protocol: http }
    action: allow
"#;

#[tokio::test]
async fn a_client_that_never_sends_a_byte_is_closed_after_the_request_timeout() {
    let up = Upstream::start(None).await;
    let mut setup = Setup::http(up.addr, ALLOW_ALL);
    setup.http.request_timeout_secs = 1;
    let w = Warden::start(setup).await;
    let mut silent = TcpStream::connect(w.addr).await.expect("connect");
    let started = Instant::now();
    let mut buf = [0u8; 64];
    let n = within(10, silent.read(&mut buf)).await.unwrap_or(0);
    assert_eq!(
        n, 0,
        "the gateway closes a silent connection without a response"
    );
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900),
        "closed after {waited:?}, before the 1 s request timeout"
    );
    // A client that talks is served as before.
    let resp = client()
        .get(w.url("/v1/ok"))
        .bearer_auth(ALICE_TOKEN)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 200);
    assert_eq!(up.hits(), 1, "only the talking client reached the upstream");
}

#[tokio::test]
async fn http2_prior_knowledge_is_still_served_on_a_plain_port() {
    let up = Upstream::start(None).await;
    let w = Warden::start(Setup::http(up.addr, ALLOW_ALL)).await;
    let h2c = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .http2_only(true)
        .build_http::<http_body_util::Empty<bytes::Bytes>>();
    let req = http::Request::get(w.url("/v1/h2c"))
        .header(http::header::AUTHORIZATION, format!("Bearer {ALICE_TOKEN}"))
        .body(http_body_util::Empty::new())
        .expect("request");
    let resp = within(10, h2c.request(req)).await.expect("h2c request");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.version(), http::Version::HTTP_2);
    assert_eq!(up.hits(), 1);
}

/// An upstream that answers one request per connection with keep-alive and reports
/// when the other side closes the connection.
async fn upstream_noting_closes() -> (std::net::SocketAddr, tokio::sync::mpsc::Receiver<Instant>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tcp.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let body = b"{\"ok\":true}";
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                );
                let _ = tcp.write_all(resp.as_bytes()).await;
                let _ = tcp.write_all(body).await;
                // Keep-alive: wait for the next request or for the gateway to close.
                loop {
                    match tcp.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    }
                }
                let _ = tx.send(Instant::now()).await;
            });
        }
    });
    (addr, rx)
}

#[tokio::test]
async fn an_idle_upstream_connection_is_closed_by_the_gateway() {
    let (addr, mut closed) = upstream_noting_closes().await;
    let w = Warden::start(Setup::http(addr, ALLOW_ALL)).await;
    let resp = client()
        .get(w.url("/v1/once"))
        .bearer_auth(ALICE_TOKEN)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 200);
    let done = Instant::now();
    let limit = warden_frontend_http::upstream::UPSTREAM_IDLE + Duration::from_secs(20);
    let at = tokio::time::timeout(limit, closed.recv())
        .await
        .expect("the gateway never closed its idle upstream connection")
        .expect("upstream task ended");
    let idle = at - done;
    assert!(
        idle >= warden_frontend_http::upstream::UPSTREAM_IDLE - Duration::from_secs(1),
        "closed after {idle:?}, sooner than the idle timeout"
    );
}
