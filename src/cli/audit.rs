//! `warden audit verify|export|tail`: offline tools over an audit store directory
//! (`verify --fleet`: over the fleet database, in `audit_fleet`).
//!
//! sled locks its directory, so these commands work on a store no running process
//! holds (stop `warden serve`, or use the console / `GET /api/v1/audit` on a live
//! gateway). They never write records; they must never report a damaged chain as
//! intact. Exit codes: 0 ok, 1 could not run, 3 verification failed.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::exit::Failure;
use std::time::Duration;

use clap::{Args, Subcommand};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use warden_audit::{AuditError, AuditReader, Query};

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walk the hash chain and the signed checkpoints; exit 3 at the first bad record.
    Verify(VerifyArgs),
    /// Print records as JSON lines (oldest first), one record with its hashes a line.
    Export(ExportArgs),
    /// Print the newest records; `--follow` keeps printing new ones.
    Tail(TailArgs),
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The audit store directory (`audit.path` in warden.yaml).
    #[arg(long, required_unless_present = "fleet")]
    path: Option<PathBuf>,
    /// Verify the whole fleet instead: every replica's chain shipped to the fleet
    /// database of `--config` (its `fleet:` section) and the shared anchor chain.
    #[arg(long, requires = "config", conflicts_with_all = ["path", "checkpoints", "key"])]
    fleet: bool,
    /// warden.yaml (with `--fleet`).
    #[arg(long)]
    config: Option<PathBuf>,
    /// The external checkpoint file (`audit.checkpoint_file`): detects a cut-off tail.
    #[arg(long)]
    checkpoints: Option<PathBuf>,
    /// Trusted public key: a `.pub` file (64 hex chars) or the signing key file.
    /// Default: `<path>.key.pub`, else `<path>.key`, else the key recorded in the store.
    #[arg(long)]
    key: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct Filters {
    /// The audit store directory (required unless `export --fleet`).
    #[arg(long)]
    path: Option<PathBuf>,
    /// Only records at or after this time (RFC 3339).
    #[arg(long, value_parser = parse_time)]
    since: Option<OffsetDateTime>,
    /// Only records before this time (RFC 3339).
    #[arg(long, value_parser = parse_time)]
    until: Option<OffsetDateTime>,
    /// Only records of this user.
    #[arg(long)]
    user: Option<String>,
    /// Only records about this target.
    #[arg(long)]
    target: Option<String>,
    /// Only records with this decision (allow, deny, hold).
    #[arg(long)]
    verdict: Option<String>,
    /// Only records whose event contains this text (case-insensitive).
    #[arg(long)]
    q: Option<String>,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    filters: Filters,
    /// Export the whole fleet instead: every replica's records shipped to the fleet
    /// database of `--config`, merged in time order, each line with its `replica`.
    /// Filters: `--since` and `--until` only.
    #[arg(long, requires = "config", conflicts_with_all = ["path", "user", "target", "verdict", "q"])]
    fleet: bool,
    /// warden.yaml (with `--fleet`).
    #[arg(long)]
    config: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct TailArgs {
    #[command(flatten)]
    filters: Filters,
    /// How many of the newest records to print first.
    #[arg(short = 'n', long = "lines", default_value_t = 10)]
    lines: u64,
    /// Keep printing new records. The store is re-opened every second while no other
    /// process holds it; while a running gateway holds it, waits (use the console's
    /// live view for a running gateway).
    #[arg(long)]
    follow: bool,
}

fn parse_time(s: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(s, &Rfc3339).map_err(|e| format!("not an RFC 3339 time: {e}"))
}

pub fn run(cmd: AuditCommand) -> ExitCode {
    match cmd {
        AuditCommand::Verify(a) => verify(a),
        AuditCommand::Export(a) => export(a),
        AuditCommand::Tail(a) => tail(a),
    }
}

fn fail(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("warden audit: {e}");
    Failure::Runtime.into()
}

fn verify(a: VerifyArgs) -> ExitCode {
    if a.fleet {
        return super::audit_fleet::verify(a.config.as_deref().unwrap_or(Path::new("")), a.json);
    }
    let Some(path) = a.path.as_deref() else {
        return fail("--path or --fleet is required");
    };
    let key = match a
        .key
        .as_deref()
        .map(warden_audit::checkpoint::read_public_key)
    {
        None => None,
        Some(Ok(k)) => Some(k),
        Some(Err(e)) => return fail(e),
    };
    let report = match warden_audit::verify_dir_with_key(path, a.checkpoints.as_deref(), key) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    if a.json {
        match serde_json::to_string(&report) {
            Ok(s) => println!("{s}"),
            Err(e) => return fail(e),
        }
    } else if report.ok {
        println!(
            "ok: {} records, head {}, {} checkpoints checked",
            report.records, report.head, report.checkpoints
        );
    } else {
        println!(
            "FAILED at record {}: {}",
            report.first_bad.unwrap_or(0),
            report.problem.as_deref().unwrap_or("unknown problem")
        );
        println!(
            "the chain is intact up to record {} (head {})",
            report.first_bad.unwrap_or(1).saturating_sub(1),
            report.head
        );
    }
    if let Some(w) = &report.warning {
        eprintln!("warning: {w}");
    }
    if a.checkpoints.is_none() && report.ok && !a.json {
        eprintln!(
            "note: without --checkpoints a tail cut back to a stored checkpoint cannot be detected"
        );
    }
    if report.ok {
        ExitCode::SUCCESS
    } else {
        Failure::Tampered.into()
    }
}

fn query_of(f: &Filters) -> Query {
    Query {
        since: f.since,
        until: f.until,
        user: f.user.clone(),
        target: f.target.clone(),
        verdict: f.verdict.clone(),
        text: f.q.clone(),
        ..Query::default()
    }
}

/// `--path`, which every command but the fleet ones needs.
fn store_path(f: &Filters) -> Result<&Path, ExitCode> {
    f.path.as_deref().ok_or_else(|| {
        eprintln!("warden audit: --path is required (the audit store directory)");
        Failure::Invalid.into()
    })
}

fn export(a: ExportArgs) -> ExitCode {
    if a.fleet {
        let ns = |t: Option<OffsetDateTime>| t.map(warden_audit::record::time_to_ns);
        return super::audit_fleet::export(
            a.config.as_deref().unwrap_or(Path::new("")),
            ns(a.filters.since),
            ns(a.filters.until),
        );
    }
    let path = match store_path(&a.filters) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let store = match AuditReader::open(path) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let result = store.export_from(&query_of(&a.filters), 1, &mut out);
    if let Err(e) = result.and_then(|_| {
        out.flush().map_err(|e| AuditError::Io {
            path: "<stdout>".into(),
            source: e,
        })
    }) {
        return fail(e);
    }
    ExitCode::SUCCESS
}

fn tail(a: TailArgs) -> ExitCode {
    let q = query_of(&a.filters);
    let path = match store_path(&a.filters) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let store = match AuditReader::open(path) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let mut next = match print_newest(&store, &q, a.lines) {
        Ok(n) => n,
        Err(e) => return fail(e),
    };
    // Release sled's lock between polls so a gateway can start.
    drop(store);
    if !a.follow {
        return ExitCode::SUCCESS;
    }
    follow(path, &q, &mut next)
}

/// Print the newest `n` matching records, oldest of them first; returns the next
/// sequence number to print from.
fn print_newest(store: &AuditReader, q: &Query, n: u64) -> Result<u64, AuditError> {
    let head = store.head_seq()?;
    let from = if n == 0 {
        head + 1
    } else {
        let page = store.query(&Query {
            limit: usize::try_from(n).unwrap_or(usize::MAX),
            ..q.clone()
        })?;
        page.records.last().map_or(head + 1, |r| r.seq)
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    store.export_from(q, from, &mut out)?;
    out.flush().map_err(|e| AuditError::Io {
        path: "<stdout>".into(),
        source: e,
    })?;
    Ok(head + 1)
}

fn follow(path: &Path, q: &Query, next: &mut u64) -> ExitCode {
    let mut said_locked = false;
    loop {
        std::thread::sleep(Duration::from_secs(1));
        match AuditReader::open(path) {
            Ok(store) => {
                said_locked = false;
                let head = match store.head_seq() {
                    Ok(h) => h,
                    Err(e) => return fail(e),
                };
                if head >= *next {
                    let mut out = std::io::stdout().lock();
                    if let Err(e) = store.export_from(q, *next, &mut out) {
                        return fail(e);
                    }
                    let _ = out.flush();
                    *next = head + 1;
                }
            }
            Err(AuditError::Locked(_)) => {
                if !said_locked {
                    eprintln!(
                        "warden audit tail: the store is held by a running process; \
                         waiting until it is released (use the console for live records)"
                    );
                    said_locked = true;
                }
            }
            Err(e) => return fail(e),
        }
    }
}
