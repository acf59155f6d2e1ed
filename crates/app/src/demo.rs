//! `warden demo`: a zero-setup tour. Everything lives in a fresh temporary folder:
//! generated users (credentials printed), the shipped policy packs when found plus a
//! demo policy, the console, an embedded sample HTTP API with an http target in front
//! of it, a postgres target in front of 127.0.0.1:5432 and a mysql target in front of
//! 127.0.0.1:3306 (upstream user root) when those ports answer.
//!
//! [`prepare`] writes the folder and the config, starts the sample API and binds the
//! console; the CLI loads the config like any other and runs the gateway with
//! [`Demo::tour`] as its start-up message.
//!
//! Must start with no external service, and must never touch anything outside its
//! temporary folder.

use std::fmt::Write as _;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rand::distributions::Alphanumeric;
use rand::Rng;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use warden_config::MysqlNativeVerifier;
use warden_gate::auth::password::hash_password;
use warden_gate::auth::ScramVerifier;
use warden_policy::PolicySet;

use crate::gateway::Started;

const DEMO_POLICY: &str = r#"version: 1
rules:
  - name: demo-no-deleting-users
    description: Users are never deleted through the API; it goes through an admin process.
    when:
      protocol: http
      target: { names: [sample-api] }
      http: { methods: [DELETE], paths: ["/v1/users/*"] }
    action: deny
    message: Deleting users through the API is blocked; ask an admin.

  - name: demo-admin-needs-approval
    description: Anything under /admin runs only after someone with the approver role agrees.
    when:
      protocol: http
      target: { names: [sample-api] }
      http: { paths: ["/admin/**"] }
    action: hold
    approval: { approvers: { roles: [approver] }, required: 1, timeout: 10m }
"#;

struct DemoUser {
    name: &'static str,
    roles: &'static [&'static str],
    password: String,
}

fn password() -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(12)
        .map(char::from)
        .collect()
}

fn shipped_policies() -> Option<PathBuf> {
    let candidates = [
        PathBuf::from("policies"),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies"),
    ];
    candidates
        .into_iter()
        .find(|p| p.is_dir())
        .and_then(|p| p.canonicalize().ok())
}

fn answers(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    TcpStream::connect_timeout(&addr, Duration::from_millis(300)).is_ok()
}

/// Which optional database targets the demo adds (their ports answered).
#[derive(Clone, Copy)]
struct Databases {
    postgres: bool,
    mysql: bool,
}

fn yaml_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

fn write_config(
    dir: &Path,
    console: SocketAddr,
    sample: SocketAddr,
    users: &[DemoUser],
    policies: &[PathBuf],
    databases: Databases,
) -> std::io::Result<PathBuf> {
    let mut y = String::new();
    let _ = writeln!(
        y,
        "web:\n  listen: {console}\n  public_url: http://{console}"
    );
    let _ = writeln!(
        y,
        "audit:\n  path: {}",
        yaml_str(&dir.join("audit").to_string_lossy())
    );
    let _ = writeln!(
        y,
        "  signing_key: {}",
        yaml_str(&dir.join("audit.key").to_string_lossy())
    );
    let _ = writeln!(
        y,
        "data_dir: {}",
        yaml_str(&dir.join("data").to_string_lossy())
    );
    let _ = writeln!(y, "shutdown_grace: 3s");
    let _ = writeln!(y, "policies:");
    for p in policies {
        let _ = writeln!(y, "  - {}", yaml_str(&p.to_string_lossy()));
    }
    let _ = writeln!(y, "users:");
    for u in users {
        let hash = hash_password(&u.password).map_err(|e| std::io::Error::other(e.to_string()))?;
        let scram = ScramVerifier::generate(&u.password).to_text();
        let _ = writeln!(
            y,
            "  - name: {}\n    roles: [{}]\n    password_hash: {}\n    scram_sha256: {}",
            u.name,
            u.roles.join(", "),
            yaml_str(&hash),
            yaml_str(&scram)
        );
        if databases.mysql {
            let native = MysqlNativeVerifier::generate(&u.password).to_text();
            let _ = writeln!(y, "    mysql_native_password: {}", yaml_str(&native));
        }
    }
    let _ = writeln!(y, "targets:");
    let _ = writeln!(
        y,
        "  - name: sample-api\n    protocol: http\n    listen: 127.0.0.1:0\n    upstream: http://{sample}\n    labels: {{ env: demo }}"
    );
    if databases.postgres {
        let _ = writeln!(
            y,
            "  - name: demo-db\n    protocol: postgres\n    listen: 127.0.0.1:0\n    upstream: 127.0.0.1:5432\n    labels: {{ env: production }}\n    upstream_user: postgres"
        );
    }
    if databases.mysql {
        let _ = writeln!(
            y,
            "  - name: demo-mysql\n    protocol: mysql\n    listen: 127.0.0.1:0\n    upstream: 127.0.0.1:3306\n    labels: {{ env: production }}\n    upstream_user: root"
        );
    }
    let path = dir.join("warden.yaml");
    std::fs::write(&path, y)?;
    Ok(path)
}

/// A prepared demo: its folder, users, sample API and console socket.
pub struct Demo {
    pub dir: PathBuf,
    /// The generated `warden.yaml`.
    pub config: PathBuf,
    /// The console's socket, already bound (hand it to the gateway).
    pub console: Option<TcpListener>,
    users: Vec<DemoUser>,
    sample_task: JoinHandle<std::io::Result<()>>,
}

impl Drop for Demo {
    fn drop(&mut self) {
        self.sample_task.abort();
    }
}

/// Why the demo could not be prepared.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DemoError(String);

/// A fresh folder under the system's temporary folder for one demo run.
pub fn temp_dir() -> PathBuf {
    std::env::temp_dir().join(format!("warden-demo-{}-{}", std::process::id(), password()))
}

impl Demo {
    /// The start-up message: users, console, and what to try on each target.
    pub fn tour(&self, started: &Started) {
        tour(started, &self.users, &self.dir)
    }
}

fn tour(started: &Started, users: &[DemoUser], dir: &Path) {
    let pw = |name: &str| {
        users
            .iter()
            .find(|u| u.name == name)
            .map(|u| u.password.clone())
            .unwrap_or_default()
    };
    let (alice, bob) = (pw("alice"), pw("bob"));
    println!();
    println!(
        "Warden demo — data in {} (removed on exit unless --keep)",
        dir.display()
    );
    println!("  users:    alice / {alice} (developer)   bob / {bob} (approver, dba)   admin / {} (admin)", pw("admin"));
    println!(
        "  console:  http://{}   bob approves held actions; admin also sees the audit log, policies, alerts and the access report",
        started.console
    );
    for (name, proto, addr) in &started.targets {
        match proto.as_str() {
            "http" => {
                println!("  {name} ({proto}) on {addr}, in front of the embedded sample API:");
                println!("    allowed:  curl -u alice:{alice} http://{addr}/v1/users");
                println!("    denied:   curl -u alice:{alice} -X DELETE http://{addr}/v1/users/1");
                println!("    held:     curl -u alice:{alice} -X POST http://{addr}/admin/reindex   (approve it in the console)");
            }
            "postgres" => {
                println!("  {name} ({proto}) on {addr}, in front of 127.0.0.1:5432:");
                println!(
                    "    psql \"postgresql://alice:{alice}@{}:{}/postgres?sslmode=disable\"",
                    addr.ip(),
                    addr.port()
                );
                println!("    then try: SELECT 1;  DROP TABLE demo;  (the shipped production pack denies DROP)");
            }
            "mysql" => {
                println!("  {name} ({proto}) on {addr}, in front of 127.0.0.1:3306:");
                println!(
                    "    mariadb --skip-ssl -h {} -P {} -u alice -p{alice}",
                    addr.ip(),
                    addr.port()
                );
                println!("    then try: SELECT 1;  DROP TABLE demo.t;  (the shipped mysql-production pack denies DROP)");
            }
            _ => println!("  {name} ({proto}) on {addr}"),
        }
    }
    println!("  stop with Ctrl-C");
    println!();
}

/// Write users, policies and config into `dir` (which must exist), start the sample API
/// and bind the console on 127.0.0.1:`port` (0: any free port).
pub async fn prepare(dir: &Path, port: u16) -> Result<Demo, DemoError> {
    let users = vec![
        DemoUser {
            name: "alice",
            roles: &["developer"],
            password: password(),
        },
        DemoUser {
            name: "bob",
            roles: &["approver", "dba"],
            password: password(),
        },
        DemoUser {
            name: "admin",
            roles: &["admin"],
            password: password(),
        },
    ];
    let demo_policy = dir.join("demo-policy.yaml");
    std::fs::write(&demo_policy, DEMO_POLICY)
        .map_err(|e| DemoError(format!("cannot write {}: {e}", demo_policy.display())))?;
    let sample = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| DemoError(format!("sample API: {e}")))?;
    let sample_addr = sample
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
    let sample_task = tokio::spawn(crate::sample_api::serve_sample_api(sample));
    let console = TcpListener::bind(("127.0.0.1", port)).await.map_err(|e| {
        DemoError(format!(
            "console: cannot listen on 127.0.0.1:{port}: {e} (try --port 0)"
        ))
    })?;
    let console_addr = console
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], port)));

    // Shipped packs first; if they do not load, fall back to the demo policy alone.
    let mut policies: Vec<PathBuf> = shipped_policies().into_iter().collect();
    policies.push(demo_policy.clone());
    if PolicySet::load(&policies).is_err() {
        eprintln!("warning: the shipped policies did not load; using the demo policy only");
        policies = vec![demo_policy];
    }
    let databases = Databases {
        postgres: answers(5432),
        mysql: answers(3306),
    };
    let config = write_config(dir, console_addr, sample_addr, &users, &policies, databases)
        .map_err(|e| DemoError(format!("cannot write the demo config: {e}")))?;
    Ok(Demo {
        dir: dir.to_path_buf(),
        config,
        console: Some(console),
        users,
        sample_task,
    })
}
