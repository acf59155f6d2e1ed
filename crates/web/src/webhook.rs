//! Slack-compatible webhooks on new holds and decisions.
//!
//! Delivery runs on its own tasks with retries and backoff; it never blocks the Gate or
//! a decision. A delivery that fails after every retry is audited
//! (`EventKind::Notification`) and shown in the console.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tokio::sync::broadcast::error::RecvError;
use warden_approval::{ApprovalRequest, ApprovalState};
use warden_audit::{Durability, Event, EventKind};

use crate::app::{App, NotificationFailure};

/// One webhook: where to post and on which events (`hold`, `decision`, `deny`, `alert`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookConfig {
    pub url: String,
    pub on: Vec<String>,
}

/// Retry schedule: attempts and the first backoff (doubled after each failure).
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub first_backoff: Duration,
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 4,
            first_backoff: Duration::from_millis(500),
            timeout: Duration::from_secs(10),
        }
    }
}

/// Which event names a transition is: a new hold, or a decision (and `deny` for denials).
fn events_for(req: &ApprovalRequest) -> Vec<&'static str> {
    match req.state {
        ApprovalState::Pending if req.approvals.is_empty() => vec!["hold"],
        ApprovalState::Pending => vec![],
        ApprovalState::Denied => vec!["decision", "deny"],
        ApprovalState::Approved | ApprovalState::Expired | ApprovalState::Withdrawn => {
            vec!["decision"]
        }
        ApprovalState::Executed => vec![],
    }
}

fn message(app: &App, req: &ApprovalRequest) -> String {
    let url = app.state().approvals.url_for(&req.id);
    let a = &req.action;
    let mut raw: String = a.raw.chars().take(500).collect();
    if raw.len() < a.raw.len() {
        raw.push_str(" … (truncated; full text in the console)");
    }
    match req.state {
        ApprovalState::Pending => format!(
            "Warden: {} on {} ({}) is held by {} and needs approval from {}: ```{}``` {}",
            a.user.name,
            a.target.name,
            a.protocol,
            req.rules.join(", "),
            req.approvers_description(),
            raw,
            url
        ),
        ApprovalState::Denied => {
            let (by, why) = req
                .denial
                .as_ref()
                .map(|d| (d.by.clone(), d.reason.clone().unwrap_or_default()))
                .unwrap_or_default();
            format!(
                "Warden: request {} by {} on {} was DENIED by {by}. {why} {url}",
                req.id, a.user.name, a.target.name
            )
        }
        state => format!(
            "Warden: request {} by {} on {} is {}{}. {url}",
            req.id,
            a.user.name,
            a.target.name,
            state.as_str(),
            if req.approvals.is_empty() {
                String::new()
            } else {
                format!(" (approved by {})", req.approvers().join(", "))
            }
        ),
    }
}

/// Posts `text` to `url`, retrying with exponential backoff. Returns the last error.
pub async fn deliver(
    client: &reqwest::Client,
    url: &str,
    text: &str,
    retry: RetryPolicy,
) -> Result<(), String> {
    let body = serde_json::json!({ "text": text });
    let mut backoff = retry.first_backoff;
    let mut last = String::new();
    for attempt in 1..=retry.attempts.max(1) {
        match client
            .post(url)
            .timeout(retry.timeout)
            .json(&body)
            .send()
            .await
        {
            Ok(r) if r.status().is_success() => return Ok(()),
            Ok(r) => last = format!("HTTP {} (attempt {attempt})", r.status()),
            Err(e) => last = format!("{} (attempt {attempt})", e.without_url()),
        }
        if attempt < retry.attempts {
            tokio::time::sleep(backoff).await;
            backoff = backoff.saturating_mul(2);
        }
    }
    Err(last)
}

/// Spawns the notifier: one task reading the approvals feed, one task per delivery.
pub fn spawn_notifier(app: App, retry: RetryPolicy) {
    if app.state().notifications.is_empty() {
        return;
    }
    let client = reqwest::Client::new();
    let mut rx = app.state().approvals.subscribe();
    tokio::spawn(async move {
        loop {
            let received = tokio::select! {
                _ = app.stopped() => return,
                r = rx.recv() => r,
            };
            let req = match received {
                Ok(req) => req,
                Err(RecvError::Lagged(n)) => {
                    tracing::warn!(
                        missed = n,
                        "webhook notifier lagged behind the approvals feed"
                    );
                    continue;
                }
                Err(RecvError::Closed) => return,
            };
            let kinds = events_for(&req);
            if kinds.is_empty() {
                continue;
            }
            let text = message(&app, &req);
            for hook in app.state().notifications.iter() {
                let Some(kind) = kinds.iter().find(|k| hook.on.iter().any(|o| o == *k)) else {
                    continue;
                };
                let (app, client, url, text, kind, id) = (
                    app.clone(),
                    client.clone(),
                    hook.url.clone(),
                    text.clone(),
                    kind.to_string(),
                    req.id.clone(),
                );
                tokio::spawn(async move {
                    if let Err(error) = deliver(&client, &url, &text, retry).await {
                        notification_failed(&app, &url, &kind, &id, error).await;
                    }
                });
            }
        }
    });
}

/// Spawns the alert notifier: reads the audit feed and posts every `alert_raised`
/// record to the webhooks subscribed to `alert` (Slack-compatible `{"text": ...}`).
pub fn spawn_alert_notifier(app: App, retry: RetryPolicy) {
    let hooks: Vec<String> = app
        .state()
        .notifications
        .iter()
        .filter(|h| h.on.iter().any(|o| o == "alert"))
        .map(|h| h.url.clone())
        .collect();
    if hooks.is_empty() {
        return;
    }
    let client = reqwest::Client::new();
    let mut rx = app.state().audit.subscribe();
    tokio::spawn(async move {
        loop {
            let received = tokio::select! {
                _ = app.stopped() => return,
                r = rx.recv() => r,
            };
            let rec = match received {
                Ok(rec) => rec,
                Err(RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "alert notifier lagged behind the audit feed");
                    continue;
                }
                Err(RecvError::Closed) => return,
            };
            let (EventKind::AlertRaised, Some(alert)) = (rec.event.kind, &rec.event.alert) else {
                continue;
            };
            let text = format!(
                "Warden alert {} [{}] {}: {} {}/api/v1/alerts?status=open",
                alert.id,
                alert.severity,
                alert.detector,
                alert.explanation.as_deref().unwrap_or(""),
                app.public_url()
            );
            for url in &hooks {
                let (app, client, url, text, id) = (
                    app.clone(),
                    client.clone(),
                    url.clone(),
                    text.clone(),
                    alert.id.clone(),
                );
                tokio::spawn(async move {
                    if let Err(error) = deliver(&client, &url, &text, retry).await {
                        notification_failed(&app, &url, "alert", &id, error).await;
                    }
                });
            }
        }
    });
}

/// Webhook URLs usually embed a secret token: only scheme and host are ever shown.
pub fn redact_url(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            let host = host.rsplit('@').next().unwrap_or(host);
            format!("{scheme}://{host}/…")
        }
        None => "(webhook)".to_string(),
    }
}

async fn notification_failed(app: &App, url: &str, kind: &str, id: &str, error: String) {
    let url = &redact_url(url);
    // reqwest errors can quote the URL; keep only the redacted form.
    let error = error.replace(url.trim_end_matches('…'), "");
    tracing::warn!(url, kind, id, error, "webhook delivery failed");
    app.record_failure(NotificationFailure {
        at: OffsetDateTime::now_utc(),
        url: url.to_string(),
        event: format!("{kind} {id}"),
        error: error.clone(),
    });
    let mut ev = Event::new(EventKind::Notification);
    ev.approval = Some(warden_audit::ApprovalRef {
        id: id.to_string(),
        approvers: Vec::new(),
        reason: None,
    });
    ev.detail = Some(format!("webhook {kind} to {url} failed: {error}"));
    if let Err(e) = app.state().audit.append(ev, Durability::Queued).await {
        tracing::error!(error = %e, "could not audit a webhook failure");
    }
}
