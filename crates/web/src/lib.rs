//! # warden-web
//!
//! The console (server-rendered HTML, maud) and the JSON API served on `web.listen`:
//! approvals inbox with live updates, request pages, audit explorer, policies,
//! `/metrics`, `/healthz`, and Slack-compatible webhooks.
//!
//! * `auth` — users, Basic auth, session cookies, CSRF, login throttling;
//!   `pages::oidc` — single sign-on through the `oidc:` provider.
//! * `api` — `/api/v1/...`; `pages` — the HTML console; `sse` — `/events`.
//! * `alerts` — behaviour-analytics alerts; `profile` — a user's baseline and alerts;
//!   `insights` (+ `insights_csv`) — the insights charts' API and CSV downloads;
//!   `access` — the role-based access report.
//! * `tokens` — the signed-in person's gateway tokens (page `pages::tokens`, API
//!   `/api/v1/tokens`).
//! * `proposals` — `warden policy propose` (a reviewed policy change) handed to the
//!   gateway.
//! * `webhook` — notifications; `metrics` — Prometheus text; `client` — the API
//!   client behind `warden approvals`.
//!
//! This crate must never decide on actions itself (the Gate and `Approvals` do), never
//! render a statement truncated without saying so, and never accept a cookie-session
//! POST without its CSRF token.

#![forbid(unsafe_code)]

pub mod access;
pub mod alerts;
pub mod api;
pub mod app;
pub mod audit_query;
pub mod auth;
pub mod client;
pub mod error;
pub mod fleet_audit;
pub mod highlight;
pub mod insights;
pub mod insights_csv;
pub mod metrics;
pub mod pages;
pub mod profile;
pub mod proposals;
pub mod sse;
pub mod tokens;
pub mod webhook;

use std::future::Future;

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::Router;
use tokio::sync::broadcast::error::TryRecvError;

pub use alerts::{AlertDesk, AlertDeskError};
pub use app::{App, WebState, WebTarget};
pub use error::WebError;
pub use fleet_audit::FleetAudit;
pub use metrics::{CounterFamily, CounterSource};
pub use proposals::{PolicyProposals, ProposalError, ProposedFile};
pub use webhook::{RetryPolicy, WebhookConfig};

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
}

/// The full router. Spawns the webhook notifier and the dry-run counter, so it must
/// be called inside a tokio runtime.
pub fn router(state: WebState) -> Router {
    router_with(state, RetryPolicy::default())
}

/// `router` with an explicit webhook retry policy (tests use short backoffs).
pub fn router_with(state: WebState, retry: RetryPolicy) -> Router {
    build(state, retry).0
}

fn build(state: WebState, retry: RetryPolicy) -> (Router, App) {
    let app = App::new(state);
    webhook::spawn_notifier(app.clone(), retry);
    webhook::spawn_alert_notifier(app.clone(), retry);
    spawn_dry_run_counter(app.clone());
    let router = Router::new()
        .route("/", get(|| async { Redirect::to("/inbox") }))
        .route("/login", get(pages::login::show).post(pages::login::submit))
        .route("/login/oidc", get(pages::oidc::start))
        .route("/login/oidc/callback", get(pages::oidc::callback))
        .route("/logout", post(pages::login::logout))
        .route("/inbox", get(pages::inbox::show))
        .route("/inbox/items", get(pages::inbox::fragment))
        .route("/approvals/{id}", get(pages::request::show))
        .route("/approvals/{id}/fragment", get(pages::request::fragment))
        .route("/approvals/{id}/decide", post(pages::request::decide))
        .route("/audit", get(pages::audit::show))
        .route("/audit/verify", post(pages::audit::verify))
        .route("/policies", get(pages::policies::show))
        .route("/targets", get(pages::targets::show))
        .route("/alerts", get(pages::alerts::show))
        .route("/alerts/{id}/decide", post(pages::alerts::decide))
        .route("/users/{name}", get(pages::user::show))
        .route(
            "/tokens",
            get(pages::tokens::show).post(pages::tokens::mint),
        )
        .route("/tokens/{id}/revoke", post(pages::tokens::revoke))
        .route("/reports/access", get(pages::access::show))
        .route("/insights", get(pages::insights::show))
        .route("/insights/{file}", get(insights::csv))
        .route("/events", get(sse::events))
        .route(
            "/static/console.css",
            get(|| async { asset("text/css; charset=utf-8", pages::layout::CSS) }),
        )
        .route(
            "/static/console.js",
            get(|| async { asset("text/javascript; charset=utf-8", pages::layout::JS) }),
        )
        .route("/api/v1/approvals", get(api::list_approvals))
        .route("/api/v1/approvals/{id}", get(api::get_approval))
        .route("/api/v1/approvals/{id}/approve", post(api::approve))
        .route("/api/v1/approvals/{id}/deny", post(api::deny))
        .route("/api/v1/alerts", get(alerts::list))
        .route("/api/v1/alerts/{id}/acknowledge", post(alerts::acknowledge))
        .route("/api/v1/alerts/{id}/resolve", post(alerts::resolve))
        .route("/api/v1/users/{name}/profile", get(profile::api))
        .route("/api/v1/reports/access", get(access::api))
        .route("/api/v1/insights", get(insights::api_all))
        .route("/api/v1/insights/{chart}", get(insights::api_chart))
        .route("/api/v1/audit", get(api::audit))
        .route("/api/v1/audit/verify", get(api::audit_verify))
        .route("/api/v1/targets", get(api::targets))
        .route(
            "/api/v1/tokens",
            get(tokens::api_list).post(tokens::api_mint),
        )
        .route("/api/v1/tokens/{id}/revoke", post(tokens::api_revoke))
        .route("/api/v1/policies/proposals", post(proposals::propose))
        .route("/metrics", get(metrics::metrics))
        .route("/healthz", get(api::healthz))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(app.clone());
    (router, app)
}

async fn security_headers(mut resp: axum::response::Response) -> axum::response::Response {
    let h = resp.headers_mut();
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ),
    );
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    resp
}

/// How often the dry-run counter reads what the audit feed gathered. Waking for each
/// record was a task wake-up (a thread hand-off) per statement on a busy gateway; the
/// counts on the Policies page are at most this much behind. A feed that overflowed in
/// between (more than its 4,096 records in this time) loses the overflowed records'
/// hits: the counts are a hint, the audit log has every record.
const DRY_RUN_DRAIN_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

fn spawn_dry_run_counter(app: App) {
    let mut rx = app.state().audit.subscribe();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(DRY_RUN_DRAIN_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = app.stopped() => return,
                _ = tick.tick() => {}
            }
            loop {
                match rx.try_recv() {
                    Ok(record) => {
                        if let Some(v) = &record.event.verdict {
                            if !v.dry_run.is_empty() {
                                app.count_dry_run(&v.dry_run);
                            }
                        }
                    }
                    Err(TryRecvError::Lagged(_)) => continue,
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Closed) => return,
                }
            }
        }
    });
}

/// Serves the console and API on `listener` until `shutdown` completes. Open event
/// streams end when shutdown starts, so the drain finishes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: WebState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, state, RetryPolicy::default(), shutdown).await
}

/// `serve` with an explicit webhook retry policy.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    state: WebState,
    retry: RetryPolicy,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (router, app) = build(state, retry);
    let stop = app.clone();
    let shutdown = async move {
        shutdown.await;
        stop.begin_shutdown();
    };
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}
