//! The slice of an audit record the insights aggregator reads: [`InsightFacts`], and the
//! pure helpers that name what a record used (an HTTP endpoint template, a Kubernetes
//! resource, an SSH program) and what kind of error it hit.
//!
//! Building one never fails: what cannot be classified becomes `Kind::Other` (ignored) or
//! an `error (no code)` class. Never reads anything but its arguments.

use std::borrow::Cow;

use crate::observation::Decision;

/// What a record is, as far as the insights care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `action_decided`: an action and its verdict (a read-only allow also carries its
    /// outcome: [`InsightFacts::error`] may be set).
    Decided,
    /// `action_completed`: what an allowed action did.
    Completed,
    /// `authenticated`.
    LoggedIn,
    /// `auth_failed`.
    LoginFailed,
    /// `approval_requested`.
    ApprovalRequested,
    /// `approval_approved` (one per approver).
    ApprovalApproved,
    /// `approval_denied`.
    ApprovalDenied,
    /// `approval_expired`.
    ApprovalExpired,
    /// `approval_withdrawn`.
    ApprovalWithdrawn,
    Other,
}

/// The kinds of feature the usage chart ranks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Feature {
    /// A SQL statement kind (`select`, `update`, ...).
    SqlStatement,
    /// `METHOD /path/{id}` of a plain HTTP request.
    HttpEndpoint,
    /// `verb resource[/subresource]` of a Kubernetes API request.
    KubeResource,
    /// The program of an SSH command (`(shell)`, `(sftp)`, `(forwarding)` otherwise).
    SshProgram,
}

impl Feature {
    pub const ALL: [Feature; 4] = [
        Feature::SqlStatement,
        Feature::HttpEndpoint,
        Feature::KubeResource,
        Feature::SshProgram,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Feature::SqlStatement => "sql-statement",
            Feature::HttpEndpoint => "http-endpoint",
            Feature::KubeResource => "kubernetes-resource",
            Feature::SshProgram => "ssh-program",
        }
    }

    pub(crate) fn index(self) -> u8 {
        self as u8
    }
}

/// One record as the aggregator sees it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InsightFacts<'a> {
    /// Event time, Unix nanoseconds.
    pub time: i64,
    pub kind: Option<Kind>,
    /// The actor (or the action's user); for approval decisions, who decided.
    pub user: Option<Cow<'a, str>>,
    pub roles: Vec<Cow<'a, str>>,
    pub target: Option<Cow<'a, str>>,
    /// The front-end's protocol (`postgres`, `http`, ...).
    pub protocol: Option<&'static str>,
    pub decision: Option<Decision>,
    /// What the action used (several SQL statements give several entries).
    pub features: Vec<(Feature, Cow<'a, str>)>,
    /// The error class of a failed outcome (`SQLSTATE 42`, `HTTP 404`, `exit 1`).
    pub error: Option<Cow<'a, str>>,
    /// Logins: the method (`authenticated`) or the reason (`auth_failed`), as recorded.
    pub auth_detail: Option<Cow<'a, str>>,
    /// Approvals: the request id.
    pub approval: Option<Cow<'a, str>>,
}

impl Kind {
    /// From the audit event kind's wire name.
    pub fn from_name(name: &str) -> Kind {
        match name {
            "action_decided" => Kind::Decided,
            "action_completed" => Kind::Completed,
            "authenticated" => Kind::LoggedIn,
            "auth_failed" => Kind::LoginFailed,
            "approval_requested" => Kind::ApprovalRequested,
            "approval_approved" => Kind::ApprovalApproved,
            "approval_denied" => Kind::ApprovalDenied,
            "approval_expired" => Kind::ApprovalExpired,
            "approval_withdrawn" => Kind::ApprovalWithdrawn,
            _ => Kind::Other,
        }
    }
}

/// `GET /api/orders/{id}`: the method and the path with identifier-like segments
/// (numbers, UUIDs, long hex, long mixed tokens) replaced by `{id}`, so that one
/// endpoint is one name however many records it has.
pub fn endpoint(method: &str, path: &str) -> String {
    let mut out = String::with_capacity(method.len() + path.len() + 1);
    out.push_str(method);
    out.push(' ');
    let mut first = true;
    for seg in path.split('/') {
        if !first {
            out.push('/');
        }
        first = false;
        if looks_like_id(seg) {
            out.push_str("{id}");
        } else {
            out.push_str(seg);
        }
    }
    out
}

fn looks_like_id(seg: &str) -> bool {
    if seg.is_empty() {
        return false;
    }
    let digits = seg.bytes().filter(u8::is_ascii_digit).count();
    let hexish = seg.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    digits == seg.len() || (hexish && seg.len() >= 16) || (digits >= 4 && seg.len() >= 8)
}

/// The error class of a failed outcome, or `None` when it did not fail.
///
/// * PostgreSQL records `SQLSTATE: message` → `SQLSTATE 42` (the two-character class);
/// * MySQL records `code: message` → `MySQL 1146` (its SQLSTATE is not recorded);
/// * HTTP and Kubernetes: a status of 400 or more → `HTTP 404`;
/// * SSH: a non-zero exit status → `exit 1`;
/// * any other error text → `error (no code)`.
pub fn error_class(
    protocol: Option<&str>,
    status: Option<&str>,
    error: Option<&str>,
) -> Option<String> {
    let status = status.map(str::trim).filter(|s| !s.is_empty());
    let code = status.and_then(|s| s.parse::<u32>().ok());
    match protocol {
        Some("http" | "kubernetes") => {
            if let Some(c) = code.filter(|c| *c >= 400) {
                return Some(format!("HTTP {c}"));
            }
        }
        Some("ssh") => {
            if let Some(c) = code.filter(|c| *c != 0) {
                return Some(format!("exit {c}"));
            }
        }
        _ => {}
    }
    let error = error.map(str::trim).filter(|e| !e.is_empty())?;
    let head = error.split(':').next().unwrap_or("");
    let sqlstate = head.len() == 5 && head.bytes().all(|b| b.is_ascii_alphanumeric());
    if sqlstate && matches!(protocol, Some("postgres") | None) {
        return Some(format!("SQLSTATE {}", &head[..2]));
    }
    if protocol == Some("mysql") && !head.is_empty() && head.bytes().all(|b| b.is_ascii_digit()) {
        return Some(format!("MySQL {head}"));
    }
    Some("error (no code)".to_string())
}

/// A login refused by the throttle or an alert's lock (`locked (…)`, `throttled (…)`).
pub fn is_lockout(detail: &str) -> bool {
    detail.contains("locked (") || detail.contains("throttled (")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_fold_identifiers() {
        assert_eq!(endpoint("GET", "/api/orders/123"), "GET /api/orders/{id}");
        assert_eq!(
            endpoint(
                "DELETE",
                "/api/users/6f1c2b7e-0f4d-4b8a-9c9a-2d3e4f5a6b7c/keys"
            ),
            "DELETE /api/users/{id}/keys"
        );
        assert_eq!(endpoint("GET", "/api/health"), "GET /api/health");
        assert_eq!(endpoint("GET", "/v2/acct2024x99"), "GET /v2/{id}");
        assert_eq!(endpoint("GET", "/"), "GET /");
    }

    #[test]
    fn error_classes() {
        let c = |p, s, e| error_class(Some(p), s, e);
        assert_eq!(
            c(
                "postgres",
                None,
                Some("42P01: relation \"x\" does not exist")
            )
            .as_deref(),
            Some("SQLSTATE 42")
        );
        assert_eq!(
            c("mysql", None, Some("1146: Table 't' doesn't exist")).as_deref(),
            Some("MySQL 1146")
        );
        assert_eq!(c("http", Some("404"), None).as_deref(), Some("HTTP 404"));
        assert_eq!(c("http", Some("200"), None), None);
        assert_eq!(c("ssh", Some("1"), None).as_deref(), Some("exit 1"));
        assert_eq!(c("ssh", Some("0"), None), None);
        assert_eq!(c("postgres", Some("SELECT 1"), None), None);
        assert_eq!(
            c("postgres", None, Some("syntax error")).as_deref(),
            Some("error (no code)")
        );
    }

    #[test]
    fn lockouts() {
        assert!(is_lockout("locked (900s): locked by alert al-1"));
        assert!(is_lockout("http: throttled (300s)"));
        assert!(!is_lockout("wrong password"));
    }
}
