//! `warden report access`: the role-based access report over an audit store that no
//! running process holds (for a running gateway use the console's `/reports/access` or
//! `GET /api/v1/reports/access`). Users, roles and rules come from the config as it is
//! now. Read-only: it never writes a record. Exit codes: 0 ok, 1 the store could not be
//! read, 2 bad usage, config or policy.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Subcommand, ValueEnum};
use time::OffsetDateTime;
use warden_analytics::access;
use warden_audit::AuditReader;

use super::exit::Failure;

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Attempts by role, roles held vs used (privilege creep), sensitive actions by
    /// human accounts.
    Access(AccessArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    Text,
    Json,
    Csv,
}

#[derive(Debug, Args)]
pub struct AccessArgs {
    /// Path to warden.yaml: its users, roles and policies are read as they are now.
    #[arg(long)]
    config: PathBuf,
    /// The audit store directory (default: `audit.path` of the config).
    #[arg(long)]
    path: Option<PathBuf>,
    /// Start of the window: a duration back from now (30d, 12h, 15m) or an RFC 3339 time.
    #[arg(long, default_value = warden_web::access::DEFAULT_SINCE)]
    since: String,
    /// End of the window (exclusive), same forms; default now.
    #[arg(long)]
    until: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

pub fn run(cmd: ReportCommand) -> ExitCode {
    match cmd {
        ReportCommand::Access(a) => access_report(a),
    }
}

fn invalid(msg: String) -> ExitCode {
    eprintln!("warden report access: {msg}");
    Failure::Invalid.into()
}

fn access_report(a: AccessArgs) -> ExitCode {
    let (config, set) = match super::check::load(&a.config) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let now = OffsetDateTime::now_utc();
    let since = match warden_web::access::parse_time(&a.since, now) {
        Ok(t) => t,
        Err(e) => return invalid(format!("--since {e}")),
    };
    let until = match a
        .until
        .as_deref()
        .map(|u| warden_web::access::parse_time(u, now))
    {
        None => None,
        Some(Ok(t)) => Some(t),
        Some(Err(e)) => return invalid(format!("--until {e}")),
    };
    if until.is_some_and(|u| u <= since) {
        return invalid("--until must be after --since".into());
    }
    let users: Vec<Arc<_>> = config.users.iter().cloned().map(Arc::new).collect();
    let inputs = warden_web::access::inputs(&users, set.rules());
    let store = a.path.unwrap_or_else(|| config.audit.path.clone());
    let reader = match AuditReader::open(&store) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("warden report access: {}: {e}", store.display());
            return Failure::Runtime.into();
        }
    };
    let report = warden_web::access::report(&inputs, Some(since), until, |f| {
        reader.walk_window(Some(since), until, |r| f(r))
    });
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            eprintln!("warden report access: reading {}: {e}", store.display());
            return Failure::Runtime.into();
        }
    };
    let out = match a.format {
        Format::Text => access::to_text(&report),
        Format::Csv => access::to_csv(&report),
        Format::Json => match serde_json::to_string_pretty(&report) {
            Ok(s) => s + "\n",
            Err(e) => {
                eprintln!("warden report access: {e}");
                return Failure::Runtime.into();
            }
        },
    };
    print!("{out}");
    ExitCode::SUCCESS
}
