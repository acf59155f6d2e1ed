//! Shared by the live tests that drive a real gateway with psql against the machine's
//! PostgreSQL (127.0.0.1:5432, trust user postgres): run psql through the gateway as a
//! Warden user, run SQL straight as postgres, make a scratch database.

#![allow(dead_code)]

use std::process::Command;

/// `sql` through the gateway on `port` as Warden user `user`; (exit code, stderr).
pub fn psql_as(
    port: u16,
    user: &str,
    db: &str,
    password: &str,
    sql: &str,
) -> (Option<i32>, String) {
    let quoted = user.replace('\\', "\\\\").replace('\'', "\\'");
    let conninfo = format!(
        "host=127.0.0.1 port={port} user='{quoted}' dbname={db} sslmode=disable connect_timeout=10"
    );
    let out = Command::new("psql")
        .args(["-X", "-w", "-v", "ON_ERROR_STOP=1", &conninfo, "-c", sql])
        .env("PGPASSWORD", password)
        .output()
        .expect("run psql");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `sql` straight to the machine's PostgreSQL as postgres; stdout.
pub fn admin(db: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args([
            "-X",
            "-At",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            db,
            "-c",
            sql,
        ])
        .output()
        .expect("run psql");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A fresh database named `<prefix>_<pid>` holding `notes (id int)`; dropped by the caller.
pub fn scratch_db(prefix: &str) -> String {
    let db = format!("{prefix}_{}", std::process::id());
    admin("postgres", &format!("DROP DATABASE IF EXISTS {db}"));
    admin("postgres", &format!("CREATE DATABASE {db}"));
    admin(&db, "CREATE TABLE notes (id int)");
    db
}
