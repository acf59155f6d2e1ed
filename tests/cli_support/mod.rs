//! Shared by the CLI end-to-end tests: the real `warden` binary, free ports, a running
//! `warden serve` with its output read line by line, curl, and a config writer.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub mod fleet;

pub const BIN: &str = env!("CARGO_BIN_EXE_warden");

/// An argon2id PHC string with the cheapest parameters (1 MiB, one pass): quick to check
/// in tests that sign in many times; `warden hash-password`'s own cost is tested apart.
pub fn cheap_password_hash(pw: &str) -> String {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let params = argon2::Params::new(1024, 1, 1, None).expect("params");
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let salt = SaltString::generate(&mut rand::thread_rng());
    argon
        .hash_password(pw.as_bytes(), &salt)
        .expect("hash")
        .to_string()
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Kills the child on drop so a failing test never leaves a server behind.
pub struct Server {
    pub child: Child,
    pub stdout: mpsc::Receiver<String>,
    pub stderr: mpsc::Receiver<String>,
}

impl Server {
    pub fn start(args: &[&str]) -> Server {
        let mut cmd = Command::new(BIN);
        cmd.args(args).env("WARDEN_LOG", "info");
        Server::spawn(cmd)
    }

    /// Starts `cmd` (program, arguments and environment set by the caller) with stdin
    /// closed and its output read line by line.
    pub fn spawn(mut cmd: Command) -> Server {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn warden");
        let stdout = lines(child.stdout.take().expect("stdout"));
        let stderr = lines(child.stderr.take().expect("stderr"));
        Server {
            child,
            stdout,
            stderr,
        }
    }

    /// Wait (bounded) for a stdout line containing `needle`; return it.
    pub fn wait_stdout(&self, needle: &str, within: Duration) -> String {
        wait_line(&self.stdout, needle, within).unwrap_or_else(|seen| {
            let err: Vec<String> = self.stderr.try_iter().collect();
            panic!("no stdout line with {needle:?}; saw {seen:?}; stderr {err:?}")
        })
    }

    pub fn wait_stderr(&self, needle: &str, within: Duration) -> String {
        wait_line(&self.stderr, needle, within)
            .unwrap_or_else(|seen| panic!("no stderr line with {needle:?}; saw {seen:?}"))
    }

    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(ok.success());
    }

    /// SIGTERM, then the exit code (bounded).
    pub fn terminate(mut self) -> (Option<i32>, Vec<String>) {
        self.signal("-TERM");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                let out: Vec<String> = self.stdout.try_iter().collect();
                return (status.code(), out);
            }
            assert!(
                Instant::now() < deadline,
                "warden did not stop after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn lines(r: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

pub fn wait_line(
    rx: &mpsc::Receiver<String>,
    needle: &str,
    within: Duration,
) -> Result<String, Vec<String>> {
    let deadline = Instant::now() + within;
    let mut seen = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(line) if line.contains(needle) => return Ok(line),
            Ok(line) => seen.push(line),
            Err(_) => break,
        }
    }
    Err(seen)
}

/// `curl` status code and body.
pub fn curl(args: &[&str]) -> (String, String) {
    let out = Command::new("curl")
        .args(["-s", "--max-time", "10", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    (code.to_string(), body.to_string())
}

pub fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(BIN).args(args).output().expect("run warden");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

pub const POLICY: &str = "version: 1\nrules:\n  - name: no-drop\n    when: { sql: { statements: [drop] } }\n    action: deny\n";

pub fn write_config(dir: &Path, web_port: u16, extra: &str) -> std::path::PathBuf {
    std::fs::create_dir_all(dir.join("policies")).expect("mkdir");
    std::fs::write(dir.join("policies/main.yaml"), POLICY).expect("policy");
    let cfg = format!(
        "web:\n  listen: 127.0.0.1:{web_port}\naudit:\n  path: ./data/audit\npolicies: [./policies]\nshutdown_grace: 2s\n{extra}"
    );
    let path = dir.join("warden.yaml");
    std::fs::write(&path, cfg).expect("config");
    path
}

/// A throwaway PostgreSQL database, dropped (with its connections) on the way out.
pub struct Database(pub String);

impl Drop for Database {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args(["-h", "127.0.0.1", "-U", "postgres", "-qAtc"])
            .arg(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.0))
            .output();
    }
}

/// Run `sql` in `db` as the PostgreSQL superuser, directly (not through Warden).
pub fn psql_admin(db: &str, sql: &str) -> bool {
    Command::new("psql")
        .args(["-h", "127.0.0.1", "-U", "postgres", "-d", db, "-qAtc", sql])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Rows of `sql` in `db` (psql -At: `|`-separated), as the PostgreSQL superuser,
/// directly; fails the test when psql does.
pub fn admin_query(db: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args(["-h", "127.0.0.1", "-U", "postgres", "-d", db, "-qAtc", sql])
        .output()
        .expect("psql");
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Makes `db` refuse new connections and cuts the open ones (`accepting = false`), or
/// accept them again: a database that is away.
///
/// A connection whose start checked `datallowconn` just before the `ALTER` committed
/// can appear in `pg_stat_activity` only after a first sweep (seen in CI: a fleet
/// replica's reconnect survived and the database was not away at all), so the sweep
/// repeats until no session of `db` is seen twice in a row.
pub fn set_accepting_connections(db: &str, accepting: bool) {
    if accepting {
        admin_query(
            "postgres",
            &format!("ALTER DATABASE {db} ALLOW_CONNECTIONS true"),
        );
        return;
    }
    admin_query(
        "postgres",
        &format!("ALTER DATABASE {db} ALLOW_CONNECTIONS false"),
    );
    let sweep = format!(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '{db}'"
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut quiet = 0;
    while quiet < 2 {
        quiet = if admin_query("postgres", &sweep) == "0" {
            quiet + 1
        } else {
            0
        };
        assert!(
            std::time::Instant::now() < deadline,
            "sessions of {db} kept appearing"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// A fresh database `{prefix}_{pid}` set up with `setup_sql`, or `None` (a skip, said on
/// stderr) when no PostgreSQL answers outside CI. CI starts PostgreSQL, so there a
/// missing server is a failure, not a skip.
pub fn test_database(prefix: &str, setup_sql: &str) -> Option<Database> {
    if !psql_admin("postgres", "SELECT 1") {
        assert!(
            std::env::var_os("CI").is_none(),
            "PostgreSQL on 127.0.0.1:5432 is required in CI"
        );
        eprintln!("SKIP: no PostgreSQL on 127.0.0.1:5432");
        return None;
    }
    let db = Database(format!("{prefix}_{}", std::process::id()));
    assert!(psql_admin("postgres", &format!("CREATE DATABASE {}", db.0)));
    assert!(psql_admin(&db.0, setup_sql), "setup of {}", db.0);
    Some(db)
}

/// The id of the first pending approval request at `api` (`…/api/v1/approvals`), asked
/// as `cred` (`user:password`); fails after 30 s.
pub fn wait_pending_approval(api: &str, cred: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (code, body) = curl(&["-u", cred, &format!("{api}?state=pending")]);
        if code == "200" {
            let v: serde_json::Value = serde_json::from_str(&body).expect("json");
            if let Some(id) = v["approvals"][0]["id"].as_str() {
                return id.to_string();
            }
        }
        assert!(
            Instant::now() < deadline,
            "no pending approval appeared: {code} {body}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Approve request `id` at `api` as `cred` with `reason`; asserts a 200.
pub fn approve(api: &str, cred: &str, id: &str, reason: &str) {
    let body = serde_json::json!({ "reason": reason }).to_string();
    let (code, answer) = curl(&[
        "-u",
        cred,
        "-X",
        "POST",
        "-H",
        "content-type: application/json",
        "-d",
        &body,
        &format!("{api}/{id}/approve"),
    ]);
    assert_eq!(code, "200", "{answer}");
}
