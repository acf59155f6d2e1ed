//! Replay: JSON lines in the `warden audit export` format (chain fields optional; a
//! bare event with a `time` works too) through the same engine as live, printing one
//! JSON alert a line.
//!
//! Records are judged in time order through a bounded reorder buffer (see
//! [`reorder`]); the record's own time is the clock. Deterministic: the same input and
//! settings print byte-identical output. A line that cannot be read stops the replay
//! with an error naming its line number. Never reads the wall clock or anything but
//! `input`.

pub mod lenient;
pub mod line;
pub mod reorder;
pub mod time;

use std::io::{BufRead, Write};

use crate::engine::Engine;
use crate::observation::Observation;
use crate::settings::span::HOUR;
use crate::settings::{Settings, SettingsError};
use reorder::Reorder;

/// How the replay reads its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayOptions {
    /// Records are held until the input has moved this far past them (ns).
    pub reorder_lag: i64,
    /// Most records held at once.
    pub reorder_capacity: usize,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        ReplayOptions {
            reorder_lag: HOUR,
            reorder_capacity: 1_000_000,
        }
    }
}

/// What a replay did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplayStats {
    /// Lines read (blank ones included).
    pub lines: u64,
    /// Records judged.
    pub records: u64,
    pub alerts: u64,
    /// Records older than one already judged (counted at the clock's time).
    pub late: u64,
}

/// Why a replay stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("line {line}: {message}")]
    Line { line: u64, message: String },
    #[error("cannot read the events: {0}")]
    Read(std::io::Error),
    #[error("cannot write the alerts: {0}")]
    Write(std::io::Error),
    #[error("invalid analytics settings:\n{0}")]
    Settings(#[from] SettingsError),
}

/// Replay `input` with `settings`, writing alerts to `out`.
pub fn run(
    input: impl BufRead,
    settings: &Settings,
    out: impl Write,
) -> Result<ReplayStats, ReplayError> {
    let mut engine = Engine::new(settings)?;
    run_with(input, &mut engine, ReplayOptions::default(), out)
}

/// Replay into an existing engine (its state carries on).
pub fn run_with(
    mut input: impl BufRead,
    engine: &mut Engine,
    options: ReplayOptions,
    mut out: impl Write,
) -> Result<ReplayStats, ReplayError> {
    let mut stats = ReplayStats::default();
    let mut buffer = Reorder::new(options.reorder_lag, options.reorder_capacity);
    let mut buf = Vec::with_capacity(4096);
    let mut failed: Option<std::io::Error> = None;
    let mut judge = |o: Observation<'static>, stats: &mut ReplayStats| {
        stats.records += 1;
        for alert in engine.observe_view(&o) {
            stats.alerts += 1;
            if failed.is_some() {
                continue;
            }
            let written = serde_json::to_writer(&mut out, &alert)
                .map_err(std::io::Error::from)
                .and_then(|()| out.write_all(b"\n"));
            if let Err(e) = written {
                failed = Some(e);
            }
        }
    };
    loop {
        buf.clear();
        let n = input
            .read_until(b'\n', &mut buf)
            .map_err(ReplayError::Read)?;
        if n == 0 {
            break;
        }
        stats.lines += 1;
        let text = buf.trim_ascii();
        if text.is_empty() {
            continue;
        }
        let obs = line::parse(text, stats.lines).map_err(|message| ReplayError::Line {
            line: stats.lines,
            message,
        })?;
        buffer.push(obs, |o| judge(o, &mut stats));
    }
    buffer.finish(|o| judge(o, &mut stats));
    stats.late = buffer.late;
    if let Some(e) = failed {
        return Err(ReplayError::Write(e));
    }
    Ok(stats)
}
