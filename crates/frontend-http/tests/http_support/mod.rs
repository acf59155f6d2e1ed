//! Shared harness for the http/kubernetes front-end tests: a real Gate (audit + approvals
//! on sled in a temp dir, policies from YAML), a real upstream HTTP server, and Warden's
//! http front-end on port 0.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use warden_approval::{ApprovalRequest, ApprovalState, Approvals};
use warden_audit::{AuditConfig, AuditLog};
use warden_config::{PostgresOptions, SshOptions, TargetConfig, TlsFiles, UpstreamTls};
use warden_frontend_http::HttpOptions;
use warden_gate::auth::{LoginThrottle, ThrottleConfig, User, UserDirectory};
use warden_gate::{FrontendContext, Gate};
use warden_inspect::{Actor, Protocol};
use warden_policy::{PolicySet, PolicyStore, SqlCache};

pub const ALICE_TOKEN: &str = "alice-token-0123456789";
pub const BOB_TOKEN: &str = "bob-token-0123456789";
pub const UPSTREAM_TOKEN: &str = "upstream-secret-token";

/// Bounds every test step.
pub async fn within<F: std::future::Future>(secs: u64, f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(secs), f)
        .await
        .expect("test step timed out")
}

pub fn sha_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

// ---------------------------------------------------------------- upstream

/// A real HTTP upstream: echoes what it received as JSON, streams `/stream?bytes=N`,
/// echoes bytes after an upgrade, and counts requests.
pub struct Upstream {
    pub addr: SocketAddr,
    pub hits: Arc<AtomicUsize>,
}

type UpBody = BoxBody<Bytes, Infallible>;

fn json_reply(status: StatusCode, v: Value) -> Response<UpBody> {
    let mut r = Response::new(Full::new(Bytes::from(v.to_string())).boxed());
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    r
}

async fn echo(hits: Arc<AtomicUsize>, mut req: Request<Incoming>) -> Response<UpBody> {
    hits.fetch_add(1, Ordering::SeqCst);
    let uri = req.uri().to_string();
    if req.headers().contains_key(http::header::UPGRADE) {
        let on = hyper::upgrade::on(&mut req);
        tokio::spawn(async move {
            if let Ok(up) = on.await {
                let mut io = TokioIo::new(up);
                let mut buf = [0u8; 4096];
                loop {
                    match io.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if io.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                    }
                }
            }
        });
        let mut r = Response::new(Full::new(Bytes::new()).boxed());
        *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        r.headers_mut()
            .insert("upgrade", http::HeaderValue::from_static("websocket"));
        r.headers_mut()
            .insert("connection", http::HeaderValue::from_static("Upgrade"));
        return r;
    }
    if let Some(q) = uri.split_once("/stream?bytes=").map(|(_, n)| n.to_string()) {
        let total: usize = q.parse().unwrap_or(0);
        let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
        let stream = futures::stream::unfold(total, move |left| {
            let chunk = chunk.clone();
            async move {
                if left == 0 {
                    return None;
                }
                let n = left.min(chunk.len());
                Some((Ok::<_, Infallible>(Frame::data(chunk.slice(..n))), left - n))
            }
        });
        return Response::new(StreamBody::new(stream).boxed());
    }
    let headers: BTreeMap<String, Vec<String>> = {
        let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, v) in req.headers() {
            m.entry(k.as_str().to_string())
                .or_default()
                .push(v.to_str().unwrap_or("?").to_string());
        }
        m
    };
    let method = req.method().to_string();
    let mut body = req.into_body();
    let mut hasher = Sha256::new();
    let mut len = 0u64;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return json_reply(StatusCode::BAD_REQUEST, json!({"error": "body"}));
        };
        if let Ok(d) = frame.into_data() {
            len += d.len() as u64;
            hasher.update(&d);
        }
    }
    json_reply(
        StatusCode::OK,
        json!({
            "method": method,
            "uri": uri,
            "headers": headers,
            "body_len": len,
            "body_sha256": hex::encode(hasher.finalize()),
        }),
    )
}

impl Upstream {
    pub async fn start(tls: Option<Arc<rustls::ServerConfig>>) -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind upstream");
        let addr = listener.local_addr().expect("addr");
        let hits = Arc::new(AtomicUsize::new(0));
        let h = hits.clone();
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let hits = h.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| {
                        let hits = hits.clone();
                        async move { Ok::<_, Infallible>(echo(hits, req).await) }
                    });
                    let builder = auto::Builder::new(TokioExecutor::new());
                    match tls {
                        None => {
                            let _ = builder
                                .serve_connection_with_upgrades(TokioIo::new(tcp), svc)
                                .await;
                        }
                        Some(cfg) => {
                            let Ok(stream) = tokio_rustls::TlsAcceptor::from(cfg).accept(tcp).await
                            else {
                                return;
                            };
                            let _ = builder
                                .serve_connection_with_upgrades(TokioIo::new(stream), svc)
                                .await;
                        }
                    }
                });
            }
        });
        Upstream { addr, hits }
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

// ---------------------------------------------------------------- certificates

pub struct TestCert {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// A self-signed certificate for localhost / 127.0.0.1, written to `dir`.
pub fn self_signed(dir: &Path, name: &str) -> TestCert {
    let ck =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .expect("rcgen");
    let cert = dir.join(format!("{name}.crt"));
    let key = dir.join(format!("{name}.key"));
    std::fs::write(&cert, ck.cert.pem()).expect("write cert");
    std::fs::write(&key, ck.key_pair.serialize_pem()).expect("write key");
    TestCert { cert, key }
}

pub fn server_tls(c: &TestCert) -> Arc<rustls::ServerConfig> {
    warden_frontend_http::tls::server_config(&c.cert, &c.key).expect("server tls")
}

// ---------------------------------------------------------------- warden

pub struct Warden {
    pub addr: SocketAddr,
    pub gate: Gate,
    pub approvals: Approvals,
    pub audit: AuditLog,
    pub shutdown: CancellationToken,
    pub dir: tempfile::TempDir,
}

impl Drop for Warden {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

pub struct Setup {
    pub protocol: Protocol,
    pub upstream: String,
    pub policy: String,
    pub tls: bool,
    pub upstream_tls: Option<UpstreamTls>,
    pub http: HttpOptions,
}

impl Setup {
    pub fn http(upstream: SocketAddr, policy: &str) -> Setup {
        Setup {
            protocol: Protocol::Http,
            upstream: upstream.to_string(),
            policy: policy.to_string(),
            tls: false,
            upstream_tls: None,
            http: HttpOptions::default(),
        }
    }
}

fn user(name: &str, roles: &[&str], token: &str) -> User {
    User {
        name: name.to_string(),
        roles: roles.iter().map(|r| r.to_string()).collect(),
        password_hash: Some(
            warden_gate::auth::password::hash_password(&format!("pw-of-{name}")).expect("hash"),
        ),
        scram: None,
        mysql_native: None,
        ssh_authorized_keys: Vec::new(),
        token_hashes: vec![warden_gate::auth::token_hash(token)],
        service: false,
    }
}

pub fn actor(name: &str, roles: &[&str]) -> Actor {
    Actor {
        name: name.to_string(),
        roles: roles.iter().map(|r| r.to_string()).collect(),
        client_addr: None,
        alerts: Vec::new(),
    }
}

impl Warden {
    pub async fn start(s: Setup) -> Warden {
        let dir = tempfile::tempdir().expect("tempdir");
        let policy_file = dir.path().join("policy.yaml");
        std::fs::write(&policy_file, &s.policy).expect("write policy");
        let set = PolicySet::load(&[&policy_file]).expect("policy loads");
        let mut acfg = AuditConfig::new(dir.path().join("audit"));
        acfg.queued_window = Duration::from_millis(5);
        let stores = warden_app::stores::open_in(dir.path(), acfg, "http://console.test")
            .expect("stores open");
        let (audit, approvals) = (stores.audit, stores.approvals);
        let gate = Gate::new(
            PolicyStore::new(set),
            audit.clone(),
            approvals.clone(),
            Arc::new(SqlCache::new(128)),
        );
        let tls = s.tls.then(|| {
            let c = self_signed(dir.path(), "warden");
            TlsFiles {
                cert: c.cert,
                key: c.key,
            }
        });
        let target = TargetConfig {
            name: "api".to_string(),
            protocol: s.protocol,
            listen: "127.0.0.1:0".parse().expect("addr"),
            upstream: s.upstream,
            labels: BTreeMap::from([("env".to_string(), "production".to_string())]),
            upstream_user: None,
            upstream_password: Some(warden_config::Secret::new(UPSTREAM_TOKEN)),
            tls,
            upstream_tls: s.upstream_tls,
            max_connections: 256,
            postgres: PostgresOptions::default(),
            mysql: Default::default(),
            http: s.http,
            ssh: SshOptions::default(),
        };
        let users = Arc::new(UserDirectory::new([
            user("alice", &["developer"], ALICE_TOKEN),
            user("bob", &["admin", "sre"], BOB_TOKEN),
        ]));
        let throttle = Arc::new(LoginThrottle::new(ThrottleConfig::default()));
        let shutdown = CancellationToken::new();
        let ctx = FrontendContext::new(
            Arc::new(target),
            gate.clone(),
            users,
            throttle,
            shutdown.clone(),
            dir.path().to_path_buf(),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind warden");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            if let Err(e) = warden_app::registry::serve(listener, ctx).await {
                eprintln!("warden http serve failed: {e}");
            }
        });
        Warden {
            addr,
            gate,
            approvals,
            audit,
            shutdown,
            dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Waits for a pending approval request and returns it.
    pub async fn pending(&self) -> ApprovalRequest {
        within(20, async {
            loop {
                if let Some(r) = self
                    .approvals
                    .list(Some(ApprovalState::Pending))
                    .into_iter()
                    .next()
                {
                    return r;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
    }

    pub async fn approve(&self, id: &str) {
        self.approvals
            .approve(id, &actor("bob", &["admin", "sre"]), Some("ok".into()))
            .await
            .expect("approve");
    }

    pub async fn deny(&self, id: &str) {
        self.approvals
            .deny(id, &actor("bob", &["admin", "sre"]), Some("no".into()))
            .await
            .expect("deny");
    }

    /// Every audit record's JSON, oldest first.
    pub async fn audit_json(&self) -> Vec<Value> {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let page = self
            .audit
            .query(&warden_audit::Query {
                limit: 10_000,
                ..Default::default()
            })
            .expect("audit query");
        page.records
            .iter()
            .map(|r| serde_json::to_value(r).expect("record json"))
            .collect()
    }
}

/// Sends raw bytes on a fresh TCP connection and returns everything read until EOF.
pub async fn raw_exchange(addr: SocketAddr, bytes: &[u8]) -> String {
    within(10, async {
        let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
        s.write_all(bytes).await.expect("write");
        let mut out = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out)).await;
        String::from_utf8_lossy(&out).to_string()
    })
    .await
}

/// A reqwest client.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}
