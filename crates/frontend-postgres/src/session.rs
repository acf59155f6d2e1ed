//! Client → upstream: the simple and extended query protocol, with every statement
//! decided by the Gate before the upstream sees it.
//!
//! * Simple Query: the whole (possibly multi-statement) string is one Action.
//! * Extended protocol: decided at Parse; only Parses that were allowed or approved reach
//!   the upstream, so only they can be bound and executed there. An Execute of a portal
//!   bound to any other name is refused: the statement does not exist upstream, or SQL
//!   `PREPARE` made it (that decision covered preparing, not running it).
//!   Results are attributed at Execute: the first Execute completes the statement's
//!   ticket, every later one gets its own outcome record (`executions.rs`). A statement
//!   that needed an approval runs once: a later Execute of it is refused (42501).
//! * `standard_conforming_strings`: while the upstream does not report it `on`, every
//!   Query and Parse is refused (42501) before the Gate sees it, and the refusal is
//!   audited: inspection reads literals as with `on`, so anything else could smuggle
//!   statements past it (`SELECT 'a\'' ; DROP TABLE t; --'`). Behind a statement that
//!   may change the setting, the next one is decided only once the upstream has answered
//!   (`settings.rs`), and unqualified names stop counting as builtins once the session
//!   moved `search_path`.
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
use warden_inspect::sql::{inspect_resolved, Dialect, Resolution, SqlFacts};
use warden_inspect::{Action, Actor, Facts, Protocol, TargetRef};

use super::codec::{self, Body, Frame, FrameReader, Report};
pub use super::errors::refusal_report;
use super::errors::PgError;
use super::executions::{Execution, Outcomes, Prepared};
use super::relay::{marker_text, ClientOut, SharedTracker, Sink};
use super::settings::{self, Settings};
use warden_gate::{action_event, Admission, Gate, HoldOutcome, Ticket};

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

const STRINGS_HINT: &str = "Run with standard_conforming_strings = on (the PostgreSQL default); check ALTER ROLE/DATABASE ... SET and postgresql.conf.";
const PIPELINE_HINT: &str = "Send Sync after a statement that calls functions, set_config, DO, CALL or EXECUTE, then the next statement.";

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
    settings: Settings,
    /// How names resolved when the last statement was decided (its facts are reused
    /// after the verdict only while that still holds).
    decided_with: Resolution,
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
            settings: Settings::default(),
            decided_with: Resolution::default(),
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
            // A message already buffered whole (the rest of a pipeline) is taken without
            // a wait; shutdown is checked whenever the session must read (at least once
            // per read from the client, so a long pipeline cannot keep it from noticing).
            let frame = match self.client.buffered_frame()? {
                Some(f) => Some(f),
                None => tokio::select! {
                    f = self.client.read_frame() => f?,
                    _ = self.info.shutdown.cancelled() => {
                        self.fatal(Report::fatal("57P01", "Warden is shutting down")).await;
                        return Ok(());
                    }
                },
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
                    let statement = self.portals.get(&portal).cloned();
                    let prepared = statement.as_ref().and_then(|s| self.statements.get_mut(s));
                    let changes = prepared.as_ref().is_some_and(|p| p.changes_strings);
                    let execution = match (prepared, statement) {
                        (Some(p), _) => p.execute(),
                        (None, Some(name)) => Execution::RefuseUnparsed(name),
                        // Not bound in this session: a cursor from DECLARE (decided
                        // there) or no portal at all (fails upstream).
                        (None, None) => Execution::Run(Outcomes::Nobody),
                    };
                    match execution {
                        Execution::Run(outcomes) => {
                            self.settings.unsettled_pipeline |= changes;
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
                        Execution::RefuseUnparsed(name) => {
                            self.push(Sink::Exec {
                                outcomes: Outcomes::Nobody,
                                started: Instant::now(),
                            });
                            let message = format!("Warden runs prepared statements only as Parsed in this session; \"{name}\" was not (a statement made with SQL PREPARE runs with SQL EXECUTE, which is decided)");
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
                    self.expect_ready();
                    self.forward(&frame).await?;
                    self.settings.synced();
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

    /// Writes `frame` to the upstream's buffer (sent at the flush after the client's
    /// buffered messages, so a pipeline goes up in one write).
    async fn forward(&mut self, frame: &Frame) -> Result<(), PgError> {
        self.upstream.write_all(&frame.header()).await?;
        self.upstream.write_all(&frame.body).await?;
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
        self.expect_ready();
        self.upstream.write_all(&out).await?;
        Ok(())
    }

    /// Before a Query or Sync goes upstream: one more ReadyForQuery is owed, and when it
    /// comes every marker registered so far has been answered or discarded (the relay
    /// then forgets their refusals, so discarded markers do not pile up).
    fn expect_ready(&mut self) {
        self.settings.expect_ready();
        if let Ok(mut t) = self.tracker.lock() {
            t.marker_marks.push_back(self.next_marker);
        }
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
                let decided_facts = ticket.as_deref().and_then(sql_facts_of);
                self.push(Sink::Query {
                    ticket,
                    started,
                    tag: None,
                    rows: 0,
                    error: None,
                });
                self.expect_ready();
                self.forward(&frame).await?;
                let facts = self.facts_after(&sql, decided_facts);
                if settings::may_change_strings(&sql, &facts) {
                    self.settings.settle_after_this();
                }
                self.settings.forwarded(&sql, &facts);
                Ok(())
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
                let decided_facts = ticket.as_deref().and_then(sql_facts_of);
                let facts = self.facts_after(&sql, decided_facts);
                let changes = settings::may_change_strings(&sql, &facts);
                self.settings.forwarded(&sql, &facts);
                let prepared = Prepared::new(&self.info.gate, ticket, changes);
                self.statements.insert(name, prepared);
                self.forward(&frame).await
            }
            Decided::Refuse(report) => {
                // Known here (so its Executes are forwarded and fail upstream as they
                // would for this failed Parse) but never allowed to run.
                self.statements
                    .insert(name.clone(), Prepared::new(&self.info.gate, None, false));
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

    /// How the server resolves unqualified names now.
    fn resolution(&self) -> Resolution {
        let tracker = self.tracker.lock().ok();
        let reported = tracker.as_ref().and_then(|t| t.search_path.as_deref());
        self.settings.resolution(reported)
    }

    /// The facts of `sql` as the server resolves its names with `resolution`.
    fn facts_with(&self, sql: &str, resolution: Resolution) -> Arc<SqlFacts> {
        match resolution {
            Resolution::CatalogFirst => self.info.gate.sql_facts(sql, Dialect::Postgres),
            // Rare (the session moved search_path): not worth a cache of its own.
            r => Arc::new(inspect_resolved(sql, Dialect::Postgres, r)),
        }
    }

    /// The facts of `sql` as the server will resolve its names now, for the bookkeeping
    /// after a verdict: the decided action's own facts (`decided`) when names still
    /// resolve as they did at the decision, else read again.
    fn facts_after(&self, sql: &str, decided: Option<Arc<SqlFacts>>) -> Arc<SqlFacts> {
        let now = self.resolution();
        match decided {
            Some(facts) if now == self.decided_with => facts,
            _ => self.facts_with(sql, now),
        }
    }

    fn action(&self, sql: &str) -> Action {
        self.action_with(sql, self.resolution())
    }

    fn action_with(&self, sql: &str, resolution: Resolution) -> Action {
        let facts = self.facts_with(sql, resolution);
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
        self.refuse_unread(sql, reason, STRINGS_HINT).await
    }

    /// Refuses `sql`, which cannot be read safely now because of `reason`, auditing the
    /// refusal as a deny.
    async fn refuse_unread(&self, sql: &str, reason: String, hint: &str) -> Decided {
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
        Decided::Refuse(Report::error("42501", format!("Warden: {reason}")).with_hint(hint))
    }

    /// Waits until the upstream has answered every statement that may have changed
    /// standard_conforming_strings (its ParameterStatus comes before that ReadyForQuery).
    async fn settle(&mut self) -> Result<(), PgError> {
        let target = self.settings.settle_at();
        let readies = |tracker: &SharedTracker| {
            tracker
                .lock()
                .map(|t| (t.readies, Arc::clone(&t.ready_notify)))
                .map_err(|_| PgError::Protocol("internal state unavailable".into()))
        };
        let (seen, notify) = readies(&self.tracker)?;
        if seen >= target {
            return Ok(());
        }
        self.upstream.flush().await?;
        loop {
            let notified = notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if readies(&self.tracker)?.0 >= target {
                return Ok(());
            }
            tokio::select! {
                _ = &mut notified => {}
                // Keep reading (kept for later) so that a client writing a long pipeline
                // before it reads does not stall the answers we are waiting for.
                read = self.client.fill_more(HOLD_READ_CAP) => match read {
                    Ok(0) | Err(_) => return Err(PgError::Protocol("client disconnected".into())),
                    Ok(_) => {}
                },
                _ = self.info.shutdown.cancelled() => {
                    return Err(PgError::Protocol("shutdown while waiting for the upstream".into()));
                }
            }
        }
    }

    async fn decide(&mut self, sql: &str) -> Result<Decided, PgError> {
        // Without a backslash a statement reads the same whatever the setting.
        if settings::reads_differently(sql) {
            if self.settings.unsettled_pipeline {
                let reason = "a statement earlier in this pipeline may change standard_conforming_strings, which the server reports only at Sync; Warden decides no further statement with a backslash before it".to_owned();
                return Ok(self.refuse_unread(sql, reason, PIPELINE_HINT).await);
            }
            self.settle().await?;
        }
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
        let resolution = self.resolution();
        self.decided_with = resolution;
        let admission = self
            .info
            .gate
            .decide(self.action_with(sql, resolution))
            .await;
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

/// The SQL facts a decided action carried (the Gate keeps them in the ticket).
fn sql_facts_of(ticket: &Ticket) -> Option<Arc<SqlFacts>> {
    match &ticket.action().facts {
        Facts::Sql(facts) => Some(Arc::clone(facts)),
        _ => None,
    }
}

/// Sends a Terminate upstream (best effort) so the server ends the backend cleanly.
pub async fn terminate<W: AsyncWrite + Unpin>(upstream: &mut W) {
    let mut out = BytesMut::new();
    codec::typed(&mut out, b'X', &[]);
    let _ = upstream.write_all(&out).await;
    let _ = upstream.flush().await;
}
