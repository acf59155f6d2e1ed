//! The command loop of one logged-in session: each client command is read whole
//! (bounded), classified, decided when it carries SQL, then forwarded and its response
//! relayed — or answered with an ERR while the session stays usable.
//!
//! * COM_QUERY: the whole text (every statement of a multi-statement string, executable
//!   comments expanded by the inspector) is one Action and one decision, as in the
//!   PostgreSQL front-end; any denied statement refuses the whole text.
//! * COM_STMT_PREPARE is decided on its text; only allowed statements reach the
//!   upstream, and only their ids may be executed ([`prepared`](super::prepared)). A
//!   statement the policies would hold is prepared without an approval (preparing runs
//!   nothing); the hold applies to each execute.
//! * COM_STMT_EXECUTE is decided as its own Action: the prepared text with the bound
//!   values written in ([`params`](super::params)) and the prepared text's facts; on
//!   approval exactly the execute packet the approvers saw is forwarded, once.
//!   An execute may open a cursor; COM_STMT_FETCH then only passes for ids Warden
//!   allowed (the rows belong to the execute that was decided).
//! * COM_INIT_DB is decided as `USE \`db\``.
//! * After a statement that may change `sql_mode` or the character set (and after
//!   COM_RESET_CONNECTION) both are read back from the upstream session, so that the
//!   next statement is lexed the way the server will read it.
//!
//! Must never forward a statement before its verdict, never forward refused text, and
//! never forward an execute, fetch, reset or long-data packet for an id Warden did not
//! allow.

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use warden_audit::Outcome;
use warden_inspect::Facts;

use super::command::{self, Command};
use super::decision::{Decided, SessionInfo};
use super::errors::MyError;
use super::lexing;
use super::packet::{self, Packet, PacketReader};
use super::params as bound;
use super::prepared::{abandon, finish, Prepared, PreparedStatements};
use super::relay::{self, Expect};
use super::upstream;
use super::wire::ErrPacket;

/// One session: the client and upstream connections and the prepared statements.
pub struct Session<'a, C, U> {
    pub info: &'a SessionInfo,
    pub client: PacketReader<C>,
    pub upstream: PacketReader<U>,
    statements: PreparedStatements,
    /// Reused for every packet written to either side (empty between writes).
    out: BytesMut,
}

impl<'a, C, U> Session<'a, C, U>
where
    C: AsyncRead + AsyncWrite + Unpin,
    U: AsyncRead + AsyncWrite + Unpin,
{
    pub fn new(info: &'a SessionInfo, client: PacketReader<C>, upstream: PacketReader<U>) -> Self {
        Session {
            info,
            client,
            upstream,
            statements: PreparedStatements::default(),
            out: BytesMut::new(),
        }
    }

    /// Runs until the client quits or disconnects; an error ends only this session.
    pub async fn run(&mut self) -> Result<(), MyError> {
        let result = self.pump().await;
        self.statements.clear();
        result
    }

    async fn pump(&mut self) -> Result<(), MyError> {
        // one registration with the shutdown token for the whole session
        let info = self.info;
        let shutdown = info.shutdown.cancelled();
        tokio::pin!(shutdown);
        loop {
            let packet = tokio::select! {
                biased;
                _ = &mut shutdown => {
                    let err = ErrPacket::new(1053, "08S01", "Warden is shutting down");
                    let _ = packet::send(self.client.get_mut(), 1, &err.payload()).await;
                    return Ok(());
                }
                p = self.client.read_packet(0) => p?,
            };
            let Some(packet) = packet else { return Ok(()) };
            let reply_seq = packet.last_seq.wrapping_add(1);
            match command::classify(&packet.payload)? {
                Command::Quit => {
                    self.forward(&packet).await?;
                    return Ok(());
                }
                Command::Query(sql) => self.decided(&packet, &sql, Expect::Results).await?,
                Command::Prepare(sql) => self.prepare(&packet, &sql).await?,
                Command::InitDb(db) => {
                    let sql = format!("USE `{}`", db.replace('`', "``"));
                    self.decided(&packet, &sql, Expect::One).await?;
                }
                Command::Execute { id, .. } => self.execute(&packet, id).await?,
                Command::Fetch { id } => {
                    if self.statements.get_mut(id).is_some() {
                        self.forward(&packet).await?;
                        self.relay(Expect::Fetch).await?;
                    } else {
                        self.unknown_statement(id, reply_seq).await?;
                    }
                }
                Command::LongData { id, param } => {
                    if let Some(stmt) = self.statements.get_mut(id) {
                        stmt.params
                            .long_data(param, packet.payload.get(7..).unwrap_or_default());
                        self.forward(&packet).await?;
                    }
                }
                Command::Close { id } => {
                    self.statements.close(id);
                    self.forward(&packet).await?;
                }
                Command::Reset { id } => {
                    if let Some(stmt) = self.statements.get_mut(id) {
                        stmt.params.long.clear();
                        self.forward(&packet).await?;
                        self.relay(Expect::One).await?;
                    } else {
                        self.unknown_statement(id, reply_seq).await?;
                    }
                }
                Command::PassOne(_) => {
                    self.forward(&packet).await?;
                    self.relay(Expect::One).await?;
                }
                Command::ResetConnection => {
                    self.statements.clear();
                    self.info.forget_names_if(None);
                    self.forward(&packet).await?;
                    self.relay(Expect::One).await?;
                    self.reread().await?;
                }
                Command::Refused { name, why } => {
                    let err = self.info.refuse_audited(name, Facts::None, &why).await;
                    self.reply_err(reply_seq, &err).await?;
                }
            }
        }
    }

    /// Forwards one client packet (re-framed from sequence id 0), in one write.
    async fn forward(&mut self, packet: &Packet) -> Result<(), MyError> {
        packet::send_with(self.upstream.get_mut(), &mut self.out, 0, &packet.payload).await?;
        Ok(())
    }

    async fn relay(&mut self, expect: Expect) -> Result<relay::Relayed, MyError> {
        relay::relay_with(
            &mut self.upstream,
            self.client.get_mut(),
            &mut self.out,
            expect,
        )
        .await
    }

    async fn reply_err(&mut self, seq: u8, err: &ErrPacket) -> Result<(), MyError> {
        packet::send_with(self.client.get_mut(), &mut self.out, seq, &err.payload()).await?;
        Ok(())
    }

    /// A command carrying SQL: decided, then forwarded and relayed, or refused.
    async fn decided(&mut self, packet: &Packet, sql: &str, expect: Expect) -> Result<(), MyError> {
        let reply_seq = packet.last_seq.wrapping_add(1);
        let ticket = match self.info.decide(sql, &mut self.client).await? {
            Decided::Forward(ticket) => Some(ticket),
            Decided::PrepareOnly => None,
            Decided::Refuse(err) => return self.reply_err(reply_seq, &err).await,
        };
        self.forward(packet).await?;
        let relayed = match self.relay(expect).await {
            Ok(r) => r,
            Err(e) => {
                self.info.forget_names_if(None);
                abandon(ticket);
                return Err(e);
            }
        };
        self.info.ran(sql, &relayed.outcome);
        if let Some(ticket) = ticket {
            finish(*ticket, relayed.outcome);
        }
        if lexing::changes_session(sql) {
            self.reread().await?;
        }
        Ok(())
    }

    /// Reads the upstream session's `sql_mode` and character set again after a
    /// statement that may have changed them ([`lexing::changes_session`]).
    async fn reread(&mut self) -> Result<(), MyError> {
        let state = upstream::session_state(&mut self.upstream).await?;
        self.info.track(&state)
    }

    /// COM_STMT_PREPARE: decided on its text, except that a statement the policies
    /// would hold is prepared without asking (its executes are held, with their values).
    async fn prepare(&mut self, packet: &Packet, sql: &str) -> Result<(), MyError> {
        let reply_seq = packet.last_seq.wrapping_add(1);
        let facts = match self.info.precheck(sql, None).await {
            Ok(facts) => facts,
            Err(err) => return self.reply_err(reply_seq, &err).await,
        };
        let action = self.info.action(sql, Facts::Sql(facts.clone()));
        let ticket = if self.info.would_hold(&action) {
            let detail = "COM_STMT_PREPARE of a statement the policies hold: the hold applies to each COM_STMT_EXECUTE";
            if let Err(err) = self.info.prepared_for_later(&action, detail).await {
                return self.reply_err(reply_seq, &err).await;
            }
            None
        } else {
            match self.info.admit(action, &mut self.client).await?.ticket() {
                Ok(ticket) => Some(ticket),
                Err(err) => return self.reply_err(reply_seq, &err).await,
            }
        };
        self.forward(packet).await?;
        let relayed = match self.relay(Expect::Prepare).await {
            Ok(r) => r,
            Err(e) => {
                abandon(ticket);
                return Err(e);
            }
        };
        if let Some(id) = relayed.statement_id {
            let prepared = Prepared::new(sql, facts, relayed.params);
            self.statements.insert(id, prepared);
        }
        if let Some(ticket) = ticket {
            finish(*ticket, relayed.outcome);
        }
        Ok(())
    }

    async fn execute(&mut self, packet: &Packet, id: u32) -> Result<(), MyError> {
        let reply_seq = packet.last_seq.wrapping_add(1);
        let Some(stmt) = self.statements.get_mut(id) else {
            return self.unknown_statement(id, reply_seq).await;
        };
        let values = stmt.params.read(&packet.payload);
        let (sql, facts) = (stmt.sql.clone(), stmt.facts.clone());
        let (changes_session, binds_names) = (stmt.changes_session, stmt.binds_names);
        let values = match values {
            Ok(v) => v,
            Err(e) => {
                let why = format!("the bound values of this execute cannot be read ({e})");
                let err = self
                    .info
                    .refuse_audited(&sql, Facts::Sql(facts), &why)
                    .await;
                return self.reply_err(reply_seq, &err).await;
            }
        };
        let raw = bound::with_values(&sql, &values);
        let action = self.info.action(&raw, Facts::Sql(facts));
        let ticket = match self.info.admit(action, &mut self.client).await?.ticket() {
            Ok(ticket) => ticket,
            Err(err) => return self.reply_err(reply_seq, &err).await,
        };
        self.forward(packet).await?;
        if binds_names {
            self.info.forget_names_if(Some(&sql));
        }
        if let Some(stmt) = self.statements.get_mut(id) {
            stmt.params.executed();
        }
        match self.relay(Expect::Results).await {
            Ok(relayed) => {
                finish(*ticket, relayed.outcome);
                if changes_session {
                    self.reread().await?;
                }
                Ok(())
            }
            Err(e) => {
                let outcome = Outcome {
                    error: Some(e.to_string()),
                    ..Outcome::default()
                };
                finish(*ticket, outcome);
                Err(e)
            }
        }
    }

    /// ERR 1243 for a statement id Warden never allowed (audited).
    async fn unknown_statement(&mut self, id: u32, seq: u8) -> Result<(), MyError> {
        let why = format!(
            "unknown prepared statement id {id}: only statements Warden decided may be executed"
        );
        self.info
            .refuse_audited("COM_STMT_EXECUTE", Facts::None, &why)
            .await;
        let err = ErrPacket::new(1243, "HY000", format!("Warden: {why}"));
        self.reply_err(seq, &err).await
    }

    /// Best-effort ERR to the client before the connection closes.
    pub async fn fatal(&mut self, err: &ErrPacket) {
        let mut out = BytesMut::new();
        packet::encode(&mut out, 1, &err.payload());
        let io = self.client.get_mut();
        let _ = io.write_all(&out).await;
        let _ = io.flush().await;
    }
}
