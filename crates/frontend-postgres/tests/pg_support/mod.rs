//! Test harness for the PostgreSQL front-end: a real Gate (policies, sled audit log,
//! approvals) in a temp dir, the front-end listening on 127.0.0.1:0, in front of the
//! machine's PostgreSQL (127.0.0.1:5432, user postgres, trust), with a fresh database per
//! harness that is dropped afterwards.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tempfile::TempDir;
use tokio_postgres::{Client, NoTls};
use tokio_util::sync::CancellationToken;
use warden_approval::{ApprovalRequest, ApprovalState};
use warden_audit::AuditConfig;
use warden_config::{TargetConfig, TlsFiles, UpstreamTls};
use warden_frontend_postgres::PostgresOptions;
use warden_gate::auth::{LoginThrottle, ScramVerifier, ThrottleConfig, User, UserDirectory};
use warden_gate::{FrontendContext, Gate};
use warden_inspect::{Actor, Protocol};
use warden_policy::{PolicySet, PolicyStore, SqlCache};

pub const UPSTREAM: &str = "127.0.0.1:5432";
pub const ALICE_PW: &str = "alice-secret-1";
pub const BOB_PW: &str = "bob-secret-2";

/// The policy most tests run under.
pub const POLICY: &str = r#"
version: 1
rules:
  - name: no-drop-or-truncate
    when:
      protocol: postgres
      sql: { statements: [drop, truncate] }
    action: deny
    message: DROP and TRUNCATE are blocked here
  - name: no-secret-reads
    when:
      sql: { objects: ["*.secrets", "secrets"] }
    action: deny
    message: the secrets table is off limits
  - name: unbounded-writes-need-approval
    when:
      sql: { statements: [update, delete], without_where: true }
    action: hold
    approval: { approvers: { roles: [dba] }, required: 1, timeout: 3s }
"#;

pub struct Setup {
    pub policy: String,
    pub tls: Option<TlsFiles>,
    pub upstream_tls: Option<UpstreamTls>,
    pub options: PostgresOptions,
    pub throttle: ThrottleConfig,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            policy: POLICY.to_owned(),
            tls: None,
            upstream_tls: None,
            options: PostgresOptions::default(),
            throttle: ThrottleConfig::default(),
        }
    }
}

pub struct Harness {
    pub addr: SocketAddr,
    pub gate: Gate,
    pub db: String,
    pub shutdown: CancellationToken,
    pub dir: TempDir,
    /// The users the front-end logs in against (tests mint gateway tokens on it).
    pub users: Arc<UserDirectory>,
}

fn user(name: &str, role: &str, pw: &str, scram: bool) -> User {
    User {
        name: name.into(),
        roles: vec![role.into()],
        password_hash: warden_gate::auth::password::hash_password(pw).ok(),
        scram: scram.then(|| ScramVerifier::generate(pw)),
        mysql_native: None,
        ssh_authorized_keys: vec![],
        token_hashes: vec![],
        service: false,
    }
}

pub async fn admin_client(db: &str) -> Client {
    let (client, conn) = tokio_postgres::connect(
        &format!("host=127.0.0.1 port=5432 user=postgres dbname={db}"),
        NoTls,
    )
    .await
    .expect("connect to the real PostgreSQL");
    tokio::spawn(conn);
    client
}

pub async fn start() -> Harness {
    start_with(Setup::default()).await
}

pub async fn start_with(setup: Setup) -> Harness {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("warden_t_{}", hex::encode(rand::random::<[u8; 6]>()));
    admin_client("postgres")
        .await
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .await
        .expect("create test database");

    let stores = warden_app::stores::open_in(
        dir.path(),
        AuditConfig::new(dir.path().join("audit")),
        "http://warden.test",
    )
    .expect("stores");
    let (audit, approvals) = (stores.audit, stores.approvals);
    let set =
        PolicySet::from_sources(&[("test.yaml".into(), setup.policy.clone())]).expect("policy");
    let gate = Gate::new(
        PolicyStore::new(set),
        audit,
        approvals,
        Arc::new(SqlCache::new(1024)),
    );

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let target = TargetConfig {
        name: "pg-test".into(),
        protocol: Protocol::Postgres,
        listen: addr,
        upstream: UPSTREAM.into(),
        labels: BTreeMap::from([("env".to_string(), "production".to_string())]),
        upstream_user: Some("postgres".into()),
        upstream_password: None,
        tls: setup.tls,
        upstream_tls: setup.upstream_tls,
        max_connections: 64,
        postgres: setup.options,
        mysql: Default::default(),
        http: Default::default(),
        ssh: Default::default(),
    };
    let users = UserDirectory::new([
        user("alice", "developer", ALICE_PW, true),
        user("bob", "dba", BOB_PW, true),
        user("carol", "developer", "carol-pw-3", false),
    ]);
    let users = Arc::new(users);
    let shutdown = CancellationToken::new();
    let ctx = FrontendContext::new(
        Arc::new(target),
        gate.clone(),
        Arc::clone(&users),
        Arc::new(LoginThrottle::new(setup.throttle)),
        shutdown.clone(),
        dir.path().to_path_buf(),
    );
    tokio::spawn(warden_app::registry::serve(listener, ctx));
    Harness {
        addr,
        gate,
        db,
        shutdown,
        dir,
        users,
    }
}

impl Harness {
    pub fn conn_str(&self, user: &str, password: &str) -> String {
        format!(
            "host=127.0.0.1 port={} user={user} password={password} dbname={} connect_timeout=10",
            self.addr.port(),
            self.db
        )
    }

    /// alice through Warden (SCRAM, no TLS).
    pub async fn alice(&self) -> Client {
        self.connect("alice", ALICE_PW)
            .await
            .expect("alice connects through Warden")
    }

    pub async fn connect(
        &self,
        user: &str,
        password: &str,
    ) -> Result<Client, tokio_postgres::Error> {
        let (client, conn) = tokio::time::timeout(
            Duration::from_secs(20),
            tokio_postgres::connect(&self.conn_str(user, password), NoTls),
        )
        .await
        .expect("connect timed out")?;
        tokio::spawn(conn);
        Ok(client)
    }

    /// The postgres superuser straight to the test database (for checks).
    pub async fn direct(&self) -> Client {
        admin_client(&self.db).await
    }

    /// Waits until exactly one new pending approval exists and returns it.
    pub async fn pending(&self) -> ApprovalRequest {
        for _ in 0..200 {
            if let Some(r) = self
                .gate
                .approvals()
                .list(Some(ApprovalState::Pending))
                .into_iter()
                .next()
            {
                return r;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("no pending approval appeared");
    }

    pub async fn approve(&self, id: &str) {
        let bob = Actor {
            name: "bob".into(),
            roles: vec!["dba".into()],
            client_addr: None,
            alerts: Vec::new(),
        };
        self.gate
            .approvals()
            .approve(id, &bob, Some("ok".into()))
            .await
            .expect("approve");
    }

    pub async fn deny(&self, id: &str) {
        let bob = Actor {
            name: "bob".into(),
            roles: vec!["dba".into()],
            client_addr: None,
            alerts: Vec::new(),
        };
        self.gate
            .approvals()
            .deny(id, &bob, Some("no".into()))
            .await
            .expect("deny");
    }

    /// Runs `psql` against Warden with `sql` on stdin; returns (success, stdout, stderr).
    pub async fn psql(
        &self,
        user: &str,
        password: &str,
        extra: &[&str],
        sql: &str,
    ) -> (bool, String, String) {
        use tokio::io::AsyncWriteExt;
        let mut cmd = tokio::process::Command::new("psql");
        cmd.args([
            "-X",
            "-h",
            "127.0.0.1",
            "-p",
            &self.addr.port().to_string(),
            "-U",
            user,
            "-d",
            &self.db,
            "-v",
            "ON_ERROR_STOP=0",
        ])
        .args(extra)
        .env("PGPASSWORD", password)
        .env("PGCONNECT_TIMEOUT", "10")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
        let mut child = cmd.spawn().expect("psql");
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(sql.as_bytes()).await.expect("stdin");
        }
        let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
            .await
            .expect("psql timed out")
            .expect("psql output");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.shutdown.cancel();
        let _ = std::process::Command::new("psql")
            .args([
                "-X",
                "-q",
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-c",
            ])
            .arg(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.db))
            .output();
    }
}

/// The SQLSTATE of a tokio-postgres error, if the server sent one.
pub fn sqlstate(e: &tokio_postgres::Error) -> Option<String> {
    e.as_db_error().map(|d| d.code().code().to_owned())
}

pub fn message(e: &tokio_postgres::Error) -> String {
    e.as_db_error()
        .map(|d| d.message().to_owned())
        .unwrap_or_else(|| e.to_string())
}

/// Bounds a test step in time.
pub async fn within<F: std::future::Future>(secs: u64, f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(secs), f)
        .await
        .expect("step timed out")
}
pub mod raw;
