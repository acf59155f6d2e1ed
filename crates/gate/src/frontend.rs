//! What every protocol front-end is given, the [`Frontend`] trait each implements, and
//! the parts they share.
//!
//! Each front-end crate exposes a type implementing [`Frontend`]; the app's registry
//! maps each [`Protocol`] to one and calls `serve` once per target. [`accept_loop`]
//! implements the common part of serving:
//! a connection cap (`max_connections`, excess connections are closed at once), one task
//! per connection tracked for draining, and stopping on shutdown.
//!
//! Must never accept connections after shutdown began, and never let a connection task
//! outlive the drain deadline unnoticed (`drain` reports how many were cut off).

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use futures::future::BoxFuture;
use warden_audit::{Durability, Event, EventKind};
use warden_config::TargetConfig;
use warden_inspect::{Actor, Protocol};

use crate::auth::{LoginThrottle, UserDirectory};
use crate::gate::Gate;

/// Declares a unit type implementing [`Frontend`] by an `async fn serve(listener, ctx)`:
/// `warden_gate::frontend!(PostgresFrontend, [Protocol::Postgres], serve);`
#[macro_export]
macro_rules! frontend {
    ($(#[$meta:meta])* $name:ident, [$($protocol:expr),+], $serve:path) => {
        $(#[$meta])*
        pub struct $name;

        impl $crate::Frontend for $name {
            fn protocols(&self) -> &'static [::warden_inspect::Protocol] {
                &[$($protocol),+]
            }

            fn serve(
                &self,
                listener: ::tokio::net::TcpListener,
                ctx: $crate::FrontendContext,
            ) -> ::futures::future::BoxFuture<'static, ::std::io::Result<()>> {
                ::std::boxed::Box::pin($serve(listener, ctx))
            }
        }
    };
}

/// One protocol front-end: serves a target's listener until `ctx.shutdown` fires.
pub trait Frontend: Send + Sync + 'static {
    /// The protocols this front-end serves (`http` serves `kubernetes` too).
    fn protocols(&self) -> &'static [Protocol];

    /// Serve one target. Errors are the listener's (bind/accept set-up); connection
    /// errors stay inside their connection.
    fn serve(
        &self,
        listener: TcpListener,
        ctx: FrontendContext,
    ) -> BoxFuture<'static, std::io::Result<()>>;
}

/// Everything a protocol front-end needs for one target.
#[derive(Clone, Debug)]
pub struct FrontendContext {
    pub target: Arc<TargetConfig>,
    pub gate: Gate,
    pub users: Arc<UserDirectory>,
    pub throttle: Arc<LoginThrottle>,
    /// Cancelled when the process begins shutting down: stop accepting, finish or
    /// abort in-flight work promptly.
    pub shutdown: CancellationToken,
    /// For host keys, session recordings and other per-process state.
    pub data_dir: PathBuf,
    /// Connection tasks, awaited by [`drain`] on shutdown.
    pub tracker: TaskTracker,
    /// At most `target.max_connections` permits.
    pub connections: Arc<Semaphore>,
}

impl FrontendContext {
    pub fn new(
        target: Arc<TargetConfig>,
        gate: Gate,
        users: Arc<UserDirectory>,
        throttle: Arc<LoginThrottle>,
        shutdown: CancellationToken,
        data_dir: PathBuf,
    ) -> FrontendContext {
        let connections = Arc::new(Semaphore::new(target.max_connections));
        FrontendContext {
            target,
            gate,
            users,
            throttle,
            shutdown,
            data_dir,
            tracker: TaskTracker::new(),
            connections,
        }
    }

    /// A slot for one more connection, or `None` when the target is at its cap.
    pub fn admit(&self) -> Option<OwnedSemaphorePermit> {
        Arc::clone(&self.connections).try_acquire_owned().ok()
    }

    /// Connections currently open on this target.
    pub fn open_connections(&self) -> usize {
        self.target.max_connections - self.connections.available_permits()
    }

    /// A record of this target, protocol and session that is not a Gate decision
    /// (connection opened/closed, login, session start/end).
    pub fn session_event(
        &self,
        kind: EventKind,
        session: &str,
        actor: Option<Actor>,
        detail: Option<String>,
    ) -> Event {
        let mut ev = Event::new(kind);
        ev.actor = actor;
        ev.target = Some(self.target.name.clone());
        ev.protocol = Some(self.target.protocol);
        ev.session = Some(session.to_owned());
        ev.detail = detail;
        ev
    }

    /// Append a session record; `false` when the audit log cannot record it (callers
    /// fail closed).
    pub async fn record(&self, ev: Event, durability: Durability) -> bool {
        match self.gate.record(ev, durability).await {
            Ok(_) => true,
            Err(e) => {
                tracing::error!(target = %self.target.name, error = %e, "audit write failed");
                false
            }
        }
    }
}

/// Accept connections until shutdown; run `handle` for each on a tracked task, holding a
/// connection permit for its lifetime. Connections over the cap are closed immediately.
pub async fn accept_loop<F, Fut>(
    listener: TcpListener,
    ctx: FrontendContext,
    handle: F,
) -> std::io::Result<()>
where
    F: Fn(TcpStream, SocketAddr, FrontendContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut backoff = Duration::from_millis(5);
    loop {
        let accepted = tokio::select! {
            _ = ctx.shutdown.cancelled() => return Ok(()),
            r = listener.accept() => r,
        };
        let (stream, peer) = match accepted {
            Ok(x) => {
                backoff = Duration::from_millis(5);
                x
            }
            Err(e) => {
                // EMFILE and friends: back off instead of spinning; never give up.
                tracing::warn!(target = %ctx.target.name, error = %e, "accept failed");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        let Some(permit) = ctx.admit() else {
            tracing::warn!(target = %ctx.target.name, %peer, "connection cap reached; closing");
            drop(stream);
            continue;
        };
        let conn_ctx = ctx.clone();
        let fut = handle(stream, peer, conn_ctx);
        ctx.tracker.spawn(async move {
            fut.await;
            drop(permit);
        });
    }
}

/// After shutdown: wait up to `grace` for the target's connections to finish. Returns the
/// number still open when the deadline passed (their tasks are left to be cut off by
/// process exit).
pub async fn drain(ctx: &FrontendContext, grace: Duration) -> usize {
    ctx.tracker.close();
    if tokio::time::timeout(grace, ctx.tracker.wait())
        .await
        .is_ok()
    {
        0
    } else {
        ctx.tracker.len()
    }
}
