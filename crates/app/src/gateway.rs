//! The running gateway: runtime + console, until SIGINT/SIGTERM (or a front-end dying),
//! then a graceful stop. `warden serve` and `warden demo` call [`run`]; tests that need a
//! whole gateway call [`start`] and stop it themselves.
//!
//! Must never report a clean stop when the audit log could not be sealed.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use warden_config::Config;
use warden_policy::PolicySet;
use warden_web::{WebState, WebTarget, WebhookConfig};

use crate::drift::proposals::ProposalDesk;
use crate::drift::shelf::Shelf;
use crate::runtime::{self, Running, RunningTarget, StartError};
use crate::web_tls;

/// What the caller learns once everything listens (used by `demo` for its tour).
pub struct Started {
    pub console: SocketAddr,
    /// `(name, protocol, address)` of every target.
    pub targets: Vec<(String, String, SocketAddr)>,
}

/// Why the gateway did not run or did not stop cleanly. [`RunError::is_config`] errors
/// are the operator's to fix in the files (exit 2); the others are runtime failures.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("console: cannot listen on {addr}: {source}")]
    ConsoleBind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Start(#[from] StartError),
    #[error("web.tls: {0}")]
    ConsoleTls(String),
    #[error("{0}; shut down")]
    FrontendExited(String),
    #[error("the audit log could not be sealed on shutdown: {0}")]
    Seal(String),
}

impl RunError {
    /// A mistake in the configuration rather than a failure of the machine.
    pub fn is_config(&self) -> bool {
        matches!(self, RunError::Start(StartError::Unsupported { .. }))
    }
}

/// A gateway with its console, started and listening.
pub struct Gateway {
    pub running: Running,
    pub started: Started,
    pub shutdown: CancellationToken,
    web: JoinHandle<std::io::Result<()>>,
    grace: Duration,
}

/// Start everything, print where it listens, run until a signal, stop gracefully.
/// `web_listener`: an already bound console socket (demo), else `web.listen` is bound.
pub async fn run(
    config: Config,
    set: PolicySet,
    web_listener: Option<TcpListener>,
    on_started: impl FnOnce(&Started),
) -> Result<(), RunError> {
    // Listen for SIGTERM before the front-ends accept anything (see `termination`).
    let terminated = crate::signals::termination();
    let mut gateway = start(&config, set, web_listener).await?;
    announce(&config, &gateway);
    on_started(&gateway.started);
    tracing::info!("ready");
    let exited = tokio::select! {
        _ = terminated => {
            tracing::info!("signal received; shutting down");
            None
        }
        _ = gateway.shutdown.cancelled() => None,
        why = gateway.running.frontend_exited() => Some(why),
    };
    let stopped = gateway.stop().await;
    match exited {
        Some(why) => Err(RunError::FrontendExited(why)),
        None => stopped,
    }
}

/// Bind the console, start the runtime (stores, Gate, front-ends) and the console.
pub async fn start(
    config: &Config,
    set: PolicySet,
    web_listener: Option<TcpListener>,
) -> Result<Gateway, RunError> {
    let shutdown = CancellationToken::new();
    let web_listener = match web_listener {
        Some(l) => l,
        None => TcpListener::bind(config.web.listen)
            .await
            .map_err(|source| RunError::ConsoleBind {
                addr: config.web.listen,
                source,
            })?,
    };
    let running = runtime::start(config, set, shutdown.clone()).await?;
    let console = web_listener.local_addr().unwrap_or(config.web.listen);
    let desk = proposal_desk(config, &running);
    desk.resume().await;
    let oidc = config.oidc.clone().map(|s| single_sign_on(s, &shutdown));
    let state = web_state(config, &running, oidc, desk);
    let web = match serve_console(config, web_listener, state, &shutdown) {
        Ok(web) => web,
        Err(e) => {
            running.stop().await;
            return Err(e);
        }
    };
    let started = Started {
        console,
        targets: running
            .targets
            .iter()
            .map(|t| {
                (
                    t.config.name.clone(),
                    t.config.protocol.to_string(),
                    t.local_addr,
                )
            })
            .collect(),
    };
    Ok(Gateway {
        running,
        started,
        shutdown,
        web,
        grace: config.shutdown_grace,
    })
}

/// The `oidc:` provider, discovered in the background: the console serves (local users
/// sign in) while the provider cannot be reached, and discovery is retried until it can.
fn single_sign_on(
    settings: warden_config::OidcConfig,
    shutdown: &CancellationToken,
) -> Arc<warden_oidc::SingleSignOn> {
    let sso = Arc::new(warden_oidc::SingleSignOn::new(settings));
    let (task, stop) = (Arc::clone(&sso), shutdown.clone());
    tokio::spawn(async move { task.discover_until_ready(stop.cancelled()).await });
    sso
}

/// The console over plain HTTP, or HTTPS when `web.tls` is set.
fn serve_console(
    config: &Config,
    listener: TcpListener,
    state: WebState,
    shutdown: &CancellationToken,
) -> Result<JoinHandle<std::io::Result<()>>, RunError> {
    match &config.web.tls {
        None => {
            let web_shutdown = shutdown.clone();
            Ok(tokio::spawn(warden_web::serve(
                listener,
                state,
                async move { web_shutdown.cancelled().await },
            )))
        }
        Some(files) => {
            let tls =
                web_tls::server_config(files).map_err(|e| RunError::ConsoleTls(e.to_string()))?;
            Ok(tokio::spawn(web_tls::serve(
                listener,
                tls,
                warden_web::router(state),
                shutdown.clone(),
            )))
        }
    }
}

/// Where everything listens, on stdout.
fn announce(config: &Config, gateway: &Gateway) {
    let scheme = if config.web.tls.is_some() {
        "https"
    } else {
        "http"
    };
    println!(
        "warden: console listening on {scheme}://{} (public URL {})",
        gateway.started.console, config.web.public_url
    );
    for (name, proto, addr) in &gateway.started.targets {
        println!("warden: target {name} ({proto}) listening on {addr}");
    }
    for t in &gateway.running.targets {
        if let Some(fp) = host_key_fingerprint(config, t) {
            println!("warden: target {} host key fingerprint {fp}", t.config.name);
        }
    }
}

impl Gateway {
    /// Stop accepting, drain, stop the console, seal the audit log.
    pub async fn stop(self) -> Result<(), RunError> {
        self.shutdown.cancel();
        let report = self.running.stop().await;
        if tokio::time::timeout(self.grace, self.web).await.is_err() {
            tracing::warn!("console did not stop within the grace period");
        }
        if report.cut_off > 0 {
            tracing::warn!(
                connections = report.cut_off,
                "connections cut off at the drain deadline"
            );
        }
        match report.audit_error {
            Some(e) => Err(RunError::Seal(e)),
            None => Ok(()),
        }
    }
}

/// The reviewed path for policy changes, with the proposals kept under the data dir.
fn proposal_desk(config: &Config, running: &Running) -> ProposalDesk {
    ProposalDesk {
        reloader: running.reloader.clone(),
        approvals: running.approvals.clone(),
        audit: running.audit.clone(),
        review: config.policy_review.clone(),
        shutdown: running.shutdown.child_token(),
        shelf: Shelf::new(&config.data_dir),
    }
}

fn web_state(
    config: &Config,
    running: &Running,
    oidc: Option<Arc<warden_oidc::SingleSignOn>>,
    desk: ProposalDesk,
) -> WebState {
    WebState {
        approvals: running.approvals.clone(),
        audit: running.audit.clone(),
        policies: running.policies.clone(),
        users: Arc::clone(&running.users),
        throttle: Arc::clone(&running.throttle),
        public_url: config.web.public_url.clone(),
        secure_cookies: config.web.public_url.starts_with("https://"),
        targets: running
            .targets
            .iter()
            .map(|t| web_target(config, t))
            .collect(),
        alerts: running
            .alerts
            .as_ref()
            .zip(running.baselines.as_ref())
            .map(|(book, baselines)| {
                Arc::new(crate::alerts::Desk {
                    book: Arc::clone(book),
                    baselines: Arc::clone(baselines),
                    audit: running.audit.clone(),
                }) as Arc<dyn warden_web::AlertDesk>
            }),
        counters: Some(gate_counters(
            running.gate.clone(),
            running.fleet_feed.clone(),
        )),
        oidc,
        proposals: Some(crate::drift::proposals::desk(desk)),
        fleet_audit: running.fleet.clone().map(|f| {
            Arc::new(crate::fleet_audit::FleetAuditDesk(f)) as Arc<dyn warden_web::FleetAudit>
        }),
        notifications: config
            .notifications
            .iter()
            .map(|n| WebhookConfig {
                url: n.webhook.clone(),
                on: n.on.clone(),
            })
            .collect(),
    }
}

/// A served target as the console shows it; an SSH target's host key fingerprint is read
/// from its key file (the front-end created it before `start` returned).
fn web_target(config: &Config, t: &RunningTarget) -> WebTarget {
    WebTarget {
        name: t.config.name.clone(),
        protocol: t.config.protocol.to_string(),
        listen: t.local_addr.to_string(),
        labels: t.config.labels.clone(),
        host_key_fingerprint: host_key_fingerprint(config, t),
    }
}

/// An SSH target's host key fingerprint, read from its key file (the front-end created
/// it before `start` returned).
fn host_key_fingerprint(config: &Config, t: &RunningTarget) -> Option<String> {
    if t.config.protocol != warden_inspect::Protocol::Ssh {
        return None;
    }
    warden_frontend_ssh::host_key_fingerprint(&t.config, &config.data_dir)
        .map_err(|e| tracing::warn!(target_name = %t.config.name, error = %e, "host key"))
        .ok()
}

/// The Gate's decision counters (and, in fleet mode, the analytics feed's), read at
/// each `/metrics` scrape.
fn gate_counters(
    gate: warden_gate::Gate,
    feed: Option<Arc<crate::alerts::FeedStats>>,
) -> warden_web::CounterSource {
    std::sync::Arc::new(move || {
        let s = gate.stats();
        let mut families = feed.as_ref().map(|f| f.families()).unwrap_or_default();
        families.extend([
            warden_web::CounterFamily {
                name: "warden_gate_decisions_total",
                help: "Actions decided by the Gate, by verdict (retry_later: held in retry mode).",
                gauge: false,
                samples: vec![
                    (Some(("decision", "allow")), s.allowed),
                    (Some(("decision", "deny")), s.denied),
                    (Some(("decision", "hold")), s.held),
                    (Some(("decision", "retry_later")), s.retry_later),
                ],
            },
            warden_web::CounterFamily {
                name: "warden_gate_hold_outcomes_total",
                help: "Held actions that ended: approved and run, or refused (denied, expired, withdrawn).",
                gauge: false,
                samples: vec![
                    (Some(("outcome", "approved")), s.hold_approved),
                    (Some(("outcome", "refused")), s.hold_refused),
                ],
            },
            warden_web::CounterFamily {
                name: "warden_gate_audit_failures_total",
                help: "Actions refused because the audit log could not record them (fail closed).",
                gauge: false,
                samples: vec![(None, s.audit_failures)],
            },
            warden_web::CounterFamily {
                name: "warden_gate_outcomes_recorded_total",
                help: "Allowed actions whose outcome was recorded.",
                gauge: false,
                samples: vec![(None, s.completed)],
            },
        ]);
        families
    })
}
