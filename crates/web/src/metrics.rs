//! `/metrics` in the Prometheus text format: pending holds, decisions by outcome, time
//! to decision, audit append latency (as measured by the approvals crate), webhook
//! failures, audit head, and the counters other components hand in (the Gate's
//! decisions) through [`CounterSource`]. Never blocks on anything slow: every value is a
//! snapshot of atomics or in-memory state.

use std::fmt::Write;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use warden_approval::HistogramSnapshot;

use crate::app::App;

/// One counter (or gauge) family another component exposes on `/metrics`.
#[derive(Debug, Clone)]
pub struct CounterFamily {
    pub name: &'static str,
    pub help: &'static str,
    /// A gauge (a value that goes up and down) instead of a counter.
    pub gauge: bool,
    /// Samples: an optional `(label, value)` pair and the count.
    pub samples: Vec<(Option<(&'static str, &'static str)>, u64)>,
}

/// Reads a component's counters when `/metrics` is scraped.
pub type CounterSource = std::sync::Arc<dyn Fn() -> Vec<CounterFamily> + Send + Sync>;

fn counters(out: &mut String, families: &[CounterFamily]) {
    for f in families {
        let _ = writeln!(out, "# HELP {} {}", f.name, f.help);
        let kind = if f.gauge { "gauge" } else { "counter" };
        let _ = writeln!(out, "# TYPE {} {kind}", f.name);
        for (label, n) in &f.samples {
            match label {
                Some((k, v)) => {
                    let _ = writeln!(out, "{}{{{k}=\"{v}\"}} {n}", f.name);
                }
                None => {
                    let _ = writeln!(out, "{} {n}", f.name);
                }
            }
        }
    }
}

fn histogram(out: &mut String, name: &str, help: &str, h: &HistogramSnapshot) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} histogram");
    for (le, count) in &h.buckets {
        let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {count}");
    }
    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", h.count);
    let _ = writeln!(out, "{name}_sum {}", h.sum_seconds);
    let _ = writeln!(out, "{name}_count {}", h.count);
}

pub fn render(app: &App) -> String {
    let s = app.state().approvals.stats();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP warden_approvals_pending Held actions waiting for a decision."
    );
    let _ = writeln!(out, "# TYPE warden_approvals_pending gauge");
    let _ = writeln!(out, "warden_approvals_pending {}", s.pending);
    let _ = writeln!(
        out,
        "# HELP warden_approvals_requested_total Approval requests created."
    );
    let _ = writeln!(out, "# TYPE warden_approvals_requested_total counter");
    let _ = writeln!(out, "warden_approvals_requested_total {}", s.requested);
    let _ = writeln!(
        out,
        "# HELP warden_approval_outcomes_total Requests entering each final or approved state."
    );
    let _ = writeln!(out, "# TYPE warden_approval_outcomes_total counter");
    for (state, n) in &s.outcomes {
        let _ = writeln!(
            out,
            "warden_approval_outcomes_total{{outcome=\"{state}\"}} {n}"
        );
    }
    histogram(
        &mut out,
        "warden_approval_decision_seconds",
        "Time from hold to decision, expiry or withdrawal.",
        &s.time_to_decision,
    );
    histogram(
        &mut out,
        "warden_audit_append_seconds",
        "Durable audit append latency seen by the approvals crate.",
        &s.audit_append,
    );
    let _ = writeln!(
        out,
        "# HELP warden_audit_append_failures_total Audit appends that failed."
    );
    let _ = writeln!(out, "# TYPE warden_audit_append_failures_total counter");
    let _ = writeln!(
        out,
        "warden_audit_append_failures_total {}",
        s.audit_failures
    );
    let _ = writeln!(out, "# HELP warden_notification_failures_total Webhook deliveries that failed after all retries.");
    let _ = writeln!(out, "# TYPE warden_notification_failures_total counter");
    let _ = writeln!(
        out,
        "warden_notification_failures_total {}",
        app.notification_failures_total()
    );
    let (seq, _) = app.state().audit.head();
    let _ = writeln!(
        out,
        "# HELP warden_audit_head_seq Sequence number of the newest audit record."
    );
    let _ = writeln!(out, "# TYPE warden_audit_head_seq gauge");
    let _ = writeln!(out, "warden_audit_head_seq {seq}");
    if let Some(source) = &app.state().counters {
        counters(&mut out, &source());
    }
    out
}

pub async fn metrics(State(app): State<App>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        render(&app),
    )
}
