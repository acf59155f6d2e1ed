//! Errors of the PostgreSQL front-end and how each maps to what the client sees.
//!
//! Error texts may reach the client and the audit log: they must never contain upstream
//! credentials or the user's password.

use super::codec::Report;
use warden_gate::{Refusal, RefusalKind};

/// Everything that can end a PostgreSQL session early.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The peer broke the wire protocol (bad length, truncated message, ...).
    #[error("protocol violation: {0}")]
    Protocol(String),
    #[error("message '{tag}' too large: {len} bytes (limit {max})")]
    TooLarge { tag: char, len: usize, max: usize },
    #[error("tls: {0}")]
    Tls(String),
    /// The client failed to authenticate (reason is safe to show).
    #[error("authentication failed: {0}")]
    Auth(String),
    /// The upstream refused us or spoke nonsense.
    #[error("upstream: {0}")]
    Upstream(String),
    #[error("timed out: {0}")]
    Timeout(&'static str),
}

impl PgError {
    /// The FATAL report a client gets before the connection closes.
    pub fn report(&self) -> Report {
        match self {
            PgError::Io(_) => Report::fatal("08006", "connection failure"),
            PgError::Protocol(m) => Report::fatal("08P01", format!("protocol violation: {m}")),
            PgError::TooLarge { .. } => Report::fatal("08P01", self.to_string()),
            PgError::Tls(m) => Report::fatal("08P01", format!("TLS error: {m}")),
            PgError::Auth(m) => Report::fatal("28P01", m.clone()),
            PgError::Upstream(m) => {
                Report::fatal("08001", format!("Warden could not reach the database: {m}"))
            }
            PgError::Timeout(what) => Report::fatal("08006", format!("timed out: {what}")),
        }
    }
}

/// The client-facing report for a refusal.
pub fn refusal_report(r: &Refusal) -> Report {
    let approval = r.approval_id.as_deref().unwrap_or("-");
    let rule = if r.rule.is_empty() {
        "-"
    } else {
        r.rule.as_str()
    };
    match r.kind {
        RefusalKind::Denied => {
            Report::error("42501", format!("{} (Warden rule \"{rule}\")", r.message))
                .with_detail(format!("Denied by Warden rule \"{rule}\"."))
        }
        RefusalKind::RetryLater => {
            let url = r.url.as_deref().unwrap_or("");
            Report::error(
                "42501",
                format!("statement needs approval {approval} (Warden rule \"{rule}\"); re-send it once approved: {url}"),
            )
            .with_detail(r.message.clone())
        }
        RefusalKind::Expired => Report::error(
            "57014",
            format!("approval {approval} expired: statement not run (Warden rule \"{rule}\")"),
        ),
        RefusalKind::Withdrawn => Report::error(
            "57014",
            format!("approval {approval} was withdrawn: statement not run"),
        ),
        RefusalKind::AuditUnavailable => Report::error(
            "58000",
            "Warden cannot write its audit log; statement refused (fail closed)",
        ),
        RefusalKind::Internal => {
            Report::error("XX000", format!("Warden internal error: {}", r.message))
        }
    }
}
