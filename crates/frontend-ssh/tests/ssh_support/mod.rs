//! Test harness for the SSH front-end: a real OpenSSH server (`/usr/sbin/sshd`) on a
//! free loopback port with its own host key and authorized_keys (root logs in with a
//! generated key), and Warden's ssh front-end in front of it with a real Gate (policy,
//! sled audit log, approvals) in a temp dir. Clients: the real `ssh`/`sftp` binaries.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

use tempfile::TempDir;
use tokio_util::sync::CancellationToken;
use warden_approval::{ApprovalRequest, ApprovalState, Approvals};
use warden_audit::{AuditConfig, AuditLog, EventKind, Query, Record};
use warden_config::TargetConfig;
use warden_frontend_ssh::SshOptions;
use warden_gate::auth::{LoginThrottle, ThrottleConfig, User, UserDirectory};
use warden_gate::{FrontendContext, Gate};
use warden_inspect::{Actor, Protocol};
use warden_policy::{PolicySet, PolicyStore, SqlCache};

pub const ALICE_PW: &str = "alice-ssh-pw-1";

/// The policy the tests run under.
pub const POLICY: &str = r#"
version: 1
rules:
  - name: no-rm-rf
    when: { protocol: ssh, ssh: { programs: [rm], args: ["-rf", "-r"] } }
    action: deny
    message: Recursive deletes are not allowed through Warden.
  - name: opaque-refused
    when: { protocol: ssh, ssh: { opaque: true } }
    action: deny
    message: Commands whose effect cannot be known are refused.
  - name: touch-needs-ops
    when: { protocol: ssh, ssh: { programs: [touch] } }
    action: hold
    approval: { approvers: { roles: [ops] }, required: 1, timeout: 10m }
  - name: no-sftp
    when: { protocol: ssh, ssh: { subsystems: [sftp] } }
    action: deny
    message: sftp is not allowed on this host.
  - name: no-forwarding
    when: { protocol: ssh, ssh: { forwarding: true } }
    action: deny
    message: Forwarding is not allowed.
"#;

fn run_sync(cmd: &mut std::process::Command) {
    let out = cmd.output().expect("run helper command");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Generate an ed25519 key pair at `path` (+ `.pub`).
pub fn keygen(path: &Path) {
    run_sync(
        std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "test", "-f"])
            .arg(path),
    );
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A real sshd, killed on drop.
pub struct Sshd {
    pub port: u16,
    pub host_pub: PathBuf,
    pub client_key: PathBuf,
    child: std::process::Child,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Sshd {
    pub fn start(dir: &Path) -> Sshd {
        std::fs::create_dir_all("/run/sshd").expect("/run/sshd");
        let host_key = dir.join("sshd_host_key");
        keygen(&host_key);
        let client_key = dir.join("upstream_key");
        keygen(&client_key);
        let auth = dir.join("authorized_keys");
        std::fs::copy(client_key.with_extension("pub"), &auth).expect("authorized_keys");
        for attempt in 0..5 {
            let port = free_port();
            let cfg = dir.join(format!("sshd_config_{attempt}"));
            let text = format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nAuthorizedKeysFile {}\n\
                 StrictModes no\nUsePAM no\nPidFile {}\nPermitRootLogin prohibit-password\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\n\
                 Subsystem sftp internal-sftp\nAllowTcpForwarding yes\nLogLevel ERROR\n",
                host_key.display(),
                auth.display(),
                dir.join(format!("sshd_{attempt}.pid")).display(),
            );
            std::fs::write(&cfg, text).expect("sshd_config");
            let mut child = std::process::Command::new("/usr/sbin/sshd")
                .args(["-D", "-e", "-f"])
                .arg(&cfg)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start sshd");
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while std::time::Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Sshd {
                        port,
                        host_pub: host_key.with_extension("pub"),
                        client_key,
                        child,
                    };
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("sshd did not start");
    }

    pub fn fingerprint(&self) -> String {
        let key = russh::keys::load_public_key(&self.host_pub).expect("host pub");
        key.fingerprint(russh::keys::HashAlg::Sha256).to_string()
    }
}

pub struct Harness {
    pub addr: SocketAddr,
    pub gate: Gate,
    pub audit: AuditLog,
    pub approvals: Approvals,
    pub shutdown: CancellationToken,
    /// Alice's private key (authorized in Warden's user directory).
    pub alice_key: PathBuf,
    /// A scratch folder the upstream commands work in (same machine).
    pub work: PathBuf,
    pub sshd: Sshd,
    pub dir: TempDir,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

#[derive(Default)]
pub struct Options {
    /// `None`: pin the real sshd host key.
    pub pin: Option<String>,
    /// Use a known_hosts file instead of a pin: `Some(true)` with the real host key,
    /// `Some(false)` with a different key for the same host.
    pub known_hosts: Option<bool>,
    pub throttle: ThrottleConfig,
    /// Replaces [`POLICY`].
    pub policy: Option<String>,
}

pub async fn start() -> Harness {
    start_with(Options::default()).await
}

pub async fn start_with(opts: Options) -> Harness {
    let dir = tempfile::tempdir().expect("tempdir");
    let sshd = Sshd::start(dir.path());
    let alice_key = dir.path().join("alice_key");
    keygen(&alice_key);
    let alice_pub = std::fs::read_to_string(alice_key.with_extension("pub")).expect("pub");
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).expect("work dir");

    let stores = warden_app::stores::open_in(
        dir.path(),
        AuditConfig::new(dir.path().join("audit")),
        "http://console.test",
    )
    .expect("stores");
    let (audit, approvals) = (stores.audit, stores.approvals);
    let policy = opts.policy.clone().unwrap_or_else(|| POLICY.to_string());
    let set = PolicySet::from_sources(&[("ssh-test.yaml".to_string(), policy)]).expect("policy");
    let gate = Gate::new(
        PolicyStore::new(set),
        audit.clone(),
        approvals.clone(),
        Arc::new(SqlCache::default()),
    );

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let target = TargetConfig {
        name: "ssh-test".into(),
        protocol: Protocol::Ssh,
        listen: addr,
        upstream: format!("127.0.0.1:{}", sshd.port),
        labels: BTreeMap::from([("env".to_string(), "production".to_string())]),
        upstream_user: Some("root".into()),
        upstream_password: None,
        tls: None,
        upstream_tls: None,
        max_connections: 64,
        postgres: Default::default(),
        mysql: Default::default(),
        http: Default::default(),
        ssh: SshOptions {
            host_key_fingerprint: match opts.known_hosts {
                Some(_) => None,
                None => Some(opts.pin.unwrap_or_else(|| sshd.fingerprint())),
            },
            known_hosts: opts.known_hosts.map(|real| {
                let key = if real {
                    sshd.host_pub.clone()
                } else {
                    alice_key.with_extension("pub")
                };
                let line = std::fs::read_to_string(key).expect("key");
                let path = dir.path().join("known_hosts");
                std::fs::write(&path, format!("[127.0.0.1]:{} {}", sshd.port, line))
                    .expect("known_hosts");
                path
            }),
            upstream_key_file: Some(sshd.client_key.clone()),
            connect_timeout_secs: Some(10),
            ..SshOptions::default()
        },
    };
    let users = UserDirectory::new([
        User {
            name: "alice".into(),
            roles: vec!["developer".into()],
            password_hash: warden_gate::auth::password::hash_password(ALICE_PW).ok(),
            scram: None,
            mysql_native: None,
            ssh_authorized_keys: warden_gate::auth::normalize_ssh_key(&alice_pub)
                .into_iter()
                .collect(),
            token_hashes: vec![],
            service: false,
        },
        User {
            name: "olga".into(),
            roles: vec!["ops".into()],
            password_hash: None,
            scram: None,
            mysql_native: None,
            ssh_authorized_keys: vec![],
            token_hashes: vec![],
            service: false,
        },
    ]);
    let shutdown = CancellationToken::new();
    let ctx = FrontendContext::new(
        Arc::new(target),
        gate.clone(),
        Arc::new(users),
        Arc::new(LoginThrottle::new(opts.throttle)),
        shutdown.clone(),
        dir.path().join("data"),
    );
    tokio::spawn(warden_app::registry::serve(listener, ctx));
    Harness {
        addr,
        gate,
        audit,
        approvals,
        shutdown,
        alice_key,
        work,
        sshd,
        dir,
    }
}

/// What a client run produced.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Run {
    pub fn out(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

fn to_run(out: Output) -> Run {
    Run {
        code: out.status.code(),
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub fn ops() -> Actor {
    Actor {
        name: "olga".into(),
        roles: vec!["ops".into()],
        client_addr: None,
        alerts: Vec::new(),
    }
}

impl Harness {
    fn ssh_base(&self, program: &str) -> tokio::process::Command {
        self.ssh_keys(program, &[&self.alice_key])
    }

    /// `program` offering exactly `keys`, in this order.
    fn ssh_keys(&self, program: &str, keys: &[&Path]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(program);
        cmd.args([
            "-F",
            "/dev/null",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "BatchMode=yes",
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "ConnectTimeout=10",
            "-o",
            "LogLevel=ERROR",
        ])
        .kill_on_drop(true);
        for key in keys {
            cmd.arg("-i").arg(key);
        }
        cmd
    }

    /// `ssh USER@warden 'command'` offering `keys` in this order (and no others).
    pub async fn ssh_offering(&self, user: &str, keys: &[&Path], command: &str) -> Run {
        let mut cmd = self.ssh_keys("ssh", keys);
        cmd.arg("-p")
            .arg(self.addr.port().to_string())
            .arg(format!("{user}@127.0.0.1"))
            .arg(command);
        run(cmd, b"").await
    }

    /// `ssh alice@warden 'command'` with `stdin` piped in; bounded by 60 s.
    pub async fn ssh(&self, command: &str, stdin: &[u8]) -> Run {
        let mut cmd = self.ssh_base("ssh");
        cmd.arg("-p")
            .arg(self.addr.port().to_string())
            .arg("alice@127.0.0.1")
            .arg(command);
        run(cmd, stdin).await
    }

    /// Any `ssh` invocation with extra arguments before the destination.
    pub async fn ssh_args(&self, extra: &[&str], command: Option<&str>) -> Run {
        let mut cmd = self.ssh_base("ssh");
        cmd.arg("-p").arg(self.addr.port().to_string());
        cmd.args(extra).arg("alice@127.0.0.1");
        if let Some(c) = command {
            cmd.arg(c);
        }
        run(cmd, b"").await
    }

    /// Any `ssh` invocation with extra arguments and `stdin` piped in; bounded by 60 s.
    pub async fn ssh_io(&self, extra: &[&str], command: Option<&str>, stdin: &[u8]) -> Run {
        let mut cmd = self.ssh_base("ssh");
        cmd.arg("-p").arg(self.addr.port().to_string());
        cmd.args(extra).arg("alice@127.0.0.1");
        if let Some(c) = command {
            cmd.arg(c);
        }
        run(cmd, stdin).await
    }

    /// A long-running `ssh` (e.g. `-N -L ...`), killed when the child is dropped.
    pub fn ssh_spawn(&self, extra: &[&str]) -> tokio::process::Child {
        let mut cmd = self.ssh_base("ssh");
        cmd.arg("-p").arg(self.addr.port().to_string());
        cmd.args(extra).arg("alice@127.0.0.1");
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        cmd.spawn().expect("spawn ssh")
    }

    pub async fn sftp(&self, batch: &str) -> Run {
        let mut cmd = self.ssh_base("sftp");
        cmd.args(["-b", "-", "-P"])
            .arg(self.addr.port().to_string())
            .arg("alice@127.0.0.1");
        run(cmd, batch.as_bytes()).await
    }

    /// The first pending approval request, waiting up to 10 s for it to appear.
    pub async fn pending(&self) -> ApprovalRequest {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(r) = self
                .approvals
                .list(Some(ApprovalState::Pending))
                .into_iter()
                .next()
            {
                return r;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no pending approval"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Records of `kind`, oldest first, waiting up to 5 s for at least `min`.
    pub async fn records(&self, kind: EventKind, min: usize) -> Vec<Record> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let page = self
                .audit
                .query(&Query {
                    limit: 1000,
                    ..Query::default()
                })
                .expect("query");
            let mut found: Vec<Record> = page
                .records
                .into_iter()
                .filter(|r| r.event.kind == kind)
                .collect();
            found.reverse();
            if found.len() >= min || tokio::time::Instant::now() > deadline {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn run(mut cmd: tokio::process::Command, stdin: &[u8]) -> Run {
    use tokio::io::AsyncWriteExt;
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn client");
    let mut input = child.stdin.take().expect("stdin");
    let data = stdin.to_vec();
    let writer = tokio::spawn(async move {
        let _ = input.write_all(&data).await;
        let _ = input.shutdown().await;
    });
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("client timed out")
        .expect("client output");
    let _ = writer.await;
    to_run(out)
}
