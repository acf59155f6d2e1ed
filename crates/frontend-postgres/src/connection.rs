//! One client connection end to end: startup, login, upstream login, then the two
//! directions of the session until either side ends. Connection and authentication
//! events are audited here.
//!
//! Every failure ends only this connection (with a FATAL report when the client can
//! still read one); nothing here may panic on client input.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use bytes::BytesMut;
use rand::RngCore;
use tokio::io::{AsyncWrite, AsyncWriteExt, BufWriter};
use tokio::net::TcpStream;
use tokio::sync::Mutex;
use warden_audit::{Durability, EventKind};
use warden_inspect::Actor;

use super::cancel::{CancelRegistry, KeyGuard, UpstreamKey};
use super::codec::{self, FrameReader, Report};
use super::errors::PgError;
use super::login::{self, LoginFailure};
use super::relay::{self, ClientOut, Tracker};
use super::session::{self, Session, SessionInfo};
use super::startup::{self, Opening};
use super::upstream::{self, BoxIo, Upstream, UpstreamSpec};
use super::{tls, PostgresOptions};
use warden_gate::auth;
use warden_gate::frontend::FrontendContext;

/// Startup parameters passed through to the upstream. Everything else (notably
/// `options`, which can set arbitrary server settings, and `replication`) is dropped.
const PASS_THROUGH: &[&str] = &[
    "application_name",
    "client_encoding",
    "DateStyle",
    "TimeZone",
    "IntervalStyle",
    "extra_float_digits",
];

/// Per-listener state shared by all connections.
pub struct Shared {
    pub tls: Option<Arc<rustls::ServerConfig>>,
    pub upstream: UpstreamSpec,
    pub cancels: CancelRegistry,
    pub options: PostgresOptions,
}

impl Shared {
    pub fn new(ctx: &FrontendContext) -> std::io::Result<Shared> {
        let target = &ctx.target;
        let options = target.postgres.clone();
        let tls = target.tls.as_ref().map(tls::server_config).transpose()?;
        let upstream_tls = target
            .upstream_tls
            .as_ref()
            .map(|t| tls::client_config(t, &target.upstream))
            .transpose()?;
        let upstream = UpstreamSpec {
            addr: target.upstream.clone(),
            user: target
                .upstream_user
                .clone()
                .unwrap_or_else(|| "postgres".into()),
            password: target
                .upstream_password
                .as_ref()
                .map(|s| s.expose().to_owned()),
            database: options.database.clone(),
            tls: upstream_tls,
            connect_timeout: options.connect_timeout(),
        };
        Ok(Shared {
            tls,
            upstream,
            cancels: CancelRegistry::default(),
            options,
        })
    }
}

async fn send_fatal<W: AsyncWrite + Unpin>(io: &mut W, report: Report) {
    let mut out = BytesMut::new();
    report.encode_error(&mut out);
    let _ = io.write_all(&out).await;
    let _ = io.flush().await;
}

fn random_hex(bytes: usize) -> String {
    let mut raw = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut raw);
    hex::encode(raw)
}

/// Handles one accepted connection; never returns an error (it is logged and audited).
pub async fn handle(tcp: TcpStream, peer: SocketAddr, ctx: FrontendContext, shared: Arc<Shared>) {
    let _ = tcp.set_nodelay(true);
    let opening = tokio::time::timeout(
        shared.options.startup_timeout(),
        startup::open(tcp, shared.tls.as_ref(), shared.options.max_message_bytes),
    )
    .await;
    let opening = match opening {
        Ok(Ok(o)) => o,
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "startup failed");
            return;
        }
        Err(_) => return,
    };
    match opening {
        Opening::Closed => {}
        Opening::Cancel { pid, secret } => {
            if let Some(key) = shared.cancels.lookup(pid, &secret) {
                if let Err(e) = upstream::cancel(&shared.upstream, key.pid, &key.secret).await {
                    tracing::warn!(%peer, error = %e, "forwarding cancel failed");
                }
            }
        }
        Opening::Startup(startup) => {
            let session_id = random_hex(8);
            if let Err(e) = run(startup, peer, &ctx, &shared, &session_id).await {
                tracing::debug!(%peer, session = %session_id, error = %e, "session ended with error");
            }
            let ev = ctx.session_event(EventKind::ConnectionClosed, &session_id, None, None);
            ctx.record(ev, Durability::Queued).await;
        }
    }
}

async fn run(
    mut startup: startup::Startup,
    peer: SocketAddr,
    ctx: &FrontendContext,
    shared: &Shared,
    session_id: &str,
) -> Result<(), PgError> {
    let user = startup.param("user").unwrap_or_default().to_owned();
    let database = startup.param("database").unwrap_or(&user).to_owned();
    let conn = Conn {
        peer,
        ctx,
        shared,
        session_id,
    };
    let Some(actor) = conn.admit(&mut startup, &user, &database).await else {
        return Ok(());
    };
    let up = conn.connect_upstream(&mut startup, &database).await?;
    let key = conn.greet(&mut startup, &up).await?;
    let result = conn.serve_session(startup, up, actor).await;
    drop(key);
    result
}

/// One connection's fixed facts, shared by its steps.
struct Conn<'a> {
    peer: SocketAddr,
    ctx: &'a FrontendContext,
    shared: &'a Shared,
    session_id: &'a str,
}

impl Conn<'_> {
    /// Audit the connection, refuse replication, log the client in (bounded by the
    /// startup timeout) and audit the result. `None` when the connection must end (the
    /// client has been told why).
    async fn admit(
        &self,
        startup: &mut startup::Startup,
        user: &str,
        database: &str,
    ) -> Option<Actor> {
        let ctx = self.ctx;
        let opened = Actor {
            name: user.to_owned(),
            roles: vec![],
            client_addr: Some(self.peer.to_string()),
            alerts: Vec::new(),
        };
        let detail = format!("tls={} database={database}", startup.tls);
        let ev = ctx.session_event(
            EventKind::ConnectionOpened,
            self.session_id,
            Some(opened),
            Some(detail),
        );
        if !ctx.record(ev, Durability::Queued).await {
            send_fatal(startup.reader.get_mut(), audit_unavailable()).await;
            return None;
        }
        if startup.params.iter().any(|(k, _)| k == "replication") {
            let report = Report::fatal(
                "28000",
                "replication connections are not allowed through Warden",
            );
            send_fatal(startup.reader.get_mut(), report).await;
            return None;
        }
        let login::LoggedIn {
            mut actor,
            method,
            token,
        } = match self.login(startup, user).await {
            Ok(ok) => ok,
            Err(failure) => {
                let who = auth::attempt_actor(&ctx.users, user, Some(self.peer.to_string()));
                let ev = ctx.session_event(
                    EventKind::AuthFailed,
                    self.session_id,
                    Some(who),
                    Some(auth::failure_detail(failure.method, &failure.audit_reason)),
                );
                ctx.record(ev, Durability::Durable).await;
                send_fatal(startup.reader.get_mut(), failure.client.report()).await;
                return None;
            }
        };
        actor.client_addr = Some(self.peer.to_string());
        let ev = ctx.session_event(
            EventKind::Authenticated,
            self.session_id,
            Some(actor.clone()),
            Some(match &token {
                Some(id) => auth::token_detail(id),
                None => auth::success_detail(method),
            }),
        );
        if !ctx.record(ev, Durability::Queued).await {
            send_fatal(startup.reader.get_mut(), audit_unavailable()).await;
            return None;
        }
        Some(actor)
    }

    /// The client's login against Warden's users, bounded by the startup timeout.
    async fn login(
        &self,
        startup: &mut startup::Startup,
        user: &str,
    ) -> Result<login::LoggedIn, LoginFailure> {
        let ctx = self.ctx;
        let method = if ctx.users.scram_verifier(user).is_none() && startup.tls {
            auth::LoginMethod::Password
        } else {
            auth::LoginMethod::Scram
        };
        let login = login::login(
            &mut startup.reader,
            user,
            startup.tls,
            &ctx.users,
            &ctx.throttle,
            Some(self.peer.ip()),
        );
        tokio::time::timeout(self.shared.options.startup_timeout(), login)
            .await
            .unwrap_or_else(|_| {
                Err(LoginFailure {
                    audit_reason: "authentication timed out".into(),
                    client: PgError::Timeout("authentication"),
                    method,
                })
            })
    }

    /// Warden's own login upstream, with the startup parameters that may pass.
    async fn connect_upstream(
        &self,
        startup: &mut startup::Startup,
        database: &str,
    ) -> Result<Upstream, PgError> {
        let extra: Vec<(String, String)> = startup
            .params
            .iter()
            .filter(|(k, _)| PASS_THROUGH.contains(&k.as_str()))
            .cloned()
            .collect();
        let shared = self.shared;
        match upstream::connect(
            &shared.upstream,
            database,
            &extra,
            shared.options.max_message_bytes,
        )
        .await
        {
            Ok(up) => Ok(up),
            Err(e) => {
                tracing::warn!(target = %self.ctx.target.name, error = %e, "upstream login failed");
                send_fatal(startup.reader.get_mut(), e.report()).await;
                Err(e)
            }
        }
    }

    /// Tell the client it is in: AuthenticationOk, the upstream's parameters, a cancel
    /// key with the upstream's backend pid and a secret of Warden's own (the upstream's
    /// secret stays here, see `cancel.rs`), ReadyForQuery.
    async fn greet(
        &self,
        startup: &mut startup::Startup,
        up: &Upstream,
    ) -> Result<Option<KeyGuard>, PgError> {
        let secret_len = if startup.minor >= 2 { 32 } else { 4 };
        let upstream_key = up
            .key
            .clone()
            .map(|(pid, secret)| UpstreamKey { pid, secret });
        let key = upstream_key.map(|k| self.shared.cancels.issue(k, secret_len));
        let mut hello = BytesMut::new();
        codec::auth_ok(&mut hello);
        for p in &up.params {
            p.encode(&mut hello);
        }
        if let Some(key) = &key {
            codec::backend_key_data(&mut hello, key.pid, &key.secret);
        }
        up.ready.encode(&mut hello);
        let client_io = startup.reader.get_mut();
        client_io.write_all(&hello).await?;
        client_io.flush().await?;
        Ok(key)
    }

    /// Both directions until either side ends: the session decides client messages,
    /// the relay streams the upstream's answers back.
    async fn serve_session(
        &self,
        startup: startup::Startup,
        up: Upstream,
        actor: Actor,
    ) -> Result<(), PgError> {
        let (client_stream, client_buf) = startup.reader.into_parts();
        let (client_read, client_write) = tokio::io::split(client_stream);
        let (up_stream, up_buf) = up.reader.into_parts();
        if !up_buf.is_empty() {
            return Err(PgError::Upstream(
                "unexpected data after ReadyForQuery".into(),
            ));
        }
        let (up_read, up_write) = tokio::io::split::<BoxIo>(up_stream);
        let client_out: ClientOut = Arc::new(Mutex::new(BufWriter::with_capacity(
            64 * 1024,
            Box::new(client_write) as Box<dyn AsyncWrite + Unpin + Send>,
        )));
        let mut tracker = Tracker::default();
        for p in &up.params {
            tracker.on_parameter(&p.body);
        }
        tracker.search_path = Some(up.search_path.clone());
        let tracker = Arc::new(StdMutex::new(tracker));
        let nonce = random_hex(6);
        let mut relay_task = tokio::spawn(relay::relay(
            up_read,
            Arc::clone(&client_out),
            Arc::clone(&tracker),
            nonce.clone(),
        ));
        let ctx = self.ctx;
        let info = SessionInfo {
            gate: ctx.gate.clone(),
            actor,
            target: ctx.target.target_ref(),
            session_id: self.session_id.to_owned(),
            // A child of the listener's token: the session polls it between messages, and
            // a clone would make every session lock the one shared token node to do so.
            shutdown: ctx.shutdown.child_token(),
        };
        let max = self.shared.options.max_message_bytes;
        let reader = FrameReader::from_parts(client_read, client_buf, max)
            .with_tag_check(session::is_client_message);
        let mut session = Session::new(
            &info,
            reader,
            BufWriter::with_capacity(64 * 1024, up_write),
            client_out,
            tracker,
            nonce,
        );
        // A JoinHandle must not be polled again once it has completed (tokio panics, and
        // the panic would skip the ConnectionClosed record): remember whether it did.
        let mut relay_done = false;
        let result = tokio::select! {
            r = session.run() => r,
            r = &mut relay_task => {
                relay_done = true;
                match r {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(e),
                    Err(_) => Err(PgError::Upstream("relay task failed".into())),
                }
            }
        };
        if let Err(e) = &result {
            if !matches!(e, PgError::Io(_)) {
                session.fatal(e.report()).await;
            }
        }
        session::terminate(&mut session.upstream).await;
        if !relay_done
            && tokio::time::timeout(Duration::from_secs(5), &mut relay_task)
                .await
                .is_err()
        {
            relay_task.abort();
        }
        result
    }
}

fn audit_unavailable() -> Report {
    Report::fatal("58000", "Warden cannot write its audit log")
}
