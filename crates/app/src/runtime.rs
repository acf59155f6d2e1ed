//! The gateway process minus the console: open the audit log and the approvals store,
//! build the Gate, bind every target's listener, start its protocol front-end, the
//! reloaders (policies; warden.yaml's users) and the upstream drift pollers; on shutdown
//! stop accepting, drain connections with a deadline and seal the audit log with a final
//! checkpoint.
//!
//! `warden serve` and `warden demo` call [`start`] and add the web console on top.
//! Must never start a front-end before the audit log is open, and never report a clean
//! stop if the final checkpoint could not be written.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;
use warden_approval::Approvals;
use warden_audit::{AuditConfig, AuditLog};
use warden_config::{Config, TargetConfig};
use warden_gate::auth::{LoginThrottle, UserDirectory};
use warden_gate::frontend::{self, FrontendContext};
use warden_gate::Gate;
use warden_inspect::Protocol;
use warden_policy::{PolicySet, PolicyStore, SqlCache};

use crate::alerts::{runner, AlertBook, Baselines};
use crate::config_reload::ConfigReloader;
use crate::drift::ledger::FilesInForce;
use crate::registry;
use crate::reload::PolicyReloader;
use crate::stores::{self, StoreError};

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot create data folder {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("target {target}: cannot listen on {addr}: {source}")]
    Bind {
        target: String,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("analytics: {0}")]
    Analytics(String),
    #[error("target {target}: protocol {protocol} is not supported yet")]
    Unsupported { target: String, protocol: Protocol },
}

type FrontendExit = (String, std::io::Result<()>);

/// Start the registered front-end for `ctx.target` on `listener`; `false` when this
/// build has none for its protocol.
fn spawn_frontend(
    set: &mut JoinSet<FrontendExit>,
    listener: TcpListener,
    ctx: FrontendContext,
) -> bool {
    let Some(frontend) = registry::frontend_for(ctx.target.protocol) else {
        return false;
    };
    let name = ctx.target.name.clone();
    set.spawn(async move { (name, frontend.serve(listener, ctx).await) });
    true
}

/// One running target.
#[derive(Debug)]
pub struct RunningTarget {
    pub config: Arc<TargetConfig>,
    /// The address actually bound (differs from the config for port 0).
    pub local_addr: SocketAddr,
    ctx: FrontendContext,
}

/// The running gateway.
pub struct Running {
    pub gate: Gate,
    pub audit: AuditLog,
    pub approvals: Approvals,
    pub policies: PolicyStore,
    pub users: Arc<UserDirectory>,
    pub throttle: Arc<LoginThrottle>,
    /// Behaviour-analytics alerts (`None` when `analytics.enabled` is false).
    pub alerts: Option<Arc<AlertBook>>,
    /// The live analytics engine's per-user view (`None` when analytics is off).
    pub baselines: Option<Arc<Baselines>>,
    analytics_task: Option<JoinHandle<()>>,
    /// Fleet mode with analytics: what the other replicas' records feed did.
    pub fleet_feed: Option<Arc<crate::alerts::FeedStats>>,
    /// Fleet mode: copies the audit chain to the fleet database.
    shipper: Option<warden_fleet::AuditShipper>,
    /// Fleet mode: the shared database (the console's fleet-wide audit query).
    pub fleet: Option<warden_fleet::Fleet>,
    pub targets: Vec<RunningTarget>,
    pub reloader: PolicyReloader,
    /// warden.yaml's users, reloaded live (`None` when the config was not read from a
    /// file).
    pub config_reloader: Option<ConfigReloader>,
    pub shutdown: CancellationToken,
    grace: Duration,
    reload_task: JoinHandle<()>,
    config_reload_task: Option<JoinHandle<()>>,
    drift_tasks: Vec<JoinHandle<()>>,
    frontends: JoinSet<FrontendExit>,
}

/// What a stop did.
#[derive(Debug, Default)]
pub struct StopReport {
    /// Connections still open when the drain deadline passed.
    pub cut_off: usize,
    /// The final checkpoint / flush failed.
    pub audit_error: Option<String>,
}

/// Open the stores, build the Gate and start every target. Front-ends run until
/// `shutdown` is cancelled; then call [`Running::stop`].
pub async fn start(
    config: &Config,
    set: PolicySet,
    shutdown: CancellationToken,
) -> Result<Running, StartError> {
    for t in &config.targets {
        if registry::frontend_for(t.protocol).is_none() {
            return Err(StartError::Unsupported {
                target: t.name.clone(),
                protocol: t.protocol,
            });
        }
    }
    std::fs::create_dir_all(&config.data_dir).map_err(|source| StartError::DataDir {
        path: config.data_dir.display().to_string(),
        source,
    })?;
    let mut audit_cfg = AuditConfig::new(&config.audit.path);
    audit_cfg.signing_key = config.audit.signing_key.clone();
    audit_cfg.checkpoint_file = config.audit.checkpoint_file.clone();
    audit_cfg.cache_bytes = config.audit.cache_mb * 1024 * 1024;
    let audit_path = config.audit.path.display().to_string();
    let audit = tokio::task::spawn_blocking(move || stores::open_audit(audit_cfg))
        .await
        .map_err(|e| StoreError::Audit {
            path: audit_path,
            source: warden_audit::AuditError::Failed(format!("opening panicked: {e}")),
        })??;
    match start_on(config, set, shutdown, audit.clone()).await {
        Ok(running) => Ok(running),
        Err(e) => {
            // Nothing runs: seal what was written (approvals may have withdrawn orphans).
            let _ = tokio::task::spawn_blocking(move || audit.shutdown()).await;
            Err(e)
        }
    }
}

/// Everything after the audit log is open.
async fn start_on(
    config: &Config,
    set: PolicySet,
    shutdown: CancellationToken,
    audit: AuditLog,
) -> Result<Running, StartError> {
    let approvals_path = config.data_dir.join("approvals");
    let (a, url) = (audit.clone(), config.web.public_url.clone());
    let (approvals, shipper, fleet) = match &config.fleet {
        Some(fleet) => {
            let (approvals, shipper, fleet) = stores::open_fleet_approvals(fleet, a, url).await?;
            (approvals, Some(shipper), Some(fleet))
        }
        None => {
            let approvals = tokio::task::spawn_blocking(move || {
                stores::open_approvals(&approvals_path, a, url)
            })
            .await
            .map_err(|e| StoreError::Approvals {
                path: config.data_dir.join("approvals").display().to_string(),
                message: e.to_string(),
            })??;
            (approvals, None, None)
        }
    };
    let policies = PolicyStore::new(set);
    let gate = Gate::new(
        policies.clone(),
        audit.clone(),
        approvals.clone(),
        Arc::new(SqlCache::default()),
    );
    let users = Arc::new(UserDirectory::new(config.users.iter().cloned()));
    users.tokens().configure(config.gateway_tokens.clone());
    match users
        .tokens()
        .persist_at(config.data_dir.join("gateway-tokens.json"))
    {
        Ok(n) => tracing::info!(tokens = n, "gateway tokens read"),
        Err(why) => tracing::warn!(
            reason = %why,
            "gateway tokens file unreadable: set aside as gateway-tokens.json.unreadable, every earlier gateway token is refused"
        ),
    }
    let throttle = Arc::new(LoginThrottle::default());
    let fleet_feed = fleet
        .as_ref()
        .map(|_| Arc::new(crate::alerts::FeedStats::default()));
    let fleet_handle = fleet.clone();
    let fleet = fleet.zip(fleet_feed.clone());
    let (alerts, baselines, analytics_task) =
        match start_analytics(config, &audit, &throttle, shutdown.child_token(), fleet)? {
            Some(a) => {
                gate.set_alerts(Arc::clone(&a.book) as Arc<dyn warden_gate::OpenAlerts>);
                (Some(a.book), Some(a.baselines), Some(a.task))
            }
            None => (None, None, None),
        };
    let fleet_feed = fleet_feed.filter(|_| analytics_task.is_some());

    // Bind everything before starting anything, so a busy port fails the whole start.
    let mut bound = Vec::new();
    for t in &config.targets {
        let listener = TcpListener::bind(t.listen)
            .await
            .map_err(|source| StartError::Bind {
                target: t.name.clone(),
                addr: t.listen,
                source,
            })?;
        let local_addr = listener.local_addr().map_err(|source| StartError::Bind {
            target: t.name.clone(),
            addr: t.listen,
            source,
        })?;
        bound.push((Arc::clone(t), listener, local_addr));
    }
    let mut targets = Vec::new();
    let mut frontends = JoinSet::new();
    for (t, listener, local_addr) in bound {
        let ctx = FrontendContext::new(
            Arc::clone(&t),
            gate.clone(),
            Arc::clone(&users),
            Arc::clone(&throttle),
            shutdown.child_token(),
            config.data_dir.clone(),
        );
        if !spawn_frontend(&mut frontends, listener, ctx.clone()) {
            return Err(StartError::Unsupported {
                target: t.name.clone(),
                protocol: t.protocol,
            });
        };
        tracing::info!(target_name = %t.name, protocol = %t.protocol, %local_addr, "listening");
        targets.push(RunningTarget {
            config: t,
            local_addr,
            ctx,
        });
    }
    let files = FilesInForce::default();
    let reloader = PolicyReloader::new(config.policies.clone(), policies.clone(), audit.clone())
        .with_mode(config.policy_changes)
        .with_ledger(files.clone());
    let reload_task = reloader.clone().spawn(shutdown.child_token());
    let config_reloader = ConfigReloader::new(config, Arc::clone(&users), audit.clone())
        .map(|r| r.with_ledger(files.clone()));
    files.compare_with_last_run(&audit).await;
    files.record(&audit).await;
    let drift_tasks = crate::drift::upstream::spawn_all(&config.targets, &audit, &shutdown);
    let config_reload_task = config_reloader
        .clone()
        .map(|r| r.spawn(shutdown.child_token()));
    Ok(Running {
        gate,
        audit,
        approvals,
        policies,
        users,
        throttle,
        alerts,
        baselines,
        analytics_task,
        fleet_feed,
        shipper,
        fleet: fleet_handle,
        targets,
        reloader,
        config_reloader,
        shutdown,
        grace: config.shutdown_grace,
        reload_task,
        config_reload_task,
        drift_tasks,
        frontends,
    })
}

/// The alert book, the runner's engine view and the runner's task.
struct Analytics {
    book: Arc<AlertBook>,
    baselines: Arc<Baselines>,
    task: JoinHandle<()>,
}

/// The alert book and its runner on the audit feed (in fleet mode also on the other
/// replicas' records); the book locks logins through the throttle.
fn start_analytics(
    config: &Config,
    audit: &AuditLog,
    throttle: &LoginThrottle,
    stop: CancellationToken,
    fleet: Option<(warden_fleet::Fleet, Arc<crate::alerts::FeedStats>)>,
) -> Result<Option<Analytics>, StartError> {
    if !config.analytics.enabled {
        return Ok(None);
    }
    let book = Arc::new(AlertBook::default());
    throttle.set_locks(Arc::clone(&book) as Arc<dyn warden_gate::auth::LoginLocks>);
    let (task, baselines) = runner::spawn(
        audit.clone(),
        Arc::clone(&book),
        &config.analytics,
        stop,
        fleet,
    )
    .map_err(StartError::Analytics)?;
    Ok(Some(Analytics {
        book,
        baselines,
        task,
    }))
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("targets", &self.targets)
            .finish_non_exhaustive()
    }
}

impl Running {
    /// Stop accepting, drain open connections for up to the configured grace, then
    /// flush the audit log with a final checkpoint. Cancels `shutdown` if not yet done.
    /// Completes when a front-end stops on its own (error or panic) before shutdown:
    /// the gateway must not keep running with a target silently gone.
    pub async fn frontend_exited(&mut self) -> String {
        match self.frontends.join_next().await {
            Some(Ok((name, Ok(())))) => format!("target {name}: front-end stopped"),
            Some(Ok((name, Err(e)))) => format!("target {name}: front-end failed: {e}"),
            Some(Err(e)) => format!("a front-end crashed: {e}"),
            None => std::future::pending().await,
        }
    }

    pub async fn stop(mut self) -> StopReport {
        self.shutdown.cancel();
        let mut report = StopReport::default();
        for t in &self.targets {
            report.cut_off += frontend::drain(&t.ctx, self.grace).await;
        }
        self.frontends.abort_all();
        self.reload_task.abort();
        for task in &self.drift_tasks {
            task.abort();
        }
        if let Some(task) = &self.config_reload_task {
            task.abort();
        }
        if let Some(task) = self.analytics_task.take() {
            // Cancelled with the shutdown token; it lets go of the audit log when it ends.
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
        // Fleet mode: end this replica's lease now (nothing waits on it any more), so a
        // restart under the same id does not wait for it. A no-op embedded.
        self.approvals.leave_fleet().await;
        // Fleet mode: ship the last records and anchor the head before the log closes.
        if let Some(shipper) = self.shipper.take() {
            shipper.finish(Duration::from_secs(10)).await;
        }
        let audit = self.audit.clone();
        match tokio::task::spawn_blocking(move || audit.shutdown()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => report.audit_error = Some(e.to_string()),
            Err(e) => report.audit_error = Some(e.to_string()),
        }
        report
    }
}
