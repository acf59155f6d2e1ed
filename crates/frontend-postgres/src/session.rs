//! Client → upstream: the simple and extended query protocol, with every statement
//! decided by the Gate before the upstream sees it.
//!
//! * Simple Query: the whole (possibly multi-statement) string is one Action.
//! * Extended protocol: decided at Parse; only Parses that were allowed or approved reach
//!   the upstream, so only they can be bound and executed there (Bind/Execute of any
//!   other name fails upstream exactly as in PostgreSQL: the statement does not exist).
//!   Results are attributed at Execute: the first Execute completes the statement's
//!   ticket, every later one gets its own outcome record (`executions.rs`). A statement
//!   that needed an approval runs once: a later Execute of it is refused (42501).
//! * `standard_conforming_strings`: while the upstream does not report it `on`, every
//!   Query and Parse is refused (42501) before the Gate sees it, and the refusal is
//!   audited: inspection reads literals as with `on`, so anything else could smuggle
//!   statements past it (`SELECT 'a\'' ; DROP TABLE t; --'`).
//! * Refusal: instead of the refused text, the upstream gets a *marker* — a statement
//!   that is a guaranteed syntax error naming a per-session nonce and a counter. PostgreSQL
//!   then does precisely what it does for any failed statement (aborts the transaction
//!   block, discards the rest of the pipeline until Sync, answers ReadyForQuery with the
//!   right status), and `relay.rs` swaps the syntax error for the refusal (42501/57014).
//!   The session stays usable and client and upstream never disagree on state.
//! * Hold: a NoticeResponse names the approval at once; the statement waits; on approval
//!   exactly the held message is forwarded, once; a client that disconnects while waiting
//!   withdraws the request (the `Held` is dropped) and nothing is forwarded.
//!
//! Must never forward a Query or Parse before its verdict, and never forward refused text.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio_util::sync::CancellationToken;
use warden_audit::{Durability, EventKind, Outcome, VerdictSummary};
use warden_inspect::sql::Dialect;
use warden_inspect::{Action, Actor, Facts, Protocol, TargetRef};

use super::codec::{self, Body, Frame, FrameReader, Report};
use super::errors::PgError;
use super::executions::{Outcomes, Repeat};
use super::relay::{marker_text, ClientOut, SharedTracker, Sink};
use warden_gate::{action_event, Admission, Gate, HoldOutcome, Refusal, RefusalKind, Ticket};

/// How much a client may send while one of its statements is held (read so that a
/// disconnect is noticed; kept for after the hold).
const HOLD_READ_CAP: usize = 1 << 20;

/// Who is talking to which target, for every Action of the session.
pub struct SessionInfo {
    pub gate: Gate,
    pub actor: Actor,
    pub target: TargetRef,
    pub session_id: String,
    pub shutdown: CancellationToken,
}

/// Message types a client may send after startup.
pub fn is_client_message(tag: u8) -> bool {
    b"QPBEDCSHdcfFX".contains(&tag)
}

/// The client-facing report for a refusal.
pub fn refusal_report(r: &Refusal) -> Report {
    let approval = r.approval_id.as_deref().unwrap_or("-");
    let rule = if r.rule.is_empty() {
        "-"
    } else {
        r.rule.as_str()
    };
    match r.kind {
        RefusalKind::Denied => {
            Report::error("42501", format!("{} (Warden rule \"{rule}\")", r.message))
                .with_detail(format!("Denied by Warden rule \"{rule}\"."))
        }
        RefusalKind::RetryLater => {
            let url = r.url.as_deref().unwrap_or("");
            Report::error(
                "42501",
                format!("statement needs approval {approval} (Warden rule \"{rule}\"); re-send it once approved: {url}"),
            )
            .with_detail(r.message.clone())
        }
        RefusalKind::Expired => Report::error(
            "57014",
            format!("approval {approval} expired: statement not run (Warden rule \"{rule}\")"),
        ),
        RefusalKind::Withdrawn => Report::error(
            "57014",
            format!("approval {approval} was withdrawn: statement not run"),
        ),
        RefusalKind::AuditUnavailable => Report::error(
            "58000",
            "Warden cannot write its audit log; statement refused (fail closed)",
        ),
        RefusalKind::Internal => {
            Report::error("XX000", format!("Warden internal error: {}", r.message))
        }
    }
}

fn abandon(ticket: Option<Box<Ticket>>) {
    if let Some(t) = ticket {
        t.complete(Outcome {
            error: Some("not executed".into()),
            ..Outcome::default()
        });
    }
}

enum Decided {
    Forward(Option<Box<Ticket>>),
    Refuse(Report),
}

/// An allowed prepared statement: its ticket until the first Execute, then what later
/// Executes need for their own outcome records.
struct Prepared {
    ticket: Option<Box<Ticket>>,
    again: Option<Arc<Repeat>>,
}

/// What to do with one Execute.
enum Execution {
    Run(Outcomes),
    /// A second execution of an approved statement (approvals are single-use).
    RefuseReuse(Arc<Repeat>, u64),
}

impl Prepared {
    fn new(gate: &Gate, ticket: Option<Box<Ticket>>) -> Prepared {
        let again = ticket
            .as_deref()
            .map(|t| Arc::new(Repeat::from_ticket(gate, t)));
        Prepared { ticket, again }
    }

    fn execute(&mut self) -> Execution {
        if let Some(t) = self.ticket.take() {
            return Execution::Run(Outcomes::Ticket(t));
        }
        match &self.again {
            Some(r) if r.approval_id().is_some() => {
                Execution::RefuseReuse(Arc::clone(r), r.next_execution())
            }
            Some(r) => Execution::Run(Outcomes::Again(Arc::clone(r), r.next_execution())),
            None => Execution::Run(Outcomes::Nobody),
        }
    }
}

/// The client → upstream half of a session.
pub struct Session<'a, R, W> {
    pub info: &'a SessionInfo,
    pub client: FrameReader<R>,
    pub upstream: W,
    pub client_out: ClientOut,
    pub tracker: SharedTracker,
    pub nonce: String,
    next_marker: u64,
    statements: HashMap<String, Prepared>,
    portals: HashMap<String, String>,
}

impl<'a, R: AsyncRead + Unpin, W: AsyncWrite + Unpin> Session<'a, R, W> {
    pub fn new(
        info: &'a SessionInfo,
        client: FrameReader<R>,
        upstream: W,
        client_out: ClientOut,
        tracker: SharedTracker,
        nonce: String,
    ) -> Self {
        Session {
            info,
            client,
            upstream,
            client_out,
            tracker,
            nonce,
            next_marker: 0,
            statements: HashMap::new(),
            portals: HashMap::new(),
        }
    }

    /// Runs until the client terminates or disconnects.
    pub async fn run(&mut self) -> Result<(), PgError> {
        let result = self.pump().await;
        for (_, p) in self.statements.drain() {
            abandon(p.ticket);
        }
        result
    }

    async fn pump(&mut self) -> Result<(), PgError> {
        loop {
            let frame = tokio::select! {
                f = self.client.read_frame() => f?,
                _ = self.info.shutdown.cancelled() => {
                    self.fatal(Report::fatal("57P01", "Warden is shutting down")).await;
                    return Ok(());
                }
            };
            let Some(frame) = frame else { return Ok(()) };
            match frame.tag {
                b'Q' => self.simple_query(frame).await?,
                b'P' => self.parse(frame).await?,
                b'B' => {
                    let mut b = Body::new(frame.body.clone());
                    let portal = b.cstr()?;
                    let statement = b.cstr()?;
                    self.portals.insert(portal, statement);
                    self.forward(&frame).await?;
                }
                b'E' => {
                    let portal = Body::new(frame.body.clone()).cstr()?;
                    let execution = self
                        .portals
                        .get(&portal)
                        .and_then(|s| self.statements.get_mut(s))
                        .map_or(Execution::Run(Outcomes::Nobody), Prepared::execute);
                    match execution {
                        Execution::Run(outcomes) => {
                            self.push(Sink::Exec {
                                outcomes,
                                started: Instant::now(),
                            });
                            self.forward(&frame).await?;
                        }
                        Execution::RefuseReuse(repeat, n) => {
                            let message = repeat.refuse_reuse(n).await;
                            self.push(Sink::Exec {
                                outcomes: Outcomes::Nobody,
                                started: Instant::now(),
                            });
                            self.refuse_execute(Report::error("42501", message)).await?;
                        }
                    }
                }
                b'C' => {
                    let mut b = Body::new(frame.body.clone());
                    let kind = b.u8()?;
                    let name = b.cstr()?;
                    match kind {
                        b'S' => abandon(self.statements.remove(&name).and_then(|p| p.ticket)),
                        b'P' => {
                            self.portals.remove(&name);
                        }
                        _ => return Err(PgError::Protocol("bad Close target".into())),
                    }
                    self.forward(&frame).await?;
                }
                b'S' => {
                    self.push(Sink::Sync);
                    self.forward(&frame).await?;
                }
                b'D' | b'H' | b'd' | b'c' | b'f' => self.forward(&frame).await?,
                b'F' => {
                    self.push(Sink::Query {
                        ticket: None,
                        started: Instant::now(),
                        tag: None,
                        rows: 0,
                        error: None,
                    });
                    let report = Report::error(
                        "42501",
                        "the function-call protocol is not allowed through Warden",
                    );
                    self.refuse_with_query(report).await?;
                }
                b'X' => {
                    self.forward(&frame).await?;
                    return Ok(());
                }
                other => {
                    return Err(PgError::Protocol(format!(
                        "unexpected message type '{}'",
                        other as char
                    )));
                }
            }
            if self.client.buffered() == 0 {
                self.upstream.flush().await?;
            }
        }
    }

    fn push(&self, sink: Sink) {
        if let Ok(mut t) = self.tracker.lock() {
            t.sinks.push_back(sink);
        }
    }

    async fn forward(&mut self, frame: &Frame) -> Result<(), PgError> {
        let mut out = BytesMut::with_capacity(frame.body.len() + 5);
        frame.encode(&mut out);
        self.upstream.write_all(&out).await?;
        Ok(())
    }

    /// Registers a refusal and returns the marker text that will trigger it.
    fn marker(&mut self, report: Report) -> String {
        self.next_marker += 1;
        let id = self.next_marker;
        if let Ok(mut t) = self.tracker.lock() {
            t.refusals.insert(id, report);
        }
        marker_text(&self.nonce, id)
    }

    async fn refuse_with_query(&mut self, report: Report) -> Result<(), PgError> {
        let marker = self.marker(report);
        let mut out = BytesMut::new();
        codec::query(&mut out, &marker);
        self.upstream.write_all(&out).await?;
        Ok(())
    }

    /// Refuses an Execute: a Parse of the marker under a name no client statement uses
    /// (it fails, so nothing is created) makes the upstream fail at this point of the
    /// pipeline exactly as a failed Execute would, and leaves the client's statements
    /// and portals alone.
    async fn refuse_execute(&mut self, report: Report) -> Result<(), PgError> {
        let marker = self.marker(report);
        let name = format!("warden_refused_{}", self.nonce);
        let mut out = BytesMut::new();
        codec::parse(&mut out, &name, &marker);
        self.upstream.write_all(&out).await?;
        Ok(())
    }

    async fn simple_query(&mut self, frame: Frame) -> Result<(), PgError> {
        let sql = Body::new(frame.body.clone()).cstr()?;
        let decided = self.decide(&sql).await?;
        let started = Instant::now();
        match decided {
            Decided::Forward(ticket) => {
                self.push(Sink::Query {
                    ticket,
                    started,
                    tag: None,
                    rows: 0,
                    error: None,
                });
                self.forward(&frame).await
            }
            Decided::Refuse(report) => {
                self.push(Sink::Query {
                    ticket: None,
                    started,
                    tag: None,
                    rows: 0,
                    error: None,
                });
                self.refuse_with_query(report).await
            }
        }
    }

    async fn parse(&mut self, frame: Frame) -> Result<(), PgError> {
        let mut b = Body::new(frame.body.clone());
        let name = b.cstr()?;
        let sql = b.cstr()?;
        let types = b.count16()?;
        b.bytes(types * 4)?;
        let decided = self.decide(&sql).await?;
        abandon(self.statements.remove(&name).and_then(|p| p.ticket));
        match decided {
            Decided::Forward(ticket) => {
                let prepared = Prepared::new(&self.info.gate, ticket);
                self.statements.insert(name, prepared);
                self.forward(&frame).await
            }
            Decided::Refuse(report) => {
                // Same statement name: PostgreSQL drops the old unnamed statement before
                // parsing, so the marker leaves upstream state as the real Parse would.
                let marker = self.marker(report);
                let mut out = BytesMut::new();
                codec::parse(&mut out, &name, &marker);
                self.upstream.write_all(&out).await?;
                Ok(())
            }
        }
    }

    fn action(&self, sql: &str) -> Action {
        let facts = self.info.gate.sql_facts(sql, Dialect::Postgres);
        Action {
            protocol: Protocol::Postgres,
            user: self.info.actor.clone(),
            target: self.info.target.clone(),
            session: Some(self.info.session_id.clone()),
            raw: sql.to_owned(),
            facts: Facts::Sql(facts),
        }
    }

    /// Why no statement may run now (the upstream reads strings differently), if so.
    fn strings_unsafe(&self) -> Option<String> {
        match self.tracker.lock() {
            Ok(t) => t.strings_unsafe(),
            Err(_) => Some("internal state unavailable".into()),
        }
    }

    /// Refuses `sql` because of `reason` (see `strings_unsafe`), auditing the refusal.
    async fn refuse_unsafe_strings(&self, sql: &str, reason: String) -> Decided {
        let action = self.action(sql);
        let mut ev = action_event(EventKind::ActionDecided, &action);
        ev.verdict = Some(VerdictSummary {
            decision: "deny".into(),
            rules: Vec::new(),
            dry_run: Vec::new(),
            message: Some(reason.clone()),
        });
        ev.action = Some(action);
        if let Err(e) = self.info.gate.record(ev, Durability::Durable).await {
            tracing::error!(error = %e, "could not audit a standard_conforming_strings refusal");
        }
        Decided::Refuse(
            Report::error("42501", format!("Warden: {reason}")).with_hint(
                "Run with standard_conforming_strings = on (the PostgreSQL default); check ALTER ROLE/DATABASE ... SET and postgresql.conf.",
            ),
        )
    }

    async fn decide(&mut self, sql: &str) -> Result<Decided, PgError> {
        if let Some(reason) = self.strings_unsafe() {
            return Ok(self.refuse_unsafe_strings(sql, reason).await);
        }
        let decided = self.decide_by_gate(sql).await?;
        // The setting may have changed while the Gate decided (or a hold waited).
        if let Decided::Forward(ticket) = decided {
            if let Some(reason) = self.strings_unsafe() {
                abandon(ticket);
                return Ok(self.refuse_unsafe_strings(sql, reason).await);
            }
            return Ok(Decided::Forward(ticket));
        }
        Ok(decided)
    }

    async fn decide_by_gate(&mut self, sql: &str) -> Result<Decided, PgError> {
        let admission = self.info.gate.decide(self.action(sql)).await;
        match admission {
            Admission::Allow(ticket) => Ok(Decided::Forward(Some(Box::new(ticket)))),
            Admission::Deny(refusal) => Ok(Decided::Refuse(refusal_report(&refusal))),
            Admission::Hold(held) => {
                // Whatever is pipelined before this statement must reach the upstream
                // (and its results the client) while we wait.
                self.upstream.flush().await?;
                let notice = Report::notice(
                    "01000",
                    format!("Warden: statement held for approval {}; approve it at {}", held.id, held.url),
                )
                .with_hint("The statement runs as soon as it is approved; it is withdrawn if you disconnect.");
                let mut out = BytesMut::new();
                notice.encode_notice(&mut out);
                {
                    let mut w = self.client_out.lock().await;
                    w.write_all(&out).await?;
                    w.flush().await?;
                }
                let wait = held.wait();
                tokio::pin!(wait);
                loop {
                    tokio::select! {
                        outcome = &mut wait => {
                            return Ok(match outcome {
                                HoldOutcome::Approved(ticket) => Decided::Forward(Some(Box::new(ticket))),
                                HoldOutcome::Refused(refusal) => Decided::Refuse(refusal_report(&refusal)),
                            });
                        }
                        read = self.client.fill_more(HOLD_READ_CAP) => match read {
                            Ok(0) | Err(_) => return Err(PgError::Protocol("client disconnected while a statement was held".into())),
                            Ok(_) => {}
                        },
                        _ = self.info.shutdown.cancelled() => {
                            return Err(PgError::Protocol("shutdown while a statement was held".into()));
                        }
                    }
                }
            }
        }
    }

    /// Sends a FATAL report to the client (best effort).
    pub async fn fatal(&self, report: Report) {
        let mut out = BytesMut::new();
        report.encode_error(&mut out);
        let mut w = self.client_out.lock().await;
        let _ = w.write_all(&out).await;
        let _ = w.flush().await;
    }
}

/// Sends a Terminate upstream (best effort) so the server ends the backend cleanly.
pub async fn terminate<W: AsyncWrite + Unpin>(upstream: &mut W) {
    let mut out = BytesMut::new();
    codec::typed(&mut out, b'X', &[]);
    let _ = upstream.write_all(&out).await;
    let _ = upstream.flush().await;
}
