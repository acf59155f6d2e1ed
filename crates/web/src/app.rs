//! The shared state of the web server: what the caller hands in (`WebState`) plus what
//! the server keeps for itself (sessions, notification failures, chain status).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use time::OffsetDateTime;
use warden_approval::Approvals;
use warden_audit::AuditLog;
use warden_policy::PolicyStore;

use warden_gate::auth::{LoginThrottle, User, UserDirectory};

use crate::auth::AuthState;
use crate::webhook::WebhookConfig;

/// Everything the console and API need, handed in by `warden serve`.
#[derive(Clone)]
pub struct WebState {
    pub approvals: Approvals,
    pub audit: AuditLog,
    pub policies: PolicyStore,
    /// Warden's users (the same directory the gateways log in against).
    pub users: Arc<UserDirectory>,
    /// The login throttle every gateway shares: failures count across front-ends and
    /// the console.
    pub throttle: Arc<LoginThrottle>,
    /// Base URL for links (no trailing slash needed).
    pub public_url: String,
    /// Mark cookies `Secure` (set when the console is served over TLS).
    pub secure_cookies: bool,
    pub notifications: Vec<WebhookConfig>,
    /// The targets this gateway serves, shown on the Targets page (with the SSH host
    /// key fingerprint users compare on first connect).
    pub targets: Vec<WebTarget>,
    /// Behaviour-analytics alerts (list, acknowledge, resolve); `None` when analytics is
    /// off.
    pub alerts: Option<Arc<dyn crate::alerts::AlertDesk>>,
    /// Counters of other components (the Gate's decisions) for `/metrics`.
    pub counters: Option<crate::metrics::CounterSource>,
    /// Takes `warden policy propose` (`None`: proposals are refused).
    pub proposals: Option<Arc<dyn crate::proposals::PolicyProposals>>,
    /// Single sign-on through the `oidc:` provider (`None`: local users only).
    pub oidc: Option<Arc<warden_oidc::SingleSignOn>>,
    /// Fleet mode: every replica's shipped audit (`None`: this gateway's chain only).
    pub fleet_audit: Option<Arc<dyn crate::fleet_audit::FleetAudit>>,
}

/// One served target, as the console shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct WebTarget {
    pub name: String,
    pub protocol: String,
    /// The address clients connect to.
    pub listen: String,
    pub labels: std::collections::BTreeMap<String, String>,
    /// `SHA256:...` of Warden's host key, for SSH targets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_key_fingerprint: Option<String>,
}

/// One failed notification, shown in the console.
#[derive(Debug, Clone)]
pub struct NotificationFailure {
    pub at: OffsetDateTime,
    pub url: String,
    pub event: String,
    pub error: String,
}

/// The last chain verification, shown as a badge.
#[derive(Debug, Clone)]
pub struct ChainStatus {
    pub at: OffsetDateTime,
    pub ok: bool,
    pub records: u64,
    pub head: String,
    pub problem: Option<String>,
}

const MAX_FAILURES_KEPT: usize = 50;

/// Cheap handle to the server state.
#[derive(Clone)]
pub struct App {
    inner: Arc<AppInner>,
}

struct AppInner {
    state: WebState,
    auth: AuthState,
    failures: Mutex<VecDeque<NotificationFailure>>,
    failures_total: AtomicU64,
    dry_run_hits: Mutex<HashMap<String, u64>>,
    chain: Mutex<Option<ChainStatus>>,
    shutdown: tokio::sync::watch::Sender<bool>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl App {
    pub fn new(state: WebState) -> App {
        App {
            inner: Arc::new(AppInner {
                state,
                auth: AuthState::default(),
                failures: Mutex::new(VecDeque::new()),
                failures_total: AtomicU64::new(0),
                dry_run_hits: Mutex::new(HashMap::new()),
                chain: Mutex::new(None),
                shutdown: tokio::sync::watch::channel(false).0,
            }),
        }
    }

    pub fn state(&self) -> &WebState {
        &self.inner.state
    }

    pub(crate) fn auth(&self) -> &AuthState {
        &self.inner.auth
    }

    /// The user as the directory holds them now (a config reload may swap them).
    pub fn user(&self, name: &str) -> Option<Arc<User>> {
        self.inner.state.users.user(name)
    }

    pub fn public_url(&self) -> &str {
        self.inner.state.public_url.trim_end_matches('/')
    }

    pub fn record_failure(&self, f: NotificationFailure) {
        self.inner.failures_total.fetch_add(1, Ordering::Relaxed);
        let mut q = lock(&self.inner.failures);
        if q.len() >= MAX_FAILURES_KEPT {
            q.pop_front();
        }
        q.push_back(f);
    }

    /// Newest first.
    pub fn failures(&self) -> Vec<NotificationFailure> {
        lock(&self.inner.failures).iter().rev().cloned().collect()
    }

    pub fn notification_failures_total(&self) -> u64 {
        self.inner.failures_total.load(Ordering::Relaxed)
    }

    /// Dry-run rule hits seen on the audit feed since start, by rule name.
    pub fn dry_run_hits(&self) -> HashMap<String, u64> {
        lock(&self.inner.dry_run_hits).clone()
    }

    pub(crate) fn count_dry_run(&self, rules: &[String]) {
        let mut hits = lock(&self.inner.dry_run_hits);
        for r in rules {
            *hits.entry(r.clone()).or_insert(0) += 1;
        }
    }

    /// Ends long-lived streams (server-sent events).
    pub fn begin_shutdown(&self) {
        self.inner.shutdown.send_replace(true);
    }

    /// Completes once shutdown began: background tasks end then and let go of the
    /// stores (an in-process restart can open them again).
    pub async fn stopped(&self) {
        let mut rx = self.shutdown_signal();
        let _ = rx.wait_for(|stopping| *stopping).await;
    }

    pub fn shutdown_signal(&self) -> tokio::sync::watch::Receiver<bool> {
        self.inner.shutdown.subscribe()
    }

    pub fn chain_status(&self) -> Option<ChainStatus> {
        lock(&self.inner.chain).clone()
    }

    /// Runs a full chain verification on the blocking pool and remembers the result.
    pub async fn verify_chain(&self) -> Result<ChainStatus, crate::error::WebError> {
        let audit = self.inner.state.audit.clone();
        let report = tokio::task::spawn_blocking(move || audit.verify())
            .await
            .map_err(|e| crate::error::WebError::Internal(e.to_string()))?;
        let status = ChainStatus {
            at: OffsetDateTime::now_utc(),
            ok: report.ok,
            records: report.records,
            head: report.head.clone(),
            problem: report.problem.clone(),
        };
        *lock(&self.inner.chain) = Some(status.clone());
        Ok(status)
    }
}
