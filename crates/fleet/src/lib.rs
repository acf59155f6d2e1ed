//! # warden-fleet
//!
//! The plumbing of fleet mode: several Warden replicas sharing one PostgreSQL database.
//! [`Fleet`] is the handle: a small connection pool, the schema migrations applied at
//! start (`migrate`), this replica's lease in `warden_replicas` (`replica`),
//! `LISTEN` channels that survive reconnects (`listen`), and the audit in the fleet:
//! shipping this replica's chain (`ship`), the shared anchor chain (`anchor`) and the
//! fleet-wide verification (`verify`) and export (`export`); for analytics, the other
//! replicas' records read back (`feed`) and the shared alert claims (`alerts`).
//!
//! This crate knows the tables but never decides anything about approvals: the approval
//! crate runs its own statements on connections handed out here. Audit records are only
//! copied and checked here, never written to a chain. It must
//! never log the database password, never start without the schema at its version,
//! and never let two live processes hold the same replica id.

#![forbid(unsafe_code)]

pub mod alerts;
pub mod anchor;
mod dial;
pub mod export;
pub mod feed;
mod listen;
mod migrate;
mod pool;
pub mod query;
mod replica;
pub mod ship;
pub mod verify;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub use dial::FleetTls;
pub use feed::{AuditFeed, RemoteRecord};
pub use listen::Signal;
pub use migrate::{MIGRATIONS, SCHEMA_VERSION};
pub use pool::Pooled;
pub use ship::{AuditShipper, ShipOptions};
pub use tokio_postgres;
pub use verify::FleetReport;

/// How this replica joins the fleet (the validated `fleet:` section of warden.yaml).
#[derive(Clone)]
pub struct FleetOptions {
    /// `postgresql://user@host:port/db?...` (a password in it is allowed, not needed).
    pub url: String,
    /// The password, when not in the URL (read from `password_env` / `password_file`).
    pub password: Option<String>,
    /// This replica's name in the fleet; unique among live replicas.
    pub replica_id: String,
    /// How often the lease is renewed.
    pub heartbeat: Duration,
    /// How long a lease lasts without renewal; after that the replica counts as dead.
    pub lease: Duration,
    /// Backstop re-query of the shared state (besides LISTEN/NOTIFY).
    pub poll: Duration,
    /// Connecting (and every statement batch) gives up after this long.
    pub connect_timeout: Duration,
    /// Connections kept open at most (the LISTEN connection is extra).
    pub pool_size: usize,
    /// Connect over TLS, verifying the server (`fleet.tls`); plain when absent.
    pub tls: Option<FleetTls>,
}

impl std::fmt::Debug for FleetOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FleetOptions")
            .field("url", &redact_url(&self.url))
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("replica_id", &self.replica_id)
            .field("heartbeat", &self.heartbeat)
            .field("lease", &self.lease)
            .field("poll", &self.poll)
            .field("tls", &self.tls)
            .finish()
    }
}

/// The URL with any inline password replaced by `***`, for messages.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (auth, host) = match rest.split_once('@') {
        Some((a, h)) => (a, h),
        None => return url.to_string(),
    };
    match auth.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

/// Why the fleet database could not be used.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    #[error("fleet database {url} unreachable: {message}")]
    Unreachable { url: String, message: String },
    #[error("fleet database: {0}")]
    Db(String),
    #[error("fleet database did not answer within {0:?}")]
    Timeout(Duration),
    #[error("replica id `{0}` is held by another live replica (its lease has not expired); two replicas must not share an id")]
    ReplicaIdInUse(String),
    #[error("fleet url: {0}")]
    Url(String),
    #[error("audit shipping: {0}")]
    Ship(String),
}

impl From<tokio_postgres::Error> for FleetError {
    fn from(e: tokio_postgres::Error) -> FleetError {
        FleetError::Db(describe(&e))
    }
}

/// A PostgreSQL error with its server message when there is one.
pub fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => match std::error::Error::source(e) {
            Some(src) => format!("{e}: {src}"),
            None => e.to_string(),
        },
    }
}

/// The connection settings of `opts`.
fn pg_config(opts: &FleetOptions) -> Result<tokio_postgres::Config, FleetError> {
    let mut pg: tokio_postgres::Config = without_sslmode(&opts.url)
        .parse()
        .map_err(|e: tokio_postgres::Error| FleetError::Url(e.to_string()))?;
    if let Some(pw) = &opts.password {
        pg.password(pw);
    }
    pg.connect_timeout(opts.connect_timeout);
    pg.application_name(format!("warden {}", opts.replica_id));
    pg.keepalives(true);
    pg.keepalives_idle(Duration::from_secs(10));
    Ok(pg)
}

/// The URL without its `sslmode` parameter: TLS is `fleet.tls`'s to decide (always
/// verified when set), and tokio-postgres does not know `verify-ca`/`verify-full`.
fn without_sslmode(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_string();
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|kv| !kv.starts_with("sslmode="))
        .collect();
    if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    }
}

/// How `opts` opens connections.
fn dialer(opts: &FleetOptions) -> Result<dial::Dialer, FleetError> {
    Ok(dial::Dialer::new(pg_config(opts)?, opts.tls.as_ref()))
}

/// One connection to the fleet database that takes no lease and applies no migration
/// (for offline tools: `warden audit verify --fleet`).
pub async fn connect_tool(opts: &FleetOptions) -> Result<tokio_postgres::Client, FleetError> {
    pool::connect(&dialer(opts)?, opts.connect_timeout)
        .await
        .map_err(|e| unreachable_at(&opts.url, e))
}

/// A connection error as "unreachable", naming the database (password redacted).
fn unreachable_at(url: &str, e: FleetError) -> FleetError {
    match e {
        FleetError::Db(message) => FleetError::Unreachable {
            url: redact_url(url),
            message,
        },
        other => other,
    }
}

/// The shared database of a fleet. Cheap to clone.
#[derive(Clone)]
pub struct Fleet {
    inner: Arc<Inner>,
}

struct Inner {
    opts: FleetOptions,
    dialer: dial::Dialer,
    incarnation: String,
    pool: pool::Pool,
    /// False while the lease could not be renewed (this replica may count as dead).
    lease_ok: AtomicBool,
}

impl Fleet {
    /// Connects, applies the migrations (under an advisory lock) and takes this
    /// replica's lease, waiting up to one lease period for a previous incarnation's
    /// lease to run out. Does not start the heartbeat: call [`Fleet::spawn_heartbeat`].
    pub async fn join(opts: FleetOptions) -> Result<Fleet, FleetError> {
        let dialer = dialer(&opts)?;
        let fleet = Fleet {
            inner: Arc::new(Inner {
                pool: pool::Pool::new(dialer.clone(), opts.pool_size.max(1), opts.connect_timeout),
                dialer,
                incarnation: uuid::Uuid::new_v4().simple().to_string(),
                lease_ok: AtomicBool::new(false),
                opts,
            }),
        };
        {
            let mut c = fleet.client().await?;
            migrate::apply(&mut c, &fleet.inner.opts.replica_id).await?;
        }
        replica::register(&fleet).await?;
        fleet.inner.lease_ok.store(true, Ordering::Relaxed);
        Ok(fleet)
    }

    pub fn options(&self) -> &FleetOptions {
        &self.inner.opts
    }

    pub fn replica_id(&self) -> &str {
        &self.inner.opts.replica_id
    }

    /// This process's id: a restarted replica keeps its replica id, not its incarnation.
    pub fn incarnation(&self) -> &str {
        &self.inner.incarnation
    }

    /// True while this replica's lease is being renewed.
    pub fn lease_ok(&self) -> bool {
        self.inner.lease_ok.load(Ordering::Relaxed)
    }

    /// A pooled connection (connecting when none is idle).
    pub async fn client(&self) -> Result<Pooled, FleetError> {
        self.inner.pool.get().await.map_err(|e| self.unreachable(e))
    }

    pub(crate) fn unreachable(&self, e: FleetError) -> FleetError {
        unreachable_at(&self.inner.opts.url, e)
    }

    /// Renews the lease every `heartbeat` until the runtime ends; a renewal that fails
    /// is logged and retried (the lease may run out meanwhile: then this replica can no
    /// longer claim approved actions, see `docs/fleet.md`).
    pub fn spawn_heartbeat(&self) -> tokio::task::JoinHandle<()> {
        let fleet = self.clone();
        tokio::spawn(async move { replica::heartbeat_loop(fleet).await })
    }

    /// Ends this replica's lease now (graceful stop): the others take over its orphans
    /// at once instead of after the lease.
    pub async fn leave(&self) -> Result<(), FleetError> {
        replica::leave(self).await
    }

    /// Listens on `channel` on a dedicated connection; see [`Signal`].
    pub fn listen(&self, channel: &'static str) -> tokio::sync::mpsc::UnboundedReceiver<Signal> {
        listen::spawn(
            self.inner.dialer.clone(),
            channel,
            self.inner.opts.connect_timeout,
        )
    }
}
