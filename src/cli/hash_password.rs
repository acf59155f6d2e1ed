//! `warden hash-password`: read a password on stdin (no echo on a terminal) and print
//! the argon2id PHC string (for `password_hash`) and, on a second line, the
//! SCRAM-SHA-256 verifier (for `scram_sha256`, used by PostgreSQL SASL logins) and, on a
//! third line, the `mysql_native_password` verifier (for `mysql_native_password`, used by
//! MySQL/MariaDB logins).
//!
//! Must never print or log the password itself.

use std::io::{BufRead, IsTerminal, Write};
use std::process::{Command, ExitCode, Stdio};

use clap::Args;
use warden_config::MysqlNativeVerifier;
use warden_gate::auth::{password, ScramVerifier};

use super::exit::Failure;

#[derive(Debug, Args)]
pub struct HashPasswordArgs {}

/// Turns terminal echo off while alive (via `stty`, which every Unix has).
struct NoEcho {
    active: bool,
}

impl NoEcho {
    fn new() -> NoEcho {
        if !std::io::stdin().is_terminal() {
            return NoEcho { active: false };
        }
        let ok = Command::new("stty")
            .arg("-echo")
            .stdin(Stdio::inherit())
            .status()
            .is_ok_and(|s| s.success());
        NoEcho { active: ok }
    }
}

impl Drop for NoEcho {
    fn drop(&mut self) {
        if self.active {
            let _ = Command::new("stty")
                .arg("echo")
                .stdin(Stdio::inherit())
                .status();
            eprintln!();
        }
    }
}

pub fn run(_args: HashPasswordArgs) -> ExitCode {
    let tty = std::io::stdin().is_terminal();
    if tty {
        eprint!("Password: ");
        let _ = std::io::stderr().flush();
    }
    let mut line = String::new();
    let read = {
        let _guard = NoEcho::new();
        std::io::stdin().lock().read_line(&mut line)
    };
    if let Err(e) = read {
        eprintln!("error: cannot read the password from stdin: {e}");
        return Failure::Runtime.into();
    }
    let pw = line.trim_end_matches(['\n', '\r']);
    if pw.is_empty() {
        eprintln!(
            "error: empty password (give it on stdin: `printf %s 'secret' | warden hash-password`)"
        );
        return Failure::Invalid.into();
    }
    let phc = match password::hash_password(pw) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("error: hashing failed: {e}");
            return Failure::Runtime.into();
        }
    };
    let scram = ScramVerifier::generate(pw);
    let lines = [
        phc,
        scram.to_text(),
        MysqlNativeVerifier::generate(pw).to_text(),
    ];
    let mut out = std::io::stdout().lock();
    for line in &lines {
        match writeln!(out, "{line}") {
            Ok(()) => {}
            // `warden hash-password | head -1`: the reader has what it wanted.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: cannot write to stdout: {e}");
                return Failure::Runtime.into();
            }
        }
    }
    ExitCode::SUCCESS
}
