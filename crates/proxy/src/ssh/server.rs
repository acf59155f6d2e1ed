//! The russh server towards clients: Warden's host key, login as a Warden user (public
//! key from the user's authorized keys, or password with throttling), and the channel
//! requests, each handed to [`super::exec`] or refused here.
//!
//! Must never accept a channel before authentication, never grant forwarding (decided
//! and audited, then refused: Warden does not relay forwarded ports), and never tell the
//! client whether a user name exists.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rand::RngCore;
use russh::keys::{PrivateKey, PublicKey};
use russh::server::{Auth, Config, Msg, Session};
use russh::{Channel, ChannelId, MethodKind, MethodSet};
use tokio::net::TcpStream;
use warden_audit::{Durability, EventKind};
use warden_inspect::shell::SshFacts;
use warden_inspect::{Action, Actor, Facts, Protocol};

use super::events::{event, record};
use super::exec::{self, Request};
use super::shell::PtySpec;
use crate::frontend::FrontendContext;
use crate::gate::Admission;

/// Per-target state shared by its connections.
pub struct Shared {
    config: Arc<Config>,
}

impl Shared {
    pub fn new(key: PrivateKey, _ctx: &FrontendContext) -> Shared {
        let config = Config {
            keys: vec![key],
            methods: methods(),
            auth_rejection_time: Duration::from_millis(300),
            auth_rejection_time_initial: Some(Duration::ZERO),
            max_auth_attempts: 6,
            inactivity_timeout: Some(Duration::from_secs(3600)),
            ..Config::default()
        };
        Shared {
            config: Arc::new(config),
        }
    }
}

fn methods() -> MethodSet {
    MethodSet::from(&[MethodKind::PublicKey, MethodKind::Password][..])
}

fn reject() -> Auth {
    Auth::Reject {
        proceed_with_methods: Some(methods()),
        partial_success: false,
    }
}

/// One client connection.
pub async fn handle(tcp: TcpStream, peer: SocketAddr, ctx: FrontendContext, shared: Arc<Shared>) {
    let _ = tcp.set_nodelay(true);
    let session = random_hex(8);
    let opened = event(
        EventKind::ConnectionOpened,
        &ctx,
        &session,
        None,
        Some(peer.to_string()),
    );
    if !record(&ctx, opened, Durability::Queued).await {
        return;
    }
    let conn = Conn {
        ctx: ctx.clone(),
        peer,
        session: session.clone(),
        actor: None,
        channels: HashMap::new(),
        ptys: HashMap::new(),
    };
    match russh::server::run_stream(Arc::clone(&shared.config), tcp, conn).await {
        Ok(running) => {
            tokio::select! {
                r = running => {
                    if let Err(e) = r {
                        tracing::debug!(%peer, %session, error = %e, "ssh session ended with error");
                    }
                }
                _ = ctx.shutdown.cancelled() => {}
            }
        }
        Err(e) => tracing::debug!(%peer, error = %e, "ssh handshake failed"),
    }
    let closed = event(EventKind::ConnectionClosed, &ctx, &session, None, None);
    record(&ctx, closed, Durability::Queued).await;
}

fn random_hex(bytes: usize) -> String {
    let mut raw = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut raw);
    hex::encode(raw)
}

struct Conn {
    ctx: FrontendContext,
    peer: SocketAddr,
    session: String,
    actor: Option<Actor>,
    channels: HashMap<ChannelId, Channel<Msg>>,
    ptys: HashMap<ChannelId, PtySpec>,
}

impl Conn {
    fn attempt_actor(&self, user: &str) -> Actor {
        Actor {
            name: user.to_owned(),
            roles: vec![],
            client_addr: Some(self.peer.to_string()),
        }
    }

    async fn failed(&self, user: &str, reason: String) {
        let ev = event(
            EventKind::AuthFailed,
            &self.ctx,
            &self.session,
            Some(self.attempt_actor(user)),
            Some(reason),
        );
        record(&self.ctx, ev, Durability::Durable).await;
    }

    /// Audit the login and remember the actor; `false` (refuse) when it cannot be audited.
    async fn succeeded(&mut self, user: &str, method: &str) -> bool {
        let Some(known) = self.ctx.users.user(user) else {
            return false;
        };
        let mut actor = known.actor();
        actor.client_addr = Some(self.peer.to_string());
        let ev = event(
            EventKind::Authenticated,
            &self.ctx,
            &self.session,
            Some(actor.clone()),
            Some(format!("method={method}")),
        );
        if !record(&self.ctx, ev, Durability::Durable).await {
            return false;
        }
        self.ctx.throttle.success(user);
        self.actor = Some(actor);
        true
    }

    fn key_authorized(&self, user: &str, key: &PublicKey) -> bool {
        key.to_openssh()
            .map(|line| self.ctx.users.authorized_key(user, &line))
            .unwrap_or(false)
    }

    /// Decide and audit a forwarding request; Warden never relays forwarded traffic, so
    /// the answer is always a refusal (with the verdict in the audit log).
    async fn forwarding(&self, raw: String) -> bool {
        let Some(actor) = &self.actor else {
            return false;
        };
        let action = Action {
            protocol: Protocol::Ssh,
            user: actor.clone(),
            target: self.ctx.target.target_ref(),
            session: Some(self.session.clone()),
            raw,
            facts: Facts::Ssh(SshFacts::forwarding()),
        };
        match self.ctx.gate.decide(action).await {
            Admission::Allow(t) => {
                t.completed(warden_audit::Outcome {
                    error: Some("forwarding is not relayed by Warden".into()),
                    ..Default::default()
                })
                .await;
            }
            Admission::Deny(_) | Admission::Hold(_) => {}
        }
        false
    }

    fn spawn(
        &mut self,
        channel: ChannelId,
        req: Request,
        session: &mut Session,
    ) -> Result<(), russh::Error> {
        let (Some(actor), Some(chan)) = (self.actor.clone(), self.channels.remove(&channel)) else {
            return session.channel_failure(channel);
        };
        session.channel_success(channel)?;
        let ctx = self.ctx.clone();
        let sid = self.session.clone();
        self.ctx
            .tracker
            .spawn(exec::run(chan, req, ctx, actor, sid));
        Ok(())
    }
}

impl russh::server::Handler for Conn {
    type Error = russh::Error;

    async fn auth_none(&mut self, _user: &str) -> Result<Auth, Self::Error> {
        Ok(reject())
    }

    async fn auth_password(&mut self, user: &str, password: &str) -> Result<Auth, Self::Error> {
        let ip = Some(self.peer.ip());
        if let Err(t) = self.ctx.throttle.check(user, ip) {
            self.failed(user, format!("throttled ({}s)", t.retry_after.as_secs()))
                .await;
            return Ok(reject());
        }
        match self.ctx.users.authenticate(user, password).await {
            Ok(_) => {
                if self.succeeded(user, "password").await {
                    Ok(Auth::Accept)
                } else {
                    Ok(reject())
                }
            }
            Err(e) => {
                let known = self.ctx.users.user(user).is_some();
                let delay = self.ctx.throttle.failure(user, ip);
                self.failed(user, e.audit_reason(known)).await;
                tokio::time::sleep(delay.min(Duration::from_secs(5))).await;
                Ok(reject())
            }
        }
    }

    async fn auth_publickey_offered(
        &mut self,
        user: &str,
        key: &PublicKey,
    ) -> Result<Auth, Self::Error> {
        if self.key_authorized(user, key) {
            Ok(Auth::Accept)
        } else {
            Ok(reject())
        }
    }

    async fn auth_publickey(&mut self, user: &str, key: &PublicKey) -> Result<Auth, Self::Error> {
        let ip = Some(self.peer.ip());
        if let Err(t) = self.ctx.throttle.check(user, ip) {
            self.failed(user, format!("throttled ({}s)", t.retry_after.as_secs()))
                .await;
            return Ok(reject());
        }
        if !self.key_authorized(user, key) {
            self.failed(user, "public key not authorized".into()).await;
            return Ok(reject());
        }
        if self.succeeded(user, "publickey").await {
            Ok(Auth::Accept)
        } else {
            Ok(reject())
        }
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        _session: &mut Session,
    ) -> Result<bool, Self::Error> {
        if self.actor.is_none() {
            return Ok(false);
        }
        self.channels.insert(channel.id(), channel);
        Ok(true)
    }

    async fn channel_close(
        &mut self,
        channel: ChannelId,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.channels.remove(&channel);
        self.ptys.remove(&channel);
        Ok(())
    }

    async fn exec_request(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        match String::from_utf8(data.to_vec()) {
            Ok(cmd) => self.spawn(channel, Request::Exec(cmd), session),
            Err(_) => {
                // Not decidable as text: refuse rather than forward bytes we did not read.
                session.channel_failure(channel)
            }
        }
    }

    async fn subsystem_request(
        &mut self,
        channel: ChannelId,
        name: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.spawn(channel, Request::Subsystem(name.to_owned()), session)
    }

    async fn shell_request(
        &mut self,
        channel: ChannelId,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        let pty = self.ptys.remove(&channel).unwrap_or_default();
        self.spawn(channel, Request::Shell(pty), session)
    }

    #[allow(clippy::too_many_arguments)]
    async fn pty_request(
        &mut self,
        channel: ChannelId,
        term: &str,
        col_width: u32,
        row_height: u32,
        _pix_width: u32,
        _pix_height: u32,
        modes: &[(russh::Pty, u32)],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        if !self.channels.contains_key(&channel) {
            return session.channel_failure(channel);
        }
        self.ptys.insert(
            channel,
            PtySpec {
                term: term.chars().take(64).collect(),
                cols: col_width.min(10_000),
                rows: row_height.min(10_000),
                modes: modes.to_vec(),
            },
        );
        session.channel_success(channel)
    }

    async fn channel_open_direct_tcpip(
        &mut self,
        _channel: Channel<Msg>,
        host: &str,
        port: u32,
        _originator_address: &str,
        _originator_port: u32,
        _session: &mut Session,
    ) -> Result<bool, Self::Error> {
        Ok(self.forwarding(format!("direct-tcpip {host}:{port}")).await)
    }

    async fn channel_open_direct_streamlocal(
        &mut self,
        _channel: Channel<Msg>,
        path: &str,
        _session: &mut Session,
    ) -> Result<bool, Self::Error> {
        Ok(self.forwarding(format!("direct-streamlocal {path}")).await)
    }

    async fn tcpip_forward(
        &mut self,
        address: &str,
        port: &mut u32,
        _session: &mut Session,
    ) -> Result<bool, Self::Error> {
        Ok(self
            .forwarding(format!("tcpip-forward {address}:{port}"))
            .await)
    }

    async fn streamlocal_forward(
        &mut self,
        path: &str,
        _session: &mut Session,
    ) -> Result<bool, Self::Error> {
        Ok(self.forwarding(format!("streamlocal-forward {path}")).await)
    }

    async fn agent_request(
        &mut self,
        _channel: ChannelId,
        _session: &mut Session,
    ) -> Result<bool, Self::Error> {
        Ok(self.forwarding("agent forwarding".into()).await)
    }

    async fn x11_request(
        &mut self,
        channel: ChannelId,
        _single_connection: bool,
        _protocol: &str,
        _cookie: &str,
        _screen: u32,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.forwarding("x11 forwarding".into()).await;
        session.channel_failure(channel)
    }
}
