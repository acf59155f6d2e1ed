//! Asking the Gate about one SQL text, and the ERR packets its refusals become.
//!
//! Before the Gate, [`lexing`](super::lexing) may refuse text the server could read
//! differently from the inspector; such refusals are audited as `action_decided`
//! denials like the Gate's own. A hold waits for its approval (the client simply waits:
//! MySQL has no notices), watching the client so that a disconnect withdraws it.
//!
//! Must never return [`Decided::Forward`] without a Gate ticket for exactly this text
//! (for an execute: this text with these bound values), and never return
//! [`Decided::PrepareOnly`] for a text that runs anything but `PREPARE name FROM '...'`.

use std::sync::{Arc, Mutex};

use tokio::io::AsyncRead;
use warden_audit::{Durability, EventKind, Outcome, VerdictSummary};
use warden_gate::{
    action_event, verdict_summary, Admission, CancellationToken, Gate, HoldOutcome, Refusal,
    RefusalKind, Ticket,
};
use warden_inspect::sql::{Dialect, SqlFacts};
use warden_inspect::{Action, Actor, Facts, Protocol, TargetRef};

use super::errors::MyError;
use super::lexing::{self, SqlMode};
use super::named::{self, NamedStatements};
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
    /// What the upstream session holds under each `PREPARE name FROM '...'` name.
    pub named: Mutex<NamedStatements>,
}

/// The Gate's answer, ready for the wire.
pub enum Decided {
    Forward(Box<Ticket>),
    /// A text made only of `PREPARE name FROM '...'` statements the policies would hold:
    /// forwarded without an approval (preparing runs nothing; each `EXECUTE name` is
    /// decided, and held, as the statement it runs). Already audited.
    PrepareOnly,
    Refuse(ErrPacket),
}

impl Decided {
    /// The ticket of an allowed statement; any other answer as the ERR to send.
    pub fn ticket(self) -> Result<Box<Ticket>, ErrPacket> {
        match self {
            Decided::Forward(ticket) => Ok(ticket),
            Decided::Refuse(err) => Err(err),
            Decided::PrepareOnly => Err(ErrPacket::new(
                1105,
                "HY000",
                "Warden internal error: a prepare-only answer for a command that is not SQL text",
            )),
        }
    }
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
    /// `runs`: for `EXECUTE name` of a statement this session prepared from a literal,
    /// that statement (whose facts are then the text's).
    pub async fn precheck(
        &self,
        sql: &str,
        runs: Option<&str>,
    ) -> Result<Arc<SqlFacts>, ErrPacket> {
        let mode = self.mode();
        let facts = match runs {
            Some(inner) => self.gate.sql_facts(inner, Dialect::Mysql),
            None => self.facts(sql, mode),
        };
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
                if runs.is_some() || *self.facts(&other, mode) != *facts {
                    let reason = "the server reads backslashes in this statement literally (sql_mode NO_BACKSLASH_ESCAPES or ANSI_QUOTES), which changes its meaning; statement refused";
                    return Err(self.refuse_audited(sql, Facts::Sql(facts), reason).await);
                }
            }
        }
        Ok(facts)
    }

    /// Decides the SQL text of a COM_QUERY (or COM_INIT_DB); a hold waits here (watching
    /// `client` for a disconnect). `EXECUTE name` of a statement this session prepared
    /// from a literal is decided as that statement ([`named`]); a text made only of
    /// `PREPARE name FROM '...'` that the policies would hold is prepared without an
    /// approval ([`Decided::PrepareOnly`]).
    pub async fn decide<S: AsyncRead + Unpin>(
        &self,
        sql: &str,
        client: &mut PacketReader<S>,
    ) -> Result<Decided, MyError> {
        let runs = named::executed_name(sql).and_then(|name| {
            let inner = self.named().get(&name)?;
            Some((name, inner))
        });
        let facts = match self.precheck(sql, runs.as_ref().map(|(_, i)| &**i)).await {
            Ok(facts) => facts,
            Err(err) => return Ok(Decided::Refuse(err)),
        };
        let raw = match &runs {
            Some((name, inner)) => named::shown(sql, name, inner),
            None => sql.to_owned(),
        };
        let action = self.action(&raw, Facts::Sql(facts));
        if runs.is_none() && self.only_prepares(sql) && self.would_hold(&action) {
            let detail = "PREPARE ... FROM of a statement the policies hold: the hold applies to each EXECUTE";
            return Ok(match self.prepared_for_later(&action, detail).await {
                Ok(()) => Decided::PrepareOnly,
                Err(err) => Decided::Refuse(err),
            });
        }
        self.admit(action, client).await
    }

    fn named(&self) -> std::sync::MutexGuard<'_, NamedStatements> {
        self.named.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether `sql` is nothing but plain `PREPARE name FROM '<literal>'` statements with
    /// names Warden follows (so that each later `EXECUTE` is decided as what it runs).
    fn only_prepares(&self, sql: &str) -> bool {
        if !named::contains(sql, "PREPARE") {
            return false;
        }
        let mode = self.mode();
        let effects = named::effects(sql, mode);
        let all_followed = !effects.is_empty()
            && effects
                .iter()
                .all(|e| matches!(e, named::Effect::Prepare { .. }));
        if !all_followed {
            return false;
        }
        let mut rest = sql.to_owned();
        for p in prepare_from::find(sql, mode).iter().rev() {
            rest.replace_range(p.span.clone(), " ");
        }
        let facts = self.gate.sql_facts(&rest, Dialect::Mysql);
        facts.statements.is_empty() && !facts.unparsed
    }

    /// Follows what a forwarded COM_QUERY text did to the named statements (`outcome`:
    /// its relayed outcome; an error means some statements may not have run).
    pub fn ran(&self, sql: &str, outcome: &Outcome) {
        let effects = named::effects(sql, self.mode());
        if !effects.is_empty() {
            self.named().apply(&effects, outcome.error.is_none());
        }
    }

    /// After a COM_STMT_EXECUTE of `prepared_sql`, or COM_RESET_CONNECTION (`None`):
    /// forgets every name when the statement may have prepared or dropped one.
    pub fn forget_names_if(&self, prepared_sql: Option<&str>) {
        if prepared_sql.is_none_or(|sql| !named::effects(sql, self.mode()).is_empty()) {
            self.named().clear();
        }
    }

    /// Whether the policies would hold `action` (evaluated only: nothing is recorded
    /// and no approval is requested).
    pub fn would_hold(&self, action: &Action) -> bool {
        let verdict = self.gate.policies().current().evaluate(action);
        verdict_summary(&verdict).decision == "hold"
    }

    /// Records that a statement whose executions need approval was prepared without one
    /// (COM_STMT_PREPARE, or a text of `PREPARE name FROM '...'`): preparing runs
    /// nothing, and every execute is decided (and held) as what it runs. `detail` says
    /// which.
    pub async fn prepared_for_later(&self, action: &Action, detail: &str) -> Result<(), ErrPacket> {
        let mut ev = action_event(EventKind::ActionDecided, action);
        ev.verdict = Some(VerdictSummary {
            decision: "allow".into(),
            rules: Vec::new(),
            dry_run: Vec::new(),
            message: Some("prepared only: each execution is decided with its bound values".into()),
        });
        ev.detail = Some(detail.to_owned());
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
