//! Opening the stores: the audit log and the approvals store, each behind its handle.
//! This is the one place (with the audit and approval crates themselves) that knows the
//! embedded backend and the fleet database (`fleet:`, docs/fleet.md); the Gate, the
//! front-ends and the console get handles.
//!
//! Must never hand out an approvals store whose audit log is not open.

use std::path::Path;

use warden_approval::{ApprovalBackend, Approvals};
use warden_audit::{AuditConfig, AuditError, AuditLog};
use warden_fleet::{AuditShipper, ShipOptions};

/// Why a store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("audit log at {path}: {source}")]
    Audit { path: String, source: AuditError },
    #[error("approvals store at {path}: {message}")]
    Approvals { path: String, message: String },
    #[error("fleet: {0}")]
    Fleet(String),
}

/// The two stores a gateway runs on.
#[derive(Clone)]
pub struct Stores {
    pub audit: AuditLog,
    pub approvals: Approvals,
}

/// Open the audit log (blocking: it replays its journal). Call off the async workers.
pub fn open_audit(cfg: AuditConfig) -> Result<AuditLog, StoreError> {
    let path = cfg.path.display().to_string();
    AuditLog::open(cfg).map_err(|source| StoreError::Audit { path, source })
}

/// Open the approvals store at `path` on `audit` (blocking: it withdraws requests whose
/// waiting client is gone, and audits that). Must run inside a tokio runtime.
pub fn open_approvals(
    path: &Path,
    audit: AuditLog,
    public_url: String,
) -> Result<Approvals, StoreError> {
    let err = |e: warden_approval::ApprovalError| StoreError::Approvals {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let backend = ApprovalBackend::embedded(path).map_err(err)?;
    Approvals::open(backend, audit, public_url).map_err(err)
}

/// Both stores under one folder (`audit/`, `approvals/`), for tests and tools.
pub fn open_in(dir: &Path, audit: AuditConfig, public_url: &str) -> Result<Stores, StoreError> {
    let audit = open_audit(audit)?;
    let approvals = open_approvals(&dir.join("approvals"), audit.clone(), public_url.into())?;
    Ok(Stores { audit, approvals })
}

/// Joins the fleet of `cfg` (migrations, this replica's lease, its heartbeat), opens
/// the shared approvals on it and starts shipping `audit` to it; the fleet handle comes
/// back for the analytics runner (its feed and alert claims). Fails when the
/// database cannot be reached: a replica configured for a fleet never falls back to a
/// store of its own.
pub async fn open_fleet_approvals(
    cfg: &warden_config::FleetConfig,
    audit: AuditLog,
    public_url: String,
) -> Result<(Approvals, AuditShipper, warden_fleet::Fleet), StoreError> {
    let fleet = warden_fleet::Fleet::join(fleet_options(cfg)?)
        .await
        .map_err(|e| StoreError::Fleet(e.to_string()))?;
    fleet.spawn_heartbeat();
    let ship = ShipOptions {
        every: cfg.ship_every,
        anchor_every: cfg.anchor_every,
        ..ShipOptions::default()
    };
    let shipper = AuditShipper::start(fleet.clone(), audit.clone(), ship)
        .map_err(|e| StoreError::Fleet(e.to_string()))?;
    tracing::info!(replica = %cfg.replica_id, "joined the fleet; approvals are shared, audit is shipped");
    let approvals = Approvals::open_fleet(fleet.clone(), audit, public_url)
        .await
        .map_err(|e| StoreError::Fleet(e.to_string()))?;
    Ok((approvals, shipper, fleet))
}

/// The options of `cfg` for tools that read the fleet database without joining
/// (`warden audit verify --fleet`).
pub fn fleet_options(
    cfg: &warden_config::FleetConfig,
) -> Result<warden_fleet::FleetOptions, StoreError> {
    let tls = match &cfg.tls {
        Some(t) => Some(warden_fleet::FleetTls {
            config: warden_frontend_postgres::tls::verifying_client_config(t)
                .map_err(|e| StoreError::Fleet(format!("fleet.tls: {e}")))?,
            server_name: t.server_name.clone(),
        }),
        None => None,
    };
    Ok(warden_fleet::FleetOptions {
        url: cfg.url.clone(),
        password: cfg.password.as_ref().map(|s| s.expose().to_string()),
        replica_id: cfg.replica_id.clone(),
        heartbeat: cfg.heartbeat,
        lease: cfg.lease,
        poll: cfg.poll,
        connect_timeout: cfg.connect_timeout,
        pool_size: cfg.pool_size,
        tls,
    })
}

/// Writes the fleet's shipped audit records in time order (`warden audit export
/// --fleet`), over one connection that joins nothing; how many.
pub async fn export_fleet(
    cfg: &warden_config::FleetConfig,
    since_ns: Option<i64>,
    until_ns: Option<i64>,
    out: &mut impl std::io::Write,
) -> Result<u64, StoreError> {
    let client = tool_client(cfg).await?;
    warden_fleet::export::export(&client, since_ns, until_ns, out)
        .await
        .map_err(fleet_error)
}

/// Verifies the fleet's shipped audit and anchor chain (`warden audit verify --fleet`),
/// over one connection that joins nothing.
pub async fn verify_fleet(
    cfg: &warden_config::FleetConfig,
) -> Result<warden_fleet::FleetReport, StoreError> {
    let client = tool_client(cfg).await?;
    warden_fleet::verify::verify(&client)
        .await
        .map_err(fleet_error)
}

/// One connection to the fleet database for a tool: no lease, no migration.
async fn tool_client(
    cfg: &warden_config::FleetConfig,
) -> Result<warden_fleet::tokio_postgres::Client, StoreError> {
    warden_fleet::connect_tool(&fleet_options(cfg)?)
        .await
        .map_err(fleet_error)
}

fn fleet_error(e: warden_fleet::FleetError) -> StoreError {
    StoreError::Fleet(e.to_string())
}
