//! Replay an events file (or `-` for stdin) through the analytics engine and print one
//! JSON alert a line — what `warden analytics replay` does, for running and
//! benchmarking the engine on its own.
//!
//! ```text
//! cargo run --release -p warden-analytics --example replay -- EVENTS [SETTINGS.yaml]
//! ```
//!
//! The settings file holds the `analytics:` section's contents (or a whole
//! `warden.yaml`, whose `analytics:` key is used). Exit status: 0 done, 2 bad input or
//! settings, 1 I/O failure. Prints a summary to stderr.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Write};
use std::process::ExitCode;
use std::time::Instant;

use warden_analytics::replay::{self, ReplayError};
use warden_analytics::Settings;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn settings(path: Option<&String>) -> Result<Settings, String> {
    let Some(path) = path else {
        return Ok(Settings::default());
    };
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let value: serde_yaml::Value =
        serde_yaml::from_str(&text).map_err(|e| format!("{path}: {e}"))?;
    let section = value.get("analytics").cloned().unwrap_or(value);
    if section.is_null() {
        return Ok(Settings::default());
    }
    serde_yaml::from_value(section).map_err(|e| format!("{path}: analytics: {e}"))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(events) = args.first() else {
        eprintln!("usage: replay EVENTS|- [SETTINGS.yaml]");
        return ExitCode::from(2);
    };
    let settings = match settings(args.get(1)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let stdout = io::stdout();
    let out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let started = Instant::now();
    let result = if events == "-" {
        replay::run(io::stdin().lock(), &settings, out)
    } else {
        match File::open(events) {
            Ok(f) => replay::run(BufReader::with_capacity(1 << 20, f), &settings, out),
            Err(e) => {
                eprintln!("error: {events}: {e}");
                return ExitCode::from(2);
            }
        }
    };
    let _ = io::stdout().flush();
    match result {
        Ok(stats) => {
            let secs = started.elapsed().as_secs_f64();
            eprintln!(
                "replayed {} records ({} lines) in {secs:.2}s = {:.0} records/s; {} alerts; {} late",
                stats.records,
                stats.lines,
                stats.records as f64 / secs.max(1e-9),
                stats.alerts,
                stats.late
            );
            ExitCode::SUCCESS
        }
        Err(e @ (ReplayError::Line { .. } | ReplayError::Settings(_))) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
