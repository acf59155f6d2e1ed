//! Asking the Gate about one SQL text, and the ERR packets its refusals become.
//!
//! Before the Gate, [`lexing`](super::lexing) may refuse text the server could read
//! differently from the inspector; such refusals are audited as `action_decided`
//! denials like the Gate's own. A hold waits for its approval (the client simply waits:
//! MySQL has no notices), watching the client so that a disconnect withdraws it.
//!
//! Must never return [`Decided::Forward`] without a Gate ticket for exactly this text
//! (for an execute: this text with these bound values).

use std::sync::{Arc, Mutex};

use tokio::io::AsyncRead;
use warden_audit::{Durability, EventKind, VerdictSummary};
use warden_gate::{
    action_event, verdict_summary, Admission, CancellationToken, Gate, HoldOutcome, Refusal,
    RefusalKind, Ticket,
};
use warden_inspect::sql::{Dialect, SqlFacts};
use warden_inspect::{Action, Actor, Facts, Protocol, TargetRef};

use super::errors::MyError;
use super::lexing::{self, SqlMode};
use super::packet::PacketReader;
use super::prepare_from;
use super::upstream::SessionState;
use super::wire::ErrPacket;

/// How much a client may send while one of its statements is held (read only to
/// notice a disconnect).
const HOLD_READ_CAP: usize = 1 << 20;

/// Who is talking to which target, for every Action of the session.
pub struct SessionInfo {
    pub gate: Gate,
    pub actor: Actor,
    pub target: TargetRef,
    pub session_id: String,
    pub shutdown: CancellationToken,
    /// What of the upstream session's `sql_mode` changes lexing (read after login and
    /// after every statement that may change it).
    pub mode: Mutex<SqlMode>,
}

/// The Gate's answer, ready for the wire.
pub enum Decided {
    Forward(Box<Ticket>),
    Refuse(ErrPacket),
}

/// The ERR packet for a refusal: 1227 / 42000 for denials (the rule's message and
/// name), 1317 / 70100 when a hold expired or was withdrawn, 1290 / HY000 when the audit
/// log cannot write, 1105 / HY000 for internal errors.
pub fn refusal_packet(r: &Refusal) -> ErrPacket {
    let rule = if r.rule.is_empty() {
        "-"
    } else {
        r.rule.as_str()
    };
    let approval = r.approval_id.as_deref().unwrap_or("-");
    match r.kind {
        RefusalKind::Denied => {
            ErrPacket::new(1227, "42000", format!("{} (Warden rule \"{rule}\")", r.message))
        }
        RefusalKind::RetryLater => ErrPacket::new(
            1227,
            "42000",
            format!(
                "statement needs approval {approval} (Warden rule \"{rule}\"); re-send it once approved: {}",
                r.url.as_deref().unwrap_or("")
            ),
        ),
        RefusalKind::Expired => ErrPacket::new(
            1317,
            "70100",
            format!("approval {approval} expired: statement not run (Warden rule \"{rule}\")"),
        ),
        RefusalKind::Withdrawn => ErrPacket::new(
            1317,
            "70100",
            format!("approval {approval} was withdrawn: statement not run"),
        ),
        RefusalKind::AuditUnavailable => ErrPacket::new(
            1290,
            "HY000",
            "Warden cannot write its audit log; statement refused (fail closed)",
        ),
        RefusalKind::Internal => {
            ErrPacket::new(1105, "HY000", format!("Warden internal error: {}", r.message))
        }
    }
}

impl SessionInfo {
    pub fn action(&self, raw: &str, facts: Facts) -> Action {
        Action {
            protocol: Protocol::Mysql,
            user: self.actor.clone(),
            target: self.target.clone(),
            session: Some(self.session_id.clone()),
            raw: raw.to_owned(),
            facts,
        }
    }

    /// Audits (durably) that Warden refused `raw` itself, and returns the ERR 1227.
    pub async fn refuse_audited(&self, raw: &str, facts: Facts, reason: &str) -> ErrPacket {
        let action = self.action(raw, facts);
        let mut ev = action_event(EventKind::ActionDecided, &action);
        ev.verdict = Some(VerdictSummary {
            decision: "deny".into(),
            rules: Vec::new(),
            dry_run: Vec::new(),
            message: Some(reason.to_owned()),
        });
        ev.action = Some(action);
        if let Err(e) = self.gate.record(ev, Durability::Durable).await {
            tracing::error!(error = %e, "could not audit a refusal");
        }
        ErrPacket::new(1227, "42000", format!("Warden: {reason}"))
    }

    /// The session's current lexing-relevant `sql_mode`.
    pub fn mode(&self) -> SqlMode {
        *self.mode.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Follows the upstream session's `sql_mode` and character set as just read; a
    /// character set Warden cannot inspect safely ends the session (fail closed).
    pub fn track(&self, state: &SessionState) -> Result<(), MyError> {
        *self.mode.lock().unwrap_or_else(|e| e.into_inner()) = SqlMode::parse(&state.sql_mode);
        if lexing::unsafe_charset(&state.charset_client) {
            return Err(MyError::Unsupported(format!(
                "the connection character set is now {}, which Warden cannot inspect safely (a multi-byte character can hide a quote); connection closed",
                state.charset_client
            )));
        }
        Ok(())
    }

    /// The inspected facts of `sql`, with `PREPARE ... FROM '<statement>'` decided on
    /// the statement it prepares ([`prepare_from`]).
    pub fn facts(&self, sql: &str, mode: SqlMode) -> Arc<SqlFacts> {
        let inspect = |text: &str| (*self.gate.sql_facts(text, Dialect::Mysql)).clone();
        match prepare_from::facts(sql, mode, inspect) {
            Some(facts) => Arc::new(facts),
            None => self.gate.sql_facts(sql, Dialect::Mysql),
        }
    }

    /// Checks made before the Gate ([`lexing`]), and the inspected facts of `sql`;
    /// a refusal is already audited.
    pub async fn precheck(&self, sql: &str) -> Result<Arc<SqlFacts>, ErrPacket> {
        let mode = self.mode();
        let facts = self.facts(sql, mode);
        if let Some(reason) = lexing::refusal(sql) {
            return Err(self.refuse_audited(sql, Facts::Sql(facts), &reason).await);
        }
        let several = facts.statements.len() > 1 || (facts.unparsed && sql.contains(';'));
        if several && lexing::changes_session(sql) {
            let reason = "a statement that may change sql_mode or the character set (SET sql_mode, SET NAMES, SET CHARACTER SET, EXECUTE, CALL) must be sent on its own, not with other statements";
            return Err(self.refuse_audited(sql, Facts::Sql(facts), reason).await);
        }
        if mode.backslash_literal() {
            if let Some(other) = lexing::backslash_literal_reading(sql) {
                if *self.facts(&other, mode) != *facts {
                    let reason = "the server reads backslashes in this statement literally (sql_mode NO_BACKSLASH_ESCAPES or ANSI_QUOTES), which changes its meaning; statement refused";
                    return Err(self.refuse_audited(sql, Facts::Sql(facts), reason).await);
                }
            }
        }
        Ok(facts)
    }

    /// Decides `sql`; a hold waits here (watching `client` for a disconnect).
    pub async fn decide<S: AsyncRead + Unpin>(
        &self,
        sql: &str,
        client: &mut PacketReader<S>,
    ) -> Result<Decided, MyError> {
        match self.precheck(sql).await {
            Ok(facts) => {
                self.admit(self.action(sql, Facts::Sql(facts)), client)
                    .await
            }
            Err(err) => Ok(Decided::Refuse(err)),
        }
    }

    /// Whether the policies would hold `action` (evaluated only: nothing is recorded
    /// and no approval is requested).
    pub fn would_hold(&self, action: &Action) -> bool {
        let verdict = self.gate.policies().current().evaluate(action);
        verdict_summary(&verdict).decision == "hold"
    }

    /// Records that a COM_STMT_PREPARE whose executions need approval was prepared
    /// without one: preparing runs nothing, and every execute is decided (and held)
    /// with its bound values.
    pub async fn prepared_for_later(&self, action: &Action) -> Result<(), ErrPacket> {
        let mut ev = action_event(EventKind::ActionDecided, action);
        ev.verdict = Some(VerdictSummary {
            decision: "allow".into(),
            rules: Vec::new(),
            dry_run: Vec::new(),
            message: Some("prepared only: each execution is decided with its bound values".into()),
        });
        ev.detail = Some(
            "COM_STMT_PREPARE of a statement the policies hold: the hold applies to each COM_STMT_EXECUTE"
                .into(),
        );
        ev.action = Some(action.clone());
        match self.gate.record(ev, Durability::Durable).await {
            Ok(_) => Ok(()),
            Err(e) => {
                tracing::error!(error = %e, "could not audit a prepare");
                Err(ErrPacket::new(
                    1290,
                    "HY000",
                    "Warden cannot write its audit log; statement refused (fail closed)",
                ))
            }
        }
    }

    /// Asks the Gate about `action`; a hold waits here (watching `client` for a
    /// disconnect).
    pub async fn admit<S: AsyncRead + Unpin>(
        &self,
        action: Action,
        client: &mut PacketReader<S>,
    ) -> Result<Decided, MyError> {
        let admission = self.gate.decide(action).await;
        let held = match admission {
            Admission::Allow(ticket) => return Ok(Decided::Forward(Box::new(ticket))),
            Admission::Deny(refusal) => return Ok(Decided::Refuse(refusal_packet(&refusal))),
            Admission::Hold(held) => held,
        };
        tracing::info!(approval = %held.id, url = %held.url, session = %self.session_id, "statement held for approval");
        let wait = held.wait();
        tokio::pin!(wait);
        loop {
            tokio::select! {
                outcome = &mut wait => {
                    return Ok(match outcome {
                        HoldOutcome::Approved(ticket) => Decided::Forward(Box::new(ticket)),
                        HoldOutcome::Refused(refusal) => Decided::Refuse(refusal_packet(&refusal)),
                    });
                }
                read = client.fill_more(HOLD_READ_CAP) => match read {
                    Ok(0) | Err(_) => return Err(MyError::Malformed("client disconnected while a statement was held".into())),
                    Ok(_) => {}
                },
                _ = self.shutdown.cancelled() => {
                    return Err(MyError::Timeout("shutdown while a statement was held"));
                }
            }
        }
    }
}
