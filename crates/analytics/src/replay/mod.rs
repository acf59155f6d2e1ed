//! Replay: JSON lines in the `warden audit export` format (chain fields optional; a
//! bare event with a `time` works too) through the same engine as live, printing one
//! JSON alert a line.
//!
//! Records are judged in file order (an export's chain order: times never go back),
//! or, with [`ReplayOptions::reordering`], in time order through a bounded reorder
//! buffer (see [`reorder`]); the record's own time is the clock. Deterministic: the same input and
//! settings print byte-identical output. A line that cannot be read stops the replay
//! with an error naming its line number. Never reads the wall clock or anything but
//! `input`.

mod fast;
#[cfg(test)]
mod fast_tests;
pub mod lenient;
pub mod line;
pub mod reorder;
mod scan;
pub mod shape;
pub mod time;

use std::io::{BufRead, Write};

use crate::engine::Engine;
use crate::observation::Observation;
use crate::settings::{Settings, SettingsError};
use reorder::Reorder;

/// How the replay reads its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayOptions {
    /// 0 (the default): records are judged in file order — an export is in chain order,
    /// whose times do not go back — and a record older than one already judged counts
    /// at the clock's time (and in [`ReplayStats::late`]). Above 0: records are held
    /// until the input has moved this far (ns) past them and judged in time order.
    pub reorder_lag: i64,
    /// Most records held at once when reordering.
    pub reorder_capacity: usize,
}

impl ReplayOptions {
    /// Reorder records that are out of time order by up to `lag` nanoseconds.
    pub fn reordering(lag: i64) -> ReplayOptions {
        ReplayOptions {
            reorder_lag: lag,
            ..ReplayOptions::default()
        }
    }
}

impl Default for ReplayOptions {
    fn default() -> Self {
        ReplayOptions {
            reorder_lag: 0,
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
    let mut carry = Vec::new();
    let mut failed: Option<std::io::Error> = None;
    let mut newest = i64::MIN;
    let direct = options.reorder_lag <= 0;
    let mut judge = |o: &Observation<'_>, stats: &mut ReplayStats| {
        stats.records += 1;
        for alert in engine.observe_view(o) {
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
    // Lines are parsed where they lie in the reader's buffer; only a line cut by the
    // buffer's end is copied (into `carry`).
    let mut handle = |text: &[u8], stats: &mut ReplayStats| -> Result<(), ReplayError> {
        stats.lines += 1;
        let text = text.trim_ascii();
        if text.is_empty() {
            return Ok(());
        }
        let obs = line::parse(text, stats.lines).map_err(|message| ReplayError::Line {
            line: stats.lines,
            message,
        })?;
        if direct {
            if obs.time < newest {
                stats.late += 1;
            }
            newest = newest.max(obs.time);
            judge(&obs, stats);
        } else {
            buffer.push(obs, |o| judge(&o, stats));
        }
        Ok(())
    };
    loop {
        let chunk = input.fill_buf().map_err(ReplayError::Read)?;
        if chunk.is_empty() {
            if !carry.is_empty() {
                handle(&carry, &mut stats)?;
            }
            break;
        }
        let mut start = 0;
        while let Some(nl) = memchr::memchr(b'\n', &chunk[start..]) {
            if carry.is_empty() {
                handle(&chunk[start..start + nl], &mut stats)?;
            } else {
                carry.extend_from_slice(&chunk[start..start + nl]);
                handle(&carry, &mut stats)?;
                carry.clear();
            }
            start += nl + 1;
        }
        carry.extend_from_slice(&chunk[start..]);
        let used = chunk.len();
        input.consume(used);
    }
    buffer.finish(|o| judge(&o, &mut stats));
    stats.late += buffer.late;
    if let Some(e) = failed {
        return Err(ReplayError::Write(e));
    }
    Ok(stats)
}
