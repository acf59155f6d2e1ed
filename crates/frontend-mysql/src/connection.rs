//! One client connection end to end: greeting (and TLS, [`greet`](super::greet)), the
//! client's login, the initial
//! database (decided as `USE`), Warden's own login upstream, then the session. The
//! connection and authentication events are audited here.
//!
//! Every failure ends only this connection (with an ERR packet when the client can
//! still read one); nothing here may panic on client input.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use tokio::net::TcpStream;
use tokio::time::Instant;
use warden_audit::{Durability, EventKind};
use warden_gate::auth;
use warden_gate::frontend::FrontendContext;
use warden_inspect::Actor;

use super::decision::SessionInfo;
use super::errors::MyError;
use super::greet::{self, Ended, Greeted};
use super::handshake::{self, HandshakeResponse};
use super::lexing;
use super::login::{self, LoginContext};
use super::packet::{self, PacketReader};
use super::rsa_auth::RsaKeys;
use super::session::Session;
use super::sha2_auth::Sha2Cache;
use super::tls::{self, BoxIo};
use super::upstream::{self, SessionParams, UpstreamSpec};
use super::wire::{ok_payload, STATUS_AUTOCOMMIT};
use super::MysqlOptions;

/// Per-listener state shared by all connections.
pub struct Shared {
    pub upstream: UpstreamSpec,
    pub options: MysqlOptions,
    /// The target's `tls:` settings, for clients sending an SSLRequest.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// `caching_sha2_password` fast-path entries of this listener.
    pub sha2_cache: Sha2Cache,
    /// The RSA key for `caching_sha2_password` without TLS.
    pub rsa: Arc<RsaKeys>,
    next_connection_id: AtomicU32,
}

impl Shared {
    /// Fails when the target's TLS certificate or key, or its `upstream_tls:` files,
    /// cannot be loaded.
    pub fn new(ctx: &FrontendContext, rsa: Arc<RsaKeys>) -> std::io::Result<Shared> {
        let target = &ctx.target;
        let options = target.mysql.clone();
        let tls = target.tls.as_ref().map(tls::server_config).transpose()?;
        let upstream_tls = target
            .upstream_tls
            .as_ref()
            .map(|u| tls::client_config(u, &target.upstream))
            .transpose()?;
        Ok(Shared {
            upstream: UpstreamSpec {
                addr: target.upstream.clone(),
                user: target
                    .upstream_user
                    .clone()
                    .unwrap_or_else(|| "root".into()),
                password: target
                    .upstream_password
                    .as_ref()
                    .map(|s| s.expose().to_owned()),
                connect_timeout: options.connect_timeout(),
                tls: upstream_tls,
            },
            options,
            tls,
            sha2_cache: Sha2Cache::default(),
            rsa,
            next_connection_id: AtomicU32::new(1),
        })
    }
}

fn session_id() -> String {
    hex::encode(rand::random::<[u8; 8]>())
}

/// Handles one accepted connection; never returns an error (it is logged and audited).
pub async fn handle(tcp: TcpStream, peer: SocketAddr, ctx: FrontendContext, shared: Arc<Shared>) {
    let _ = tcp.set_nodelay(true);
    let session_id = session_id();
    let conn = Conn {
        peer,
        ctx: &ctx,
        shared: &shared,
        session_id: &session_id,
    };
    let deadline = Instant::now() + shared.options.startup_timeout();
    let challenge = handshake::challenge();
    let id = shared.next_connection_id.fetch_add(1, Ordering::Relaxed);
    let greeted = greet::greet(tcp, id, &challenge, shared.tls.as_ref(), deadline).await;
    let greeted = match greeted {
        Ok(g) => g,
        Err(Ended::Left) => return,
        Err(Ended::Refused(e)) => {
            tracing::debug!(%peer, error = %e, "mysql connection refused");
            conn.closed().await;
            return;
        }
    };
    let mut greeted = greeted;
    let opened = tokio::time::timeout_at(deadline, conn.open(&mut greeted, &challenge)).await;
    let (mut client, seq) = (greeted.client, greeted.seq);
    let opened = match opened {
        Ok(Ok(o)) => o,
        Ok(Err((e, seq))) => {
            tracing::debug!(%peer, error = %e, "mysql connection refused");
            let _ = packet::send(client.get_mut(), seq, &e.err_packet().payload()).await;
            conn.closed().await;
            return;
        }
        Err(_) => {
            let e = MyError::Timeout("handshake and login");
            let _ = packet::send(client.get_mut(), seq, &e.err_packet().payload()).await;
            conn.closed().await;
            return;
        }
    };
    client.set_max(shared.options.max_packet_bytes);
    let upstream_reader = opened.upstream;
    let mut session = Session::new(&opened.info, client, upstream_reader);
    if let Err(e) = session.run().await {
        tracing::debug!(%peer, session = %session_id, error = %e, "session ended with error");
        if !matches!(e, MyError::Io(_)) {
            session.fatal(&e.err_packet()).await;
        }
    }
    conn.closed().await;
}

/// What a successful opening hands to the session.
struct Opened {
    info: SessionInfo,
    upstream: PacketReader<BoxIo>,
}

/// An error and the sequence id its ERR packet must carry.
type Refused = (MyError, u8);

struct Conn<'a> {
    peer: SocketAddr,
    ctx: &'a FrontendContext,
    shared: &'a Shared,
    session_id: &'a str,
}

impl Conn<'_> {
    async fn closed(&self) {
        let ev = self
            .ctx
            .session_event(EventKind::ConnectionClosed, self.session_id, None, None);
        self.ctx.record(ev, Durability::Queued).await;
    }

    fn audit_unavailable() -> MyError {
        MyError::Unsupported("Warden cannot write its audit log".into())
    }

    /// Login, initial database, upstream login, OK.
    async fn open(&self, g: &mut Greeted, challenge: &[u8; 20]) -> Result<Opened, Refused> {
        let (actor, seq) = self.admit(g, challenge).await?;
        let (client, response) = (&mut g.client, &g.response);
        let info = SessionInfo {
            gate: self.ctx.gate.clone(),
            actor,
            target: self.ctx.target.target_ref(),
            session_id: self.session_id.to_owned(),
            shutdown: self.ctx.shutdown.clone(),
            mode: Default::default(),
            named: Default::default(),
        };
        let database = match &self.shared.options.database {
            Some(forced) => Some(forced.clone()),
            None => self.initial_database(&info, client, response, seq).await?,
        };
        let params = SessionParams {
            client_capabilities: response.capabilities,
            collation: response.collation,
            database: database.as_deref(),
        };
        let mut up = upstream::connect(&self.shared.upstream, params)
            .await
            .map_err(|e| {
                tracing::warn!(target = %self.ctx.target.name, error = %e, "upstream login failed");
                (e, seq)
            })?;
        let state = upstream::session_state(&mut up.reader)
            .await
            .map_err(|e| (e, seq))?;
        info.track(&state).map_err(|e| (e, seq))?;
        packet::send(client.get_mut(), seq, &ok_payload(STATUS_AUTOCOMMIT))
            .await
            .map_err(|e| (e, seq))?;
        Ok(Opened {
            info,
            upstream: up.reader,
        })
    }

    /// Audits the connection, logs the client in and audits the result.
    async fn admit(&self, g: &mut Greeted, challenge: &[u8; 20]) -> Result<(Actor, u8), Refused> {
        let (client, response, seq, tls) = (&mut g.client, &g.response, g.seq, g.tls);
        let ctx = self.ctx;
        let opened = Actor {
            name: response.user.clone(),
            roles: vec![],
            client_addr: Some(self.peer.to_string()),
            alerts: Vec::new(),
        };
        let detail = format!(
            "tls={tls} database={}",
            response.database.as_deref().unwrap_or("-")
        );
        let ev = ctx.session_event(
            EventKind::ConnectionOpened,
            self.session_id,
            Some(opened),
            Some(detail),
        );
        if !ctx.record(ev, Durability::Queued).await {
            return Err((Self::audit_unavailable(), seq));
        }
        if lexing::unsafe_collation(response.collation) {
            return Err((
                MyError::Unsupported(
                    "this connection character set (big5, sjis, gbk, cp932, gb18030, ...) cannot be inspected safely; use utf8mb4".into(),
                ),
                seq,
            ));
        }
        let cx = LoginContext {
            users: &ctx.users,
            throttle: &ctx.throttle,
            ip: Some(self.peer.ip()),
            tls,
            sha2_cache: &self.shared.sha2_cache,
            challenge,
            rsa: &self.shared.rsa,
        };
        let result = login::login(client, response, seq, &cx).await;
        let (mut actor, seq, method) = match result {
            Ok(ok) => (ok.actor, ok.seq, ok.method),
            Err(failure) => {
                let who =
                    auth::attempt_actor(&ctx.users, &response.user, Some(self.peer.to_string()));
                let ev = ctx.session_event(
                    EventKind::AuthFailed,
                    self.session_id,
                    Some(who),
                    Some(auth::failure_detail(failure.method, &failure.audit_reason)),
                );
                ctx.record(ev, Durability::Durable).await;
                return Err((failure.client, failure.seq));
            }
        };
        actor.client_addr = Some(self.peer.to_string());
        let ev = ctx.session_event(
            EventKind::Authenticated,
            self.session_id,
            Some(actor.clone()),
            Some(auth::success_detail(method)),
        );
        if !ctx.record(ev, Durability::Queued).await {
            return Err((Self::audit_unavailable(), seq));
        }
        Ok((actor, seq))
    }

    /// The database the client asked for at login, decided as `USE`; a refusal ends
    /// the connection with the refusal's ERR.
    async fn initial_database(
        &self,
        info: &SessionInfo,
        client: &mut PacketReader<BoxIo>,
        response: &HandshakeResponse,
        seq: u8,
    ) -> Result<Option<String>, Refused> {
        let Some(db) = response.database.clone() else {
            return Ok(None);
        };
        let sql = format!("USE `{}`", db.replace('`', "``"));
        let decided = info.decide(&sql, client).await.map_err(|e| (e, seq))?;
        let ticket = decided
            .ticket()
            .map_err(|err| (MyError::Refused(err), seq))?;
        ticket.complete(warden_audit::Outcome {
            status: Some("OK (at login)".into()),
            ..Default::default()
        });
        Ok(Some(db))
    }
}
