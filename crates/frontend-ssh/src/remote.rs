//! Remote port forwarding (`ssh -R`) that a policy rule explicitly allows: Warden asks
//! the upstream host for the same forward on one upstream connection per client
//! connection (opened at the first granted request), and for every connection the
//! upstream forwards back it opens a `forwarded-tcpip` channel to the client and relays
//! both ways ([`super::relay`]). Each forward's outcome record (when it is cancelled or
//! the client leaves) carries the connections and bytes relayed under it.
//!
//! Must never relay a connection for an address:port that was not decided and granted,
//! never keep a forward after the client cancelled it or disconnected, and never wait
//! on the client's session from inside the upstream session's handler (they would
//! wait on each other).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use russh::client::{self, Handle};
use russh::keys::PublicKey;
use russh::Channel;
use tokio::sync::Semaphore;
use warden_audit::Outcome;

use super::relay::{self, WindowThrottle};
use super::upstream::{self, Verifier};
use warden_gate::frontend::FrontendContext;
use warden_gate::Ticket;

/// What was relayed under one forward.
#[derive(Debug, Default)]
struct Traffic {
    connections: AtomicU64,
    /// Shared by every connection of the forward (relays add to it as they go).
    bytes: relay::Counters,
}

impl Traffic {
    fn outcome(&self, error: Option<String>) -> Outcome {
        let (n, bytes_in, bytes_out) = (
            self.connections.load(Ordering::Relaxed),
            self.bytes.bytes_in.load(Ordering::Relaxed),
            self.bytes.bytes_out.load(Ordering::Relaxed),
        );
        Outcome {
            status: Some(format!("connections={n} in={bytes_in} out={bytes_out}")),
            bytes: Some(bytes_in + bytes_out),
            error,
            ..Outcome::default()
        }
    }
}

type Granted = Arc<Mutex<HashMap<(String, u32), Arc<Traffic>>>>;

fn granted_traffic(granted: &Granted, key: &(String, u32)) -> Option<Arc<Traffic>> {
    granted.lock().ok().and_then(|g| g.get(key).cloned())
}

/// The upstream connection's handler: host-key check, then forwarded connections.
pub struct RemoteClient {
    verifier: Verifier,
    to_client: russh::server::Handle,
    granted: Granted,
    relays: Arc<Semaphore>,
    windows: Arc<WindowThrottle>,
    ctx: FrontendContext,
}

impl client::Handler for RemoteClient {
    type Error = russh::Error;

    async fn check_server_key(&mut self, key: &PublicKey) -> Result<bool, Self::Error> {
        client::Handler::check_server_key(&mut self.verifier, key).await
    }

    async fn server_channel_open_forwarded_tcpip(
        &mut self,
        channel: Channel<client::Msg>,
        connected_address: &str,
        connected_port: u32,
        originator_address: &str,
        originator_port: u32,
        _session: &mut client::Session,
    ) -> Result<(), Self::Error> {
        let key = (connected_address.to_owned(), connected_port);
        let (Some(traffic), Ok(slot)) = (
            granted_traffic(&self.granted, &key),
            Arc::clone(&self.relays).try_acquire_owned(),
        ) else {
            // Not from this handler: closing waits on this very session's queue.
            self.ctx.tracker.spawn(async move {
                let _ = channel.close().await;
            });
            return Ok(());
        };
        let to_client = self.to_client.clone();
        let origin = (
            originator_address.chars().take(256).collect::<String>(),
            originator_port,
        );
        let shutdown = self.ctx.shutdown.clone();
        let windows = Arc::clone(&self.windows);
        // Spawned: opening the client's channel needs the client session, which may be
        // waiting on this upstream session right now.
        self.ctx.tracker.spawn(async move {
            let client_chan = to_client
                .channel_open_forwarded_tcpip(key.0, key.1, origin.0, origin.1)
                .await;
            let Ok(client_chan) = client_chan else {
                let _ = channel.close().await;
                return;
            };
            traffic.connections.fetch_add(1, Ordering::Relaxed);
            let (client_r, client_w) = client_chan.split();
            let (up_r, up_w) = channel.split();
            let counters = &traffic.bytes;
            let ends = relay::Ends {
                client: (client_r, &client_w),
                upstream: (up_r, &up_w),
                windows: &windows,
            };
            relay::run(ends, counters, &shutdown).await;
            let _ = up_w.close().await;
            let _ = client_w.eof().await;
            let _ = client_w.close().await;
            drop(slot);
        });
        Ok(())
    }
}

struct Forward {
    ticket: Ticket,
    traffic: Arc<Traffic>,
}

#[derive(Default)]
struct State {
    upstream: Option<Handle<RemoteClient>>,
    forwards: HashMap<(String, u32), Forward>,
}

/// The remote forwards of one client connection.
pub struct RemoteForwards {
    state: tokio::sync::Mutex<State>,
    granted: Granted,
    windows: Arc<WindowThrottle>,
}

impl RemoteForwards {
    /// Forwards of a connection whose relays report to `windows`.
    pub fn new(windows: Arc<WindowThrottle>) -> RemoteForwards {
        RemoteForwards {
            state: tokio::sync::Mutex::default(),
            granted: Granted::default(),
            windows,
        }
    }

    fn grant(&self, key: (String, u32), traffic: Option<Arc<Traffic>>) {
        if let Ok(mut g) = self.granted.lock() {
            match traffic {
                Some(t) => g.insert(key, t),
                None => g.remove(&key),
            };
        }
    }

    /// Ask the upstream for the forward `ticket` allows; the port granted (the one
    /// asked for, or the one the upstream chose for port 0), or `None` (refused, with
    /// the reason in the ticket's outcome).
    pub async fn request(
        &self,
        ctx: &FrontendContext,
        to_client: russh::server::Handle,
        relays: Arc<Semaphore>,
        address: &str,
        port: u32,
        ticket: Ticket,
    ) -> Option<u32> {
        let mut state = self.state.lock().await;
        if state.upstream.is_none() {
            let wrap = |verifier| RemoteClient {
                verifier,
                to_client,
                granted: Arc::clone(&self.granted),
                relays,
                windows: Arc::clone(&self.windows),
                ctx: ctx.clone(),
            };
            match upstream::connect_with(&ctx.target, wrap).await {
                Ok(h) => state.upstream = Some(h),
                Err(e) => {
                    ticket.completed(failed(e.to_string())).await;
                    return None;
                }
            }
        }
        let upstream = state.upstream.as_mut()?;
        let traffic = Arc::new(Traffic::default());
        // A fixed port is granted before asking, so that a connection the upstream
        // forwards right after its reply is not refused.
        if port != 0 {
            self.grant((address.to_owned(), port), Some(Arc::clone(&traffic)));
        }
        let granted_port = match upstream.tcpip_forward(address, port).await {
            Ok(0) => port,
            Ok(p) => p,
            Err(e) => {
                self.grant((address.to_owned(), port), None);
                let why = format!("the upstream refused the forward: {e}");
                ticket.completed(failed(why)).await;
                return None;
            }
        };
        let key = (address.to_owned(), granted_port);
        self.grant(key.clone(), Some(Arc::clone(&traffic)));
        if let Some(old) = state.forwards.insert(key, Forward { ticket, traffic }) {
            old.ticket
                .completed(old.traffic.outcome(Some("replaced".into())))
                .await;
        }
        Some(granted_port)
    }

    /// Cancel a forward the client holds; `false` when it holds none at address:port.
    pub async fn cancel(&self, address: &str, port: u32) -> bool {
        let key = (address.to_owned(), port);
        let mut state = self.state.lock().await;
        let Some(forward) = state.forwards.remove(&key) else {
            return false;
        };
        self.grant(key, None);
        if let Some(up) = &state.upstream {
            let _ = up.cancel_tcpip_forward(address, port).await;
        }
        forward
            .ticket
            .completed(forward.traffic.outcome(None))
            .await;
        true
    }

    /// The client left: drop every forward, report their outcomes, leave the upstream.
    pub async fn close_all(&self) {
        if let Ok(mut g) = self.granted.lock() {
            g.clear();
        }
        let mut state = self.state.lock().await;
        for (_, forward) in state.forwards.drain() {
            forward
                .ticket
                .completed(forward.traffic.outcome(None))
                .await;
        }
        if let Some(up) = state.upstream.take() {
            let _ = up
                .disconnect(russh::Disconnect::ByApplication, "", "en")
                .await;
        }
    }
}

fn failed(error: String) -> Outcome {
    Outcome {
        error: Some(error),
        ..Outcome::default()
    }
}
