//! The running gateway: runtime + console, until SIGINT/SIGTERM, then a graceful stop.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use tokio::net::TcpListener;
use warden_policy::PolicySet;
use warden_proxy::config::Config;
use warden_proxy::runtime::{self, Running, StartError};
use warden_proxy::CancellationToken;
use warden_web::{WebState, WebTarget, WebUser, WebhookConfig};

/// What the caller learns once everything listens (used by `demo` for its tour).
pub struct Started {
    pub console: SocketAddr,
    pub targets: Vec<(String, String, SocketAddr)>,
}

/// Start everything, print where it listens, run until a signal, stop gracefully.
/// `web_listener`: an already bound console socket (demo), else `web.listen` is bound.
pub async fn run(config: Config, set: PolicySet, web_listener: Option<TcpListener>) -> ExitCode {
    run_with(config, set, web_listener, |_| {}).await
}

pub async fn run_with(
    config: Config,
    set: PolicySet,
    web_listener: Option<TcpListener>,
    on_started: impl FnOnce(&Started),
) -> ExitCode {
    let shutdown = CancellationToken::new();
    let web_listener = match web_listener {
        Some(l) => l,
        None => match TcpListener::bind(config.web.listen).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!(
                    "error: console: cannot listen on {}: {e}",
                    config.web.listen
                );
                return ExitCode::from(1);
            }
        },
    };
    let mut running = match runtime::start(&config, set, shutdown.clone()).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            let code = if matches!(e, StartError::Unsupported { .. }) {
                2
            } else {
                1
            };
            return ExitCode::from(code);
        }
    };
    let console = web_listener.local_addr().unwrap_or(config.web.listen);
    let state = web_state(&config, &running);
    let served = state.targets.clone();
    let web = match &config.web.tls {
        None => {
            let web_shutdown = shutdown.clone();
            tokio::spawn(warden_web::serve(web_listener, state, async move {
                web_shutdown.cancelled().await
            }))
        }
        Some(files) => match runtime::web_tls::server_config(files) {
            Ok(tls) => tokio::spawn(runtime::web_tls::serve(
                web_listener,
                tls,
                warden_web::router(state),
                shutdown.clone(),
            )),
            Err(e) => {
                eprintln!("error: web.tls: {e}");
                running.stop().await;
                return ExitCode::from(1);
            }
        },
    };
    let scheme = if config.web.tls.is_some() {
        "https"
    } else {
        "http"
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
    println!(
        "warden: console listening on {scheme}://{console} (public URL {})",
        config.web.public_url
    );
    for (name, proto, addr) in &started.targets {
        println!("warden: target {name} ({proto}) listening on {addr}");
    }
    for target in &served {
        if let Some(fp) = &target.host_key_fingerprint {
            println!("warden: target {} host key fingerprint {fp}", target.name);
        }
    }
    on_started(&started);
    tracing::info!("ready");

    let mut failed = false;
    tokio::select! {
        _ = super::signals::terminated() => tracing::info!("signal received; shutting down"),
        _ = shutdown.cancelled() => {}
        why = running.frontend_exited() => {
            eprintln!("error: {why}; shutting down");
            failed = true;
        }
    }
    let code = stop(running, web, config.shutdown_grace).await;
    if failed {
        ExitCode::from(1)
    } else {
        code
    }
}

async fn stop(
    running: Running,
    web: tokio::task::JoinHandle<std::io::Result<()>>,
    grace: Duration,
) -> ExitCode {
    let report = running.stop().await;
    if tokio::time::timeout(grace, web).await.is_err() {
        tracing::warn!("console did not stop within the grace period");
    }
    if report.cut_off > 0 {
        tracing::warn!(
            connections = report.cut_off,
            "connections cut off at the drain deadline"
        );
    }
    match report.audit_error {
        Some(e) => {
            eprintln!("error: the audit log could not be sealed on shutdown: {e}");
            ExitCode::from(1)
        }
        None => {
            println!("warden: stopped");
            ExitCode::SUCCESS
        }
    }
}

fn web_state(config: &Config, running: &Running) -> WebState {
    WebState {
        approvals: running.approvals.clone(),
        audit: running.audit.clone(),
        policies: running.policies.clone(),
        users: config
            .users
            .iter()
            .map(|u| WebUser {
                name: u.name.clone(),
                roles: u.roles.clone(),
                // Users without a password cannot log in to the console.
                password_hash: u.password_hash.clone().unwrap_or_default(),
            })
            .collect(),
        public_url: config.web.public_url.clone(),
        secure_cookies: config.web.public_url.starts_with("https://"),
        targets: running
            .targets
            .iter()
            .map(|t| web_target(config, t))
            .collect(),
        counters: Some(gate_counters(running.gate.clone())),
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
fn web_target(config: &Config, t: &warden_proxy::runtime::RunningTarget) -> WebTarget {
    let host_key_fingerprint = (t.config.protocol == warden_inspect::Protocol::Ssh)
        .then(|| {
            warden_proxy::ssh::host_key_fingerprint(&t.config, &config.data_dir)
                .map_err(|e| eprintln!("warning: target {}: host key: {e}", t.config.name))
                .ok()
        })
        .flatten();
    WebTarget {
        name: t.config.name.clone(),
        protocol: t.config.protocol.to_string(),
        listen: t.local_addr.to_string(),
        labels: t.config.labels.clone(),
        host_key_fingerprint,
    }
}

/// The Gate's decision counters, read at each `/metrics` scrape.
fn gate_counters(gate: warden_proxy::gate::Gate) -> warden_web::CounterSource {
    std::sync::Arc::new(move || {
        let s = gate.stats();
        vec![
            warden_web::CounterFamily {
                name: "warden_gate_decisions_total",
                help: "Actions decided by the Gate, by verdict (retry_later: held in retry mode).",
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
                samples: vec![
                    (Some(("outcome", "approved")), s.hold_approved),
                    (Some(("outcome", "refused")), s.hold_refused),
                ],
            },
            warden_web::CounterFamily {
                name: "warden_gate_audit_failures_total",
                help: "Actions refused because the audit log could not record them (fail closed).",
                samples: vec![(None, s.audit_failures)],
            },
            warden_web::CounterFamily {
                name: "warden_gate_outcomes_recorded_total",
                help: "Allowed actions whose outcome was recorded.",
                samples: vec![(None, s.completed)],
            },
        ]
    })
}
