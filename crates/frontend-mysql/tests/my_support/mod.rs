//! Test harness for the MySQL front-end: a real Gate (the shipped `mysql-production`
//! policy pack, sled audit log, approvals) in a temp dir, the front-end on 127.0.0.1:0
//! in front of the machine's MariaDB (127.0.0.1:3306, root, no password). Each harness
//! makes its own database and upstream account (`warden_my_<hex>`), both dropped
//! afterwards; Warden logs in upstream as that account with its password.
#![allow(dead_code)]

pub mod checks;
pub mod raw;
pub mod table;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use tempfile::TempDir;
use warden_approval::{ApprovalRequest, ApprovalState};
use warden_audit::AuditConfig;
use warden_config::{MysqlNativeVerifier, MysqlOptions, Secret, TargetConfig};
use warden_gate::auth::{LoginThrottle, ThrottleConfig, User, UserDirectory};
use warden_gate::{CancellationToken, FrontendContext, Gate};
use warden_inspect::{Actor, Protocol};
use warden_policy::{PolicySet, PolicyStore, SqlCache};

pub const UPSTREAM: &str = "127.0.0.1:3306";
pub const ALICE_PW: &str = "alice-secret-1";
/// carol has only an argon2id `password_hash` (`start_tls` and `start_with_carol` only).
pub const CAROL_PW: &str = "carol-secret-3";

fn user(name: &str, role: &str, pw: &str) -> User {
    User {
        name: name.into(),
        roles: vec![role.into()],
        password_hash: None,
        scram: None,
        mysql_native: Some(MysqlNativeVerifier::generate(pw)),
        ssh_authorized_keys: vec![],
        token_hashes: vec![],
        service: false,
    }
}

/// Runs SQL as MariaDB's root directly (setup and checks); panics on failure.
pub fn admin(sql: &str) -> String {
    let out = Command::new("mariadb")
        .args([
            "-h",
            "127.0.0.1",
            "-P",
            "3306",
            "-u",
            "root",
            "-N",
            "-B",
            "-e",
            sql,
        ])
        .output()
        .expect("run mariadb");
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

pub struct Harness {
    pub addr: SocketAddr,
    pub gate: Gate,
    pub db: String,
    pub upstream_user: String,
    pub shutdown: CancellationToken,
    pub dir: TempDir,
    /// The CA that signed the front-end's certificate (TLS harnesses).
    pub ca: Option<std::path::PathBuf>,
}

pub async fn start() -> Harness {
    start_with(MysqlOptions::default()).await
}

pub async fn start_with(options: MysqlOptions) -> Harness {
    start_with_policy(options, None).await
}

/// A harness whose Gate has `extra` (a policy file's text) next to the shipped pack.
pub async fn start_with_policy(options: MysqlOptions, extra: Option<&str>) -> Harness {
    start_inner(options, extra, false, false, None).await
}

/// Another upstream than the machine's MariaDB, with its own account and database
/// (made and dropped by the caller).
pub struct OtherUpstream {
    pub addr: String,
    pub user: String,
    pub password: String,
    pub db: String,
    pub tls: Option<warden_config::UpstreamTls>,
}

/// A harness whose target is `upstream` (the harness's `direct` does not reach it).
pub async fn start_with_upstream(upstream: OtherUpstream) -> Harness {
    start_inner(MysqlOptions::default(), None, false, false, Some(upstream)).await
}

/// A harness without TLS that has the user carol (only a `password_hash`), for
/// `caching_sha2_password` full authentication over the RSA key exchange.
pub async fn start_with_carol(options: MysqlOptions) -> Harness {
    start_inner(options, None, false, true, None).await
}

/// A harness whose target has `tls:` settings (a fresh CA and a certificate for
/// 127.0.0.1), and the user carol with only a `password_hash`.
pub async fn start_tls() -> Harness {
    start_inner(MysqlOptions::default(), None, true, true, None).await
}

/// A CA and a server certificate for 127.0.0.1 in `dir`.
pub fn make_pki(dir: &std::path::Path) -> (std::path::PathBuf, warden_config::TlsFiles) {
    let ca_key = rcgen::KeyPair::generate().expect("ca key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "warden mysql test CA");
    let ca = ca_params.self_signed(&ca_key).expect("ca cert");
    let key = rcgen::KeyPair::generate().expect("key");
    let params =
        rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .expect("params");
    let cert = params.signed_by(&key, &ca, &ca_key).expect("cert");
    std::fs::write(dir.join("ca.pem"), ca.pem()).expect("write ca");
    std::fs::write(dir.join("server.pem"), cert.pem()).expect("write cert");
    std::fs::write(dir.join("server.key"), key.serialize_pem()).expect("write key");
    (
        dir.join("ca.pem"),
        warden_config::TlsFiles {
            cert: dir.join("server.pem"),
            key: dir.join("server.key"),
        },
    )
}

async fn start_inner(
    options: MysqlOptions,
    extra: Option<&str>,
    tls: bool,
    with_carol: bool,
    other: Option<OtherUpstream>,
) -> Harness {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ca, tls_files) = if tls {
        let (ca, files) = make_pki(dir.path());
        (Some(ca), Some(files))
    } else {
        (None, None)
    };
    let mut name = format!("warden_my_{}", hex::encode(rand::random::<[u8; 5]>()));
    let mut upstream_password = format!("pw-{}", hex::encode(rand::random::<[u8; 8]>()));
    let (mut upstream, mut upstream_user, mut upstream_tls) =
        (UPSTREAM.to_owned(), name.clone(), None);
    match other {
        Some(o) => {
            (upstream, upstream_user, upstream_password, upstream_tls) =
                (o.addr, o.user, o.password, o.tls);
            name = o.db;
        }
        None => {
            admin(&format!(
                "CREATE DATABASE {name}; CREATE USER '{name}'@'127.0.0.1' IDENTIFIED BY '{upstream_password}'; \
                 GRANT ALL ON {name}.* TO '{name}'@'127.0.0.1'"
            ));
        }
    }

    let stores = warden_app::stores::open_in(
        dir.path(),
        AuditConfig::new(dir.path().join("audit")),
        "http://warden.test",
    )
    .expect("stores");
    let pack = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../policies/mysql-production.yaml"
    ))
    .expect("policy pack");
    let mut sources = vec![("mysql-production.yaml".to_string(), pack)];
    if let Some(extra) = extra {
        sources.push(("extra.yaml".to_string(), extra.to_owned()));
    }
    let set = PolicySet::from_sources(&sources).expect("policy");
    let gate = Gate::new(
        PolicyStore::new(set),
        stores.audit,
        stores.approvals,
        Arc::new(SqlCache::new(1024)),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let target = TargetConfig {
        name: "shop-db".into(),
        protocol: Protocol::Mysql,
        listen: addr,
        upstream,
        labels: BTreeMap::from([("env".to_string(), "production".to_string())]),
        upstream_user: Some(upstream_user.clone()),
        upstream_password: Some(Secret::new(upstream_password)),
        tls: tls_files,
        upstream_tls,
        max_connections: 64,
        postgres: Default::default(),
        mysql: options,
        http: Default::default(),
        ssh: Default::default(),
    };
    let mut users = vec![
        user("alice", "developer", ALICE_PW),
        user("bob", "dba", "bob-secret-2"),
    ];
    if with_carol {
        let mut carol = user("carol", "developer", CAROL_PW);
        carol.mysql_native = None;
        carol.password_hash =
            Some(warden_gate::auth::password::hash_password(CAROL_PW).expect("hash"));
        users.push(carol);
    }
    let users = UserDirectory::new(users);
    let shutdown = CancellationToken::new();
    let ctx = FrontendContext::new(
        Arc::new(target),
        gate.clone(),
        Arc::new(users),
        Arc::new(LoginThrottle::new(ThrottleConfig::default())),
        shutdown.clone(),
        dir.path().to_path_buf(),
    );
    tokio::spawn(warden_app::registry::serve(listener, ctx));
    Harness {
        addr,
        gate,
        db: name.clone(),
        upstream_user,
        shutdown,
        dir,
        ca,
    }
}

impl Harness {
    /// Runs SQL directly on the test database as root (checks).
    pub fn direct(&self, sql: &str) -> String {
        admin(&format!("USE {}; {sql}", self.db))
    }

    /// The `mariadb` CLI through Warden as alice, `sql` on stdin, `--force` so that one
    /// error does not stop the script; returns (success, stdout, stderr).
    pub async fn cli(&self, extra: &[&str], sql: &str) -> (bool, String, String) {
        self.cli_as("alice", ALICE_PW, extra, sql).await
    }

    pub async fn cli_as(
        &self,
        user: &str,
        pw: &str,
        extra: &[&str],
        sql: &str,
    ) -> (bool, String, String) {
        use tokio::io::AsyncWriteExt;
        let mut cmd = tokio::process::Command::new("mariadb");
        cmd.args([
            "-h",
            "127.0.0.1",
            "-P",
            &self.addr.port().to_string(),
            "-u",
            user,
        ])
        .arg(format!("-p{pw}"))
        .args(["--skip-ssl", "--force", "-N", "-B", "--connect-timeout=10"])
        .args(extra)
        .arg(&self.db)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
        let mut child = cmd.spawn().expect("mariadb");
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(sql.as_bytes()).await.expect("stdin");
        }
        let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
            .await
            .expect("mariadb timed out")
            .expect("mariadb output");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// A raw protocol client logged in as alice.
    pub async fn raw(&self) -> raw::RawClient {
        raw::RawClient::login(self.addr, "alice", ALICE_PW, Some(&self.db))
            .await
            .expect("raw login")
    }

    /// mysql_async connection options for `user` through Warden (TCP, the harness's
    /// database).
    pub fn driver_opts(&self, user: &str, pw: &str) -> mysql_async::Opts {
        mysql_async::OptsBuilder::default()
            .ip_or_hostname("127.0.0.1")
            .tcp_port(self.addr.port())
            .user(Some(user))
            .pass(Some(pw))
            .db_name(Some(self.db.clone()))
            .prefer_socket(false)
            .into()
    }

    /// A mysql_async connection through Warden as alice.
    pub async fn driver(&self) -> mysql_async::Conn {
        within(
            30,
            mysql_async::Conn::new(self.driver_opts("alice", ALICE_PW)),
        )
        .await
        .expect("mysql_async connects through Warden")
    }

    /// Audit records whose event JSON contains `text` (case-insensitive), newest
    /// first; waits up to 5 s for at least one (queued records are written in the
    /// background).
    pub async fn audit_records(&self, text: &str) -> Vec<warden_audit::Event> {
        for _ in 0..100 {
            let page = self
                .gate
                .audit()
                .query(&warden_audit::Query {
                    since: None,
                    until: None,
                    user: None,
                    target: None,
                    verdict: None,
                    text: Some(text.to_owned()),
                    after: None,
                    limit: 100,
                })
                .expect("audit query");
            if !page.records.is_empty() {
                return page.records.into_iter().map(|r| r.event).collect();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Vec::new()
    }

    /// The record with an outcome among those containing `text` (waits up to 5 s).
    pub async fn outcome_record(&self, text: &str) -> Option<warden_audit::Event> {
        for _ in 0..50 {
            let found = self
                .audit_records(text)
                .await
                .into_iter()
                .find(|e| e.outcome.is_some());
            if found.is_some() {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        None
    }

    /// No audit record contains `text` (after the queued ones had time to land).
    pub async fn audit_lacks(&self, text: &str) -> bool {
        tokio::time::sleep(Duration::from_millis(300)).await;
        self.gate
            .audit()
            .query(&warden_audit::Query {
                since: None,
                until: None,
                user: None,
                target: None,
                verdict: None,
                text: Some(text.to_owned()),
                after: None,
                limit: 1,
            })
            .expect("audit query")
            .records
            .is_empty()
    }

    /// Runs `statements` through Warden with Python's PyMySQL (one connection, multi-
    /// statements on), one answer line per statement: `OK <rows>` or `ERR <code>`.
    pub async fn pymysql(&self, statements: &[&str]) -> Vec<String> {
        self.pymysql_as("alice", ALICE_PW, None, statements).await
    }

    /// [`pymysql`](Self::pymysql) as `user`; `public_key`: a PEM file PyMySQL is given
    /// as the server's RSA public key (else it asks for it when it needs it). A failed
    /// login prints `LOGIN_ERR <code>`.
    pub async fn pymysql_as(
        &self,
        user: &str,
        pw: &str,
        public_key: Option<&std::path::Path>,
        statements: &[&str],
    ) -> Vec<String> {
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/my_support/pymysql_client.py"
        );
        let out = tokio::process::Command::new("python3")
            .arg(script)
            .arg(self.addr.port().to_string())
            .arg(user)
            .arg(pw)
            .arg(&self.db)
            .args(statements)
            .env(
                "PYMYSQL_SERVER_PUBLIC_KEY",
                public_key.map(|p| p.as_os_str()).unwrap_or_default(),
            )
            .kill_on_drop(true)
            .output();
        let out = tokio::time::timeout(Duration::from_secs(60), out)
            .await
            .expect("pymysql timed out")
            .expect("run python3");
        assert!(
            out.status.success(),
            "pymysql client failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Waits until a pending approval exists and returns it.
    pub async fn pending(&self) -> ApprovalRequest {
        for _ in 0..400 {
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

    fn dba() -> Actor {
        Actor {
            name: "bob".into(),
            roles: vec!["dba".into()],
            client_addr: None,
            alerts: Vec::new(),
        }
    }

    /// Denies every pending approval, forever (run it next to statements that may be
    /// held and must not run).
    pub async fn deny_every_hold(&self) {
        loop {
            for r in self.gate.approvals().list(Some(ApprovalState::Pending)) {
                let _ = self
                    .gate
                    .approvals()
                    .deny(&r.id, &Self::any_approver(), Some("no".into()))
                    .await;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// An approver for every rule of the pack and the built-in defaults.
    fn any_approver() -> Actor {
        Actor {
            name: "carol".into(),
            roles: vec!["dba".into(), "admin".into(), "security".into()],
            client_addr: None,
            alerts: Vec::new(),
        }
    }

    pub async fn approve(&self, id: &str) {
        self.gate
            .approvals()
            .approve(id, &Self::dba(), Some("ok".into()))
            .await
            .expect("approve");
    }

    /// Approves as an approver of every rule (the built-in defaults need `admin`).
    pub async fn approve_as_admin(&self, id: &str) {
        self.gate
            .approvals()
            .approve(id, &Self::any_approver(), Some("ok".into()))
            .await
            .expect("approve");
    }

    pub async fn deny(&self, id: &str) {
        self.gate
            .approvals()
            .deny(id, &Self::dba(), Some("no".into()))
            .await
            .expect("deny");
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.shutdown.cancel();
        let _ = Command::new("mariadb")
            .args(["-h", "127.0.0.1", "-u", "root", "-e"])
            .arg(format!(
                "DROP DATABASE IF EXISTS {0}; DROP USER IF EXISTS '{0}'@'127.0.0.1'",
                self.db
            ))
            .output();
    }
}

/// Bounds a test step in time.
pub async fn within<F: std::future::Future>(secs: u64, f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(secs), f)
        .await
        .expect("step timed out")
}
