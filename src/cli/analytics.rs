//! `warden analytics replay`: run the behaviour-analytics detectors over an events file
//! in the `warden audit export` format (or `-` for stdin), in time order with the
//! events' own timestamps as the clock, and print one JSON alert a line. The same
//! detector code the gateway runs; replaying a file twice prints the same alerts.
//!
//! Exit codes: 0 done; 2 a bad line (named) or bad settings; 1 an I/O failure.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use warden_analytics::replay::{self, ReplayError};
use warden_analytics::Settings;

use super::exit::Failure;

#[derive(Debug, Subcommand)]
pub enum AnalyticsCommand {
    /// Replay exported audit events through the detectors; print alerts as JSON lines.
    Replay(ReplayArgs),
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// JSON lines in the `warden audit export` format; `-` reads stdin.
    #[arg(long)]
    pub events: String,
    /// A warden.yaml whose `analytics:` section tunes the detectors (defaults otherwise).
    #[arg(long)]
    pub config: Option<PathBuf>,
}

pub fn run(cmd: AnalyticsCommand) -> ExitCode {
    match cmd {
        AnalyticsCommand::Replay(args) => replay_cmd(&args),
    }
}

/// The `analytics:` section of `path` (the whole file when it has no such key).
fn settings(path: Option<&Path>) -> Result<Settings, String> {
    let Some(path) = path else {
        return Ok(Settings::default());
    };
    let shown = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{shown}: {e}"))?;
    let value: serde_yaml::Value =
        serde_yaml::from_str(&text).map_err(|e| format!("{shown}: {e}"))?;
    let section = match value.get("analytics") {
        Some(s) => s.clone(),
        None => return Ok(Settings::default()),
    };
    if section.is_null() {
        return Ok(Settings::default());
    }
    serde_yaml::from_value(section).map_err(|e| format!("{shown}: analytics: {e}"))
}

fn replay_cmd(args: &ReplayArgs) -> ExitCode {
    let settings = match settings(args.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return Failure::Invalid.into();
        }
    };
    let stdout = io::stdout();
    let out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let result = if args.events == "-" {
        replay::run(io::stdin().lock(), &settings, out)
    } else {
        match File::open(&args.events) {
            Ok(f) => replay::run(BufReader::with_capacity(1 << 20, f), &settings, out),
            Err(e) => {
                eprintln!("error: {}: {e}", args.events);
                return Failure::Invalid.into();
            }
        }
    };
    let _ = io::stdout().flush();
    match result {
        Ok(stats) => {
            eprintln!(
                "replayed {} records ({} lines): {} alerts",
                stats.records, stats.lines, stats.alerts
            );
            ExitCode::SUCCESS
        }
        Err(e @ (ReplayError::Line { .. } | ReplayError::Settings(_))) => {
            eprintln!("error: {}: {e}", args.events);
            Failure::Invalid.into()
        }
        Err(e) => {
            eprintln!("error: {e}");
            Failure::Runtime.into()
        }
    }
}
