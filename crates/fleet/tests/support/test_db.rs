//! A fresh PostgreSQL database per test, for the fleet tests of this crate and of
//! warden-approval (included there by path): `psql` against 127.0.0.1:5432 as
//! `postgres`, and a database dropped on the way out. Without PostgreSQL a test skips,
//! except in CI, where it fails.

use std::process::Command;

/// Runs `sql` in `db`; its trimmed output, or `None` when psql failed.
pub fn psql(db: &str, sql: &str) -> Option<String> {
    let out = Command::new("psql")
        .args(["-h", "127.0.0.1", "-U", "postgres", "-d", db, "-qAtc", sql])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// A fresh database, dropped on the way out; `None` (a skip) without PostgreSQL.
pub struct Db(pub String);

impl Db {
    /// `warden_<prefix>_<tag>_<pid>`.
    pub fn create(prefix: &str, tag: &str) -> Option<Db> {
        if psql("postgres", "SELECT 1").is_none() {
            assert!(
                std::env::var_os("CI").is_none(),
                "PostgreSQL is required in CI"
            );
            eprintln!("SKIP: no PostgreSQL on 127.0.0.1:5432");
            return None;
        }
        let db = Db(format!("warden_{prefix}_{tag}_{}", std::process::id()));
        psql("postgres", &format!("CREATE DATABASE {}", db.0)).expect("create database");
        Some(db)
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        let _ = psql(
            "postgres",
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.0),
        );
    }
}
