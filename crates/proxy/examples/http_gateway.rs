//! A self-contained Warden http gateway for benchmarks (`benches/http/run.sh`): a real
//! Gate (audit + approvals on sled in a temp dir, an allow-all policy for `/bench/**`,
//! everything else held), one user with bearer token `bench-token`, and the http
//! front-end in front of `--upstream`.
//!
//! Usage: `http_gateway LISTEN UPSTREAM [WORKERS]`, e.g.
//! `http_gateway 127.0.0.1:18081 127.0.0.1:18080 2`.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use warden_approval::Approvals;
use warden_audit::{AuditConfig, AuditLog};
use warden_inspect::Protocol;
use warden_policy::{PolicySet, PolicyStore, SqlCache};
use warden_proxy::auth::{LoginThrottle, ThrottleConfig, User, UserDirectory};
use warden_proxy::config::TargetConfig;
use warden_proxy::{FrontendContext, Gate};

const POLICY: &str = r#"
version: 1
rules:
  - name: bench-reads
    when: { protocol: http, http: { methods: [GET, HEAD], paths: ["/**"] } }
    action: allow
"#;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(listen), Some(upstream)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: http_gateway LISTEN UPSTREAM [WORKERS]");
        std::process::exit(2);
    };
    let workers: usize = args.get(3).and_then(|w| w.parse().ok()).unwrap_or(2);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()?;
    rt.block_on(run(listen.clone(), upstream.clone()))
}

async fn run(listen: String, upstream: String) -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let policy = dir.path().join("bench.yaml");
    std::fs::write(&policy, POLICY)?;
    let set = PolicySet::load(&[&policy]).map_err(|e| format!("policy: {e:?}"))?;
    let audit = AuditLog::open(AuditConfig::new(dir.path().join("audit")))?;
    let db = sled::open(dir.path().join("approvals"))?;
    let approvals = Approvals::open(&db, audit.clone(), "http://127.0.0.1:8080".into())?;
    let gate = Gate::new(
        PolicyStore::new(set),
        audit,
        approvals,
        Arc::new(SqlCache::new(16)),
    );
    let target = TargetConfig {
        name: "bench".into(),
        protocol: Protocol::Http,
        listen: listen.parse()?,
        upstream,
        labels: BTreeMap::new(),
        upstream_user: None,
        upstream_password: None,
        tls: None,
        upstream_tls: None,
        max_connections: 10_000,
        postgres: Default::default(),
        http: Default::default(),
        ssh: Default::default(),
    };
    let users = UserDirectory::new([User {
        name: "bench".into(),
        roles: vec!["developer".into()],
        password_hash: None,
        scram: None,
        ssh_authorized_keys: Vec::new(),
        token_hashes: vec![warden_proxy::auth::directory::token_hash("bench-token")],
    }]);
    let ctx = FrontendContext::new(
        Arc::new(target),
        gate,
        Arc::new(users),
        Arc::new(LoginThrottle::new(ThrottleConfig::default())),
        CancellationToken::new(),
        dir.path().to_path_buf(),
    );
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!("warden http gateway listening on {listen}");
    warden_proxy::http::serve(listener, ctx).await?;
    Ok(())
}
