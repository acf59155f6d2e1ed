//! Upstream → client: streams every backend message to the client as it arrives, with a
//! bounded buffer (large DataRows and COPY data are copied through in chunks, never held
//! whole), while attributing results to the statements that produced them.
//!
//! Two jobs besides copying: (1) an upstream syntax error caused by one of Warden's
//! refusal markers (see `session.rs`) is replaced by the refusal's own ErrorResponse, so
//! the client sees 42501/57014 while the upstream transaction state stays exactly what
//! PostgreSQL would have for a failed statement; (2) CommandComplete/ErrorResponse/
//! ReadyForQuery complete the Gate tickets with their outcomes (one per Execute, see
//! `executions.rs`). It also watches ParameterStatus for `standard_conforming_strings`
//! (the session refuses every statement while the server does not report it `on`) and
//! `search_path`, and counts ReadyForQuery messages for the session's settings barrier
//! (`settings.rs`).
//!
//! Must never buffer a whole result, and never let a marker error reach the client as is.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader, BufWriter};
use tokio::sync::Mutex;
use warden_audit::Outcome;

use super::codec::{self, Report};
use super::errors::PgError;
use super::executions::Outcomes;
use warden_gate::Ticket;

/// Bodies of messages we need to look at are read whole up to this size; bigger ones
/// (only DataRow/CopyData in practice) are streamed.
const INSPECT_LIMIT: usize = 64 * 1024;
/// Chunk size when streaming a large message body.
const CHUNK: usize = 64 * 1024;
/// At most this many messages are written per hold of the client writer, so that a long
/// result stream still lets the session's own messages (a hold's notice) through.
const BATCH: usize = 64;

/// Where results go: one entry per Query / Execute / Sync sent upstream, in order.
pub enum Sink {
    Query {
        ticket: Option<Box<Ticket>>,
        started: Instant,
        tag: Option<String>,
        rows: u64,
        error: Option<String>,
    },
    Exec {
        outcomes: Outcomes,
        started: Instant,
    },
    Sync,
}

/// Shared between the two directions of a session.
#[derive(Default)]
pub struct Tracker {
    pub sinks: VecDeque<Sink>,
    /// Refusals waiting for their marker's upstream error, by marker id.
    pub refusals: HashMap<u64, Report>,
    /// Per Query/Sync sent upstream, in order: the highest marker id registered before
    /// it. At its ReadyForQuery every marker up to there has failed (and been reported)
    /// or been discarded by the server after an earlier error: its refusal is dropped.
    pub marker_marks: VecDeque<u64>,
    /// The upstream's `standard_conforming_strings` as last reported (ParameterStatus);
    /// `None` until reported. SQL inspection reads strings as with `on`: anything else
    /// and statements are refused (fail closed).
    pub standard_strings: Option<String>,
    /// The upstream's `search_path` as last reported (PostgreSQL 18 and later report it).
    pub search_path: Option<String>,
    /// ReadyForQuery messages relayed so far; `ready_notify` wakes whoever waits for one
    /// (the session, before deciding behind a settings change: `settings.rs`).
    pub readies: u64,
    pub ready_notify: Arc<tokio::sync::Notify>,
}

/// The setting whose value changes where string literals end.
pub const STANDARD_STRINGS: &str = "standard_conforming_strings";

impl Tracker {
    /// Why statements must be refused now, if they must.
    pub fn strings_unsafe(&self) -> Option<String> {
        match self.standard_strings.as_deref() {
            Some(v) if v.eq_ignore_ascii_case("on") => None,
            Some(v) => Some(format!(
                "the server reports {STANDARD_STRINGS} = {v}; Warden refuses every statement while it is not on (string literals would not be read as inspected)"
            )),
            None => Some(format!(
                "the server did not report {STANDARD_STRINGS}; Warden refuses statements it cannot read safely"
            )),
        }
    }

    /// Takes note of one ParameterStatus body (name\0value\0).
    pub fn on_parameter(&mut self, body: &[u8]) {
        let mut parts = body.split(|b| *b == 0);
        let (Some(name), Some(value)) = (parts.next(), parts.next()) else {
            return;
        };
        if name.eq_ignore_ascii_case(STANDARD_STRINGS.as_bytes()) {
            self.standard_strings = Some(String::from_utf8_lossy(value).into_owned());
        } else if name.eq_ignore_ascii_case(b"search_path") {
            self.search_path = Some(String::from_utf8_lossy(value).into_owned());
        }
    }
}

pub type SharedTracker = Arc<StdMutex<Tracker>>;
pub type ClientOut = Arc<Mutex<BufWriter<Box<dyn AsyncWrite + Unpin + Send>>>>;

/// Text that identifies Warden's marker statements in upstream errors.
pub fn marker_text(nonce: &str, id: u64) -> String {
    format!("WARDEN_REFUSED_{nonce}_{id}")
}

fn marker_id(nonce: &str, message: &str) -> Option<u64> {
    let prefix = format!("WARDEN_REFUSED_{nonce}_");
    let start = message.find(&prefix)? + prefix.len();
    let digits: String = message[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

/// Rows affected/returned according to a CommandComplete tag (`INSERT 0 5`, `SELECT 3`).
pub fn tag_rows(tag: &str) -> Option<u64> {
    let mut words = tag.split_whitespace();
    let verb = words.next()?;
    match verb {
        "INSERT" | "SELECT" | "UPDATE" | "DELETE" | "MERGE" | "COPY" | "FETCH" | "MOVE" => {
            words.last()?.parse().ok()
        }
        _ => None,
    }
}

fn finish(ticket: Option<Box<Ticket>>, outcome: Outcome) {
    if let Some(ticket) = ticket {
        ticket.complete(outcome);
    }
}

fn finish_exec(sink: Option<Sink>, outcome: impl FnOnce(Instant) -> Outcome) {
    if let Some(Sink::Exec { outcomes, started }) = sink {
        outcomes.finish(outcome(started));
    }
}

fn ms(started: Instant) -> Option<u64> {
    Some(started.elapsed().as_millis() as u64)
}

fn cstring(body: &[u8]) -> String {
    let end = body.iter().position(|b| *b == 0).unwrap_or(body.len());
    String::from_utf8_lossy(&body[..end]).into_owned()
}

impl Tracker {
    fn on_complete(&mut self, tag: String) {
        match self.sinks.front_mut() {
            Some(Sink::Query { tag: t, rows, .. }) => {
                *rows += tag_rows(&tag).unwrap_or(0);
                *t = Some(tag);
            }
            Some(Sink::Exec { .. }) => {
                let rows = tag_rows(&tag);
                finish_exec(self.sinks.pop_front(), |started| Outcome {
                    status: Some(tag),
                    rows,
                    duration_ms: ms(started),
                    ..Outcome::default()
                });
            }
            _ => {}
        }
    }

    fn on_error(&mut self, error: String) {
        match self.sinks.front_mut() {
            Some(Sink::Query { error: e, .. }) => *e = Some(error),
            Some(Sink::Exec { .. }) => {
                finish_exec(self.sinks.pop_front(), |started| Outcome {
                    error: Some(error),
                    duration_ms: ms(started),
                    ..Outcome::default()
                });
            }
            _ => {}
        }
    }

    /// PortalSuspended: the Execute ended at its row limit.
    fn on_suspended(&mut self) {
        if let Some(Sink::Exec { .. }) = self.sinks.front() {
            finish_exec(self.sinks.pop_front(), |started| Outcome {
                status: Some("suspended (row limit reached)".into()),
                duration_ms: ms(started),
                ..Outcome::default()
            });
        }
    }

    fn on_ready(&mut self) {
        self.readies += 1;
        self.ready_notify.notify_waiters();
        if let Some(mark) = self.marker_marks.pop_front() {
            self.refusals.retain(|id, _| *id > mark);
        }
        while let Some(sink) = self.sinks.pop_front() {
            match sink {
                Sink::Query {
                    ticket,
                    started,
                    tag,
                    rows,
                    error,
                } => {
                    let rows = tag.as_ref().map(|_| rows);
                    finish(
                        ticket,
                        Outcome {
                            status: tag,
                            rows,
                            error,
                            duration_ms: ms(started),
                            ..Outcome::default()
                        },
                    );
                    return;
                }
                Sink::Exec { outcomes, started } => outcomes.finish(Outcome {
                    error: Some("not executed (earlier error in the pipeline)".into()),
                    duration_ms: ms(started),
                    ..Outcome::default()
                }),
                Sink::Sync => return,
            }
        }
    }
}

/// Copies upstream messages to the client until the upstream closes.
///
/// The client writer is locked once for the messages the upstream sent together (as
/// long as the next header is already buffered, up to [`BATCH`] at a time) and flushed
/// when all that was received is written, so a pipeline's answers go to the client in
/// one write; it is never held while waiting for the start of the next upstream message.
pub async fn relay<R: AsyncRead + Unpin>(
    upstream: R,
    client: ClientOut,
    tracker: SharedTracker,
    nonce: String,
) -> Result<(), PgError> {
    let mut up = BufReader::with_capacity(CHUNK, upstream);
    let mut header = [0u8; 5];
    let mut chunk = vec![0u8; CHUNK];
    // Bodies of inspected messages, read into one buffer kept for the session.
    let mut body = Vec::with_capacity(256);
    loop {
        match up.read_exact(&mut header).await {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        let mut out = client.lock().await;
        for written in 1.. {
            relay_one(
                &mut up, &mut *out, &header, &mut body, &mut chunk, &tracker, &nonce,
            )
            .await?;
            if up.buffer().len() < header.len() {
                // All the upstream sent is written: to the client with it.
                out.flush().await?;
                break;
            }
            if written == BATCH {
                break;
            }
            up.read_exact(&mut header).await?;
        }
    }
}

/// Relays one upstream message whose header was read: inspected ones whole (and maybe
/// replaced), others streamed in chunks.
async fn relay_one<R: AsyncRead + Unpin, W: AsyncWrite + Unpin>(
    up: &mut BufReader<R>,
    out: &mut W,
    header: &[u8; 5],
    body: &mut Vec<u8>,
    chunk: &mut [u8],
    tracker: &SharedTracker,
    nonce: &str,
) -> Result<(), PgError> {
    let tag = header[0];
    let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
    if len < 4 {
        return Err(PgError::Upstream(format!("invalid message length {len}")));
    }
    let body_len = len - 4;
    let inspect = matches!(tag, b'C' | b'E' | b'Z' | b'S' | b's') && body_len <= INSPECT_LIMIT;
    if inspect {
        body.clear();
        body.resize(body_len, 0);
        up.read_exact(body).await?;
        match handle(tracker, nonce, tag, body) {
            Some(bytes) => out.write_all(&bytes).await?,
            None => {
                out.write_all(header).await?;
                out.write_all(body).await?;
            }
        }
        return Ok(());
    }
    out.write_all(header).await?;
    let mut left = body_len;
    while left > 0 {
        let n = left.min(chunk.len());
        up.read_exact(&mut chunk[..n]).await?;
        out.write_all(&chunk[..n]).await?;
        left -= n;
    }
    Ok(())
}

/// Updates the tracker for an inspected message; returns a replacement to send instead.
fn handle(tracker: &SharedTracker, nonce: &str, tag: u8, body: &[u8]) -> Option<Bytes> {
    let Ok(mut t) = tracker.lock() else {
        return None;
    };
    match tag {
        b'C' => t.on_complete(cstring(body)),
        b'Z' => t.on_ready(),
        b'S' => t.on_parameter(body),
        b's' => t.on_suspended(),
        b'E' => {
            let (code, message) = codec::parse_report(&Bytes::copy_from_slice(body));
            let message = message.unwrap_or_default();
            if code.as_deref() == Some("42601") {
                if let Some(report) =
                    marker_id(nonce, &message).and_then(|id| t.refusals.remove(&id))
                {
                    t.on_error(format!("{}: {}", report.code, report.message));
                    let mut out = BytesMut::new();
                    report.encode_error(&mut out);
                    return Some(out.freeze());
                }
            }
            t.on_error(format!("{}: {message}", code.unwrap_or_default()));
        }
        _ => {}
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_give_rows() {
        assert_eq!(tag_rows("INSERT 0 5"), Some(5));
        assert_eq!(tag_rows("SELECT 1000000"), Some(1_000_000));
        assert_eq!(tag_rows("UPDATE 0"), Some(0));
        assert_eq!(tag_rows("CREATE TABLE"), None);
        assert_eq!(tag_rows("BEGIN"), None);
    }

    #[test]
    fn refusals_of_discarded_markers_are_dropped_at_ready() {
        let mut t = Tracker::default();
        for id in 1..=3 {
            t.refusals.insert(id, Report::error("42501", "refused"));
        }
        // A Sync after markers 1 and 2, then marker 3 in the next pipeline.
        t.marker_marks.push_back(2);
        t.on_ready();
        assert_eq!(t.refusals.keys().copied().collect::<Vec<_>>(), vec![3]);
        assert_eq!(t.readies, 1);
    }

    #[test]
    fn marker_ids_are_found_only_with_our_nonce() {
        let m = format!("syntax error at or near \"{}\"", marker_text("abc", 17));
        assert_eq!(marker_id("abc", &m), Some(17));
        assert_eq!(marker_id("abd", &m), None);
        assert_eq!(marker_id("abc", "syntax error at or near \"WARDEN\""), None);
    }
}
