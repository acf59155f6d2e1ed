//! A minimal stand-alone Warden postgres gateway for `benches/pg/run.sh`: the real Gate
//! (policy file, sled audit log, approvals) and the real front-end, without the rest of
//! `warden serve`. Not for production use.
//!
//! Usage: pg_bench_proxy LISTEN UPSTREAM DATA_DIR POLICY_FILE
//! The single user `bench` (role developer) logs in with SCRAM using $BENCH_PASSWORD.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use warden_approval::Approvals;
use warden_audit::{AuditConfig, AuditLog};
use warden_inspect::Protocol;
use warden_policy::{PolicySet, PolicyStore, SqlCache};
use warden_proxy::auth::{LoginThrottle, ScramVerifier, ThrottleConfig, User, UserDirectory};
use warden_proxy::config::TargetConfig;
use warden_proxy::frontend::FrontendContext;
use warden_proxy::gate::Gate;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, listen, upstream, dir, policy] = args.as_slice() else {
        anyhow::bail!("usage: pg_bench_proxy LISTEN UPSTREAM DATA_DIR POLICY_FILE");
    };
    let password = std::env::var("BENCH_PASSWORD")?;
    let dir = std::path::PathBuf::from(dir);
    let audit = AuditLog::open(AuditConfig::new(dir.join("audit")))?;
    let db = sled::open(dir.join("approvals"))?;
    let approvals = Approvals::open(&db, audit.clone(), "http://127.0.0.1:0".into())?;
    let set = PolicySet::load(&[policy]).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let gate = Gate::new(
        PolicyStore::new(set),
        audit,
        approvals,
        Arc::new(SqlCache::new(10_000)),
    );
    let listener = tokio::net::TcpListener::bind(listen.as_str()).await?;
    let target = TargetConfig {
        name: "bench-db".into(),
        protocol: Protocol::Postgres,
        listen: listener.local_addr()?,
        upstream: upstream.clone(),
        labels: BTreeMap::from([("env".to_string(), "bench".to_string())]),
        upstream_user: Some("postgres".into()),
        upstream_password: None,
        tls: None,
        upstream_tls: None,
        max_connections: 1000,
        postgres: Default::default(),
        http: Default::default(),
        ssh: Default::default(),
    };
    let users = UserDirectory::new([User {
        name: "bench".into(),
        roles: vec!["developer".into()],
        password_hash: None,
        scram: Some(ScramVerifier::generate(&password)),
        ssh_authorized_keys: vec![],
        token_hashes: vec![],
    }]);
    let ctx = FrontendContext::new(
        Arc::new(target),
        gate,
        Arc::new(users),
        Arc::new(LoginThrottle::new(ThrottleConfig::default())),
        CancellationToken::new(),
        dir,
    );
    warden_proxy::postgres::serve(listener, ctx).await?;
    Ok(())
}
