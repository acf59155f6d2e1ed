//! The russh server towards clients: Warden's host key, login as a Warden user (public
//! key from the user's authorized keys, or password with throttling), and the channel
//! requests, each handed to [`super::exec`] or refused here.
//!
//! Must never accept a channel before authentication, never grant forwarding that no
//! enforced rule explicitly allows (see [`super::forward`]), never relay agent, X11 or
//! streamlocal forwarding, and never tell the client whether a user name exists.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rand::RngCore;
use russh::keys::{PrivateKey, PublicKey};
use russh::server::{Auth, Config, Msg, Session};
use russh::{Channel, ChannelId, MethodKind, MethodSet};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use warden_audit::{Durability, EventKind};
use warden_inspect::shell::SshFacts;
use warden_inspect::{Action, Actor, Facts, Protocol};

use super::exec::{self, Request};
use super::forward;
use super::offers::{self, RefusedOffers};
use super::relay::WindowThrottle;
use super::remote::RemoteForwards;
use super::shell::PtySpec;
use warden_gate::auth::{self, LoginMethod};
use warden_gate::frontend::FrontendContext;
use warden_gate::{Admission, Ticket};

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
            channel_buffer_size: super::relay::CHANNEL_QUEUE,
            window_size: super::relay::CLIENT_WINDOW,
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
    let opened = ctx.session_event(
        EventKind::ConnectionOpened,
        &session,
        None,
        Some(peer.to_string()),
    );
    if !ctx.record(opened, Durability::Queued).await {
        return;
    }
    let windows = Arc::new(WindowThrottle::default());
    let remote = Arc::new(RemoteForwards::new(Arc::clone(&windows)));
    let refused = RefusedOffers::default();
    let conn = Conn {
        ctx: ctx.clone(),
        peer,
        session: session.clone(),
        actor: None,
        channels: HashMap::new(),
        ptys: HashMap::new(),
        relays: Arc::new(Semaphore::new(MAX_RELAYED_CHANNELS)),
        remote: Arc::clone(&remote),
        windows,
        refused: refused.clone(),
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
    remote.close_all().await;
    if let Some((user, reason)) = refused.summary() {
        let who = auth::attempt_actor(&ctx.users, &user, Some(peer.to_string()));
        let detail = auth::failure_detail(LoginMethod::PublicKey, &reason);
        let ev = ctx.session_event(EventKind::AuthFailed, &session, Some(who), Some(detail));
        ctx.record(ev, Durability::Durable).await;
    }
    let closed = ctx.session_event(EventKind::ConnectionClosed, &session, None, None);
    ctx.record(closed, Durability::Queued).await;
}

/// Channel requests and forwarded connections running at once on one client connection
/// (each holds an upstream connection and bounded relay buffers).
pub const MAX_RELAYED_CHANNELS: usize = 32;

fn too_many_channels() -> warden_audit::Outcome {
    warden_audit::Outcome {
        error: Some(format!(
            "more than {MAX_RELAYED_CHANNELS} channels at once on one connection"
        )),
        ..Default::default()
    }
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
    /// One permit per running channel request or forwarded connection.
    relays: Arc<Semaphore>,
    /// Remote forwards (`ssh -R`) granted on this connection.
    remote: Arc<RemoteForwards>,
    /// The windows granted to the client follow the relays' queues.
    windows: Arc<WindowThrottle>,
    /// Public keys refused on this connection (see [`super::offers`]).
    refused: RefusedOffers,
}

impl Conn {
    async fn failed(&self, user: &str, method: LoginMethod, reason: String) {
        let who = auth::attempt_actor(&self.ctx.users, user, Some(self.peer.to_string()));
        let ev = self.ctx.session_event(
            EventKind::AuthFailed,
            &self.session,
            Some(who),
            Some(auth::failure_detail(method, &reason)),
        );
        self.ctx.record(ev, Durability::Durable).await;
    }

    /// Audit the login and remember the actor; `false` (refuse) when it cannot be audited.
    async fn succeeded(&mut self, user: &str, method: LoginMethod) -> bool {
        let Some(known) = self.ctx.users.user(user) else {
            return false;
        };
        let mut actor = known.actor();
        actor.client_addr = Some(self.peer.to_string());
        let ev = self.ctx.session_event(
            EventKind::Authenticated,
            &self.session,
            Some(actor.clone()),
            Some(auth::success_detail(method)),
        );
        if !self.ctx.record(ev, Durability::Durable).await {
            return false;
        }
        self.ctx.throttle.success(user);
        self.actor = Some(actor);
        true
    }

    /// Audit a refused public key (bounded per connection).
    async fn key_refused(&self, user: &str, key: &PublicKey) {
        if self.refused.refused(user) {
            let known = self.ctx.users.user(user).is_some();
            self.failed(user, LoginMethod::PublicKey, offers::reason(key, known))
                .await;
        }
    }

    fn key_authorized(&self, user: &str, key: &PublicKey) -> bool {
        key.to_openssh()
            .map(|line| self.ctx.users.authorized_key(user, &line))
            .unwrap_or(false)
    }

    /// Decide and audit a forwarding request. A ticket only when an enforced rule allows
    /// it explicitly (forwarding is denied by default); every other answer is a refusal,
    /// with the reason in the audit log.
    async fn forwarding(&self, raw: String, facts: SshFacts) -> Option<Ticket> {
        let actor = self.actor.as_ref()?;
        let action = Action {
            protocol: Protocol::Ssh,
            user: actor.clone(),
            target: self.ctx.target.target_ref(),
            session: Some(self.session.clone()),
            raw,
            facts: Facts::Ssh(facts),
        };
        match self.ctx.gate.decide(action).await {
            Admission::Allow(t) if forward::explicitly_allowed(&t) => Some(t),
            Admission::Allow(t) => {
                t.completed(warden_audit::Outcome {
                    error: Some(forward::NEEDS_EXPLICIT_RULE.into()),
                    ..Default::default()
                })
                .await;
                None
            }
            // A held forwarding request is withdrawn: nothing waits for it.
            Admission::Deny(_) | Admission::Hold(_) => None,
        }
    }

    /// Decide and audit a kind of forwarding Warden never relays (agent, X11,
    /// streamlocal): always refused.
    async fn never_relayed(&self, raw: String) -> bool {
        if let Some(t) = self.forwarding(raw, SshFacts::forwarding()).await {
            t.completed(warden_audit::Outcome {
                error: Some("this kind of forwarding is never relayed by Warden".into()),
                ..Default::default()
            })
            .await;
        }
        false
    }

    fn spawn(
        &mut self,
        channel: ChannelId,
        req: Request,
        pty: Option<PtySpec>,
        session: &mut Session,
    ) -> Result<(), russh::Error> {
        let (Some(actor), Some(chan)) = (self.actor.clone(), self.channels.remove(&channel)) else {
            return session.channel_failure(channel);
        };
        let Ok(slot) = Arc::clone(&self.relays).try_acquire_owned() else {
            return session.channel_failure(channel);
        };
        session.channel_success(channel)?;
        let ctx = self.ctx.clone();
        let sid = self.session.clone();
        let windows = Arc::clone(&self.windows);
        self.ctx.tracker.spawn(async move {
            exec::run(chan, req, pty, ctx, actor, sid, windows).await;
            drop(slot);
        });
        Ok(())
    }
}

impl russh::server::Handler for Conn {
    type Error = russh::Error;

    fn adjust_window(&mut self, channel: ChannelId, _current: u32) -> u32 {
        self.windows.next_window(channel)
    }

    async fn auth_none(&mut self, _user: &str) -> Result<Auth, Self::Error> {
        Ok(reject())
    }

    async fn auth_password(&mut self, user: &str, password: &str) -> Result<Auth, Self::Error> {
        let ip = Some(self.peer.ip());
        if let Err(t) = self.ctx.throttle.check(user, ip) {
            self.failed(user, LoginMethod::Password, t.audit_reason())
                .await;
            return Ok(reject());
        }
        match self.ctx.users.authenticate(user, password).await {
            Ok(_) => {
                if self.succeeded(user, LoginMethod::Password).await {
                    Ok(Auth::Accept)
                } else {
                    Ok(reject())
                }
            }
            Err(e) => {
                let known = self.ctx.users.user(user).is_some();
                let delay = self.ctx.throttle.failure(user, ip);
                self.failed(user, LoginMethod::Password, e.audit_reason(known))
                    .await;
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
            self.key_refused(user, key).await;
            Ok(reject())
        }
    }

    async fn auth_publickey(&mut self, user: &str, key: &PublicKey) -> Result<Auth, Self::Error> {
        let ip = Some(self.peer.ip());
        if let Err(t) = self.ctx.throttle.check(user, ip) {
            self.failed(user, LoginMethod::PublicKey, t.audit_reason())
                .await;
            return Ok(reject());
        }
        if !self.key_authorized(user, key) {
            self.key_refused(user, key).await;
            return Ok(reject());
        }
        if self.succeeded(user, LoginMethod::PublicKey).await {
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
        // Opened but not yet used channels are bounded too (each holds a message queue).
        if self.actor.is_none() || self.channels.len() >= MAX_RELAYED_CHANNELS {
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
            Ok(cmd) => {
                let pty = self.ptys.remove(&channel);
                self.spawn(channel, Request::Exec(cmd), pty, session)
            }
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
        self.spawn(channel, Request::Subsystem(name.to_owned()), None, session)
    }

    async fn shell_request(
        &mut self,
        channel: ChannelId,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        let pty = self.ptys.remove(&channel).unwrap_or_default();
        self.spawn(channel, Request::Shell(pty), None, session)
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
        channel: Channel<Msg>,
        host: &str,
        port: u32,
        originator_address: &str,
        originator_port: u32,
        _session: &mut Session,
    ) -> Result<bool, Self::Error> {
        if port > u32::from(u16::MAX) || host.len() > 255 {
            return Ok(false);
        }
        let facts = SshFacts::forwarding_to(host, port);
        let Some(ticket) = self
            .forwarding(format!("direct-tcpip {host}:{port}"), facts)
            .await
        else {
            return Ok(false);
        };
        let Ok(slot) = Arc::clone(&self.relays).try_acquire_owned() else {
            ticket.completed(too_many_channels()).await;
            return Ok(false);
        };
        let to = forward::Endpoints {
            host: host.to_owned(),
            port,
            originator: originator_address.chars().take(256).collect(),
            originator_port,
        };
        let ctx = self.ctx.clone();
        let windows = Arc::clone(&self.windows);
        self.ctx.tracker.spawn(async move {
            forward::direct(channel, ticket, to, ctx, windows).await;
            drop(slot);
        });
        Ok(true)
    }

    async fn channel_open_direct_streamlocal(
        &mut self,
        _channel: Channel<Msg>,
        path: &str,
        _session: &mut Session,
    ) -> Result<bool, Self::Error> {
        Ok(self
            .never_relayed(format!("direct-streamlocal {path}"))
            .await)
    }

    async fn tcpip_forward(
        &mut self,
        address: &str,
        port: &mut u32,
        session: &mut Session,
    ) -> Result<bool, Self::Error> {
        if *port > u32::from(u16::MAX) || address.len() > 255 {
            return Ok(false);
        }
        let Some(ticket) = self
            .forwarding(
                format!("tcpip-forward {address}:{port}"),
                SshFacts::forwarding_to(address, *port),
            )
            .await
        else {
            return Ok(false);
        };
        let relays = Arc::clone(&self.relays);
        let granted = self
            .remote
            .request(&self.ctx, session.handle(), relays, address, *port, ticket)
            .await;
        match granted {
            Some(p) => {
                *port = p;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn cancel_tcpip_forward(
        &mut self,
        address: &str,
        port: u32,
        _session: &mut Session,
    ) -> Result<bool, Self::Error> {
        Ok(self.remote.cancel(address, port).await)
    }

    async fn streamlocal_forward(
        &mut self,
        path: &str,
        _session: &mut Session,
    ) -> Result<bool, Self::Error> {
        Ok(self
            .never_relayed(format!("streamlocal-forward {path}"))
            .await)
    }

    async fn agent_request(
        &mut self,
        _channel: ChannelId,
        _session: &mut Session,
    ) -> Result<bool, Self::Error> {
        Ok(self.never_relayed("agent forwarding".into()).await)
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
        self.never_relayed("x11 forwarding".into()).await;
        session.channel_failure(channel)
    }
}
