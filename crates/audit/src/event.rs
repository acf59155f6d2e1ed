//! What callers hand the audit log: one typed event.

use serde::{Deserialize, Serialize};
use warden_inspect::{Action, Actor, Protocol};

/// The kind of an audit event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    ConnectionOpened,
    Authenticated,
    AuthFailed,
    ConnectionClosed,
    ActionDecided,
    ActionCompleted,
    ApprovalRequested,
    ApprovalApproved,
    ApprovalDenied,
    ApprovalExpired,
    ApprovalWithdrawn,
    ApprovalExecuted,
    PolicyReloaded,
    PolicyReloadFailed,
    /// warden.yaml was re-read at run time and its users swapped in. `detail` names what
    /// changed (`users added: a, b; users removed: c; roles changed: d; credentials
    /// changed: e; restart needed for: targets`), names only, never a secret.
    ConfigReloaded,
    /// warden.yaml was re-read but is invalid: the running configuration stays;
    /// `detail` holds the diagnostics.
    ConfigReloadFailed,
    SessionStarted,
    SessionEnded,
    SessionRecording,
    Notification,
    /// Reserved (never written by this version); kept so older records still read.
    Alert,
    /// A behaviour-analytics detector raised an alert (`alert` holds it).
    AlertRaised,
    /// Someone acknowledged an alert (`actor`: who; `alert.reason`: why).
    AlertAcknowledged,
    /// Someone resolved an alert, lifting its lock (`actor`: who; `alert.reason`: why).
    AlertResolved,
    /// The policy files and warden.yaml in force, at start and after every policy or
    /// warden.yaml reload: `detail` holds one line per file, `<sha256 hex>  <path>`.
    FilesLoaded,
    /// A postgres target's upstream schema and privileges were fingerprinted (the first
    /// poll, and every poll that found a change): `detail` counts what was seen and
    /// gives the fingerprint's SHA-256.
    UpstreamFingerprinted,
    /// A drift poll could not connect or read the catalogs (`detail`: why); recorded when
    /// a target's poller starts failing, not at every failed poll.
    DriftPollFailed,
    /// `warden policy propose`: a new policy set waits for review (`approval.id`: the
    /// proposal; `detail`: the files' hashes and the diff).
    PolicyProposed,
    /// An approved proposal was written to the policy files and is in force (`detail`:
    /// rules in force, approvers). Its approvals are the `approval_*` records of the
    /// same id.
    PolicyProposalApplied,
    /// A proposal ended without being applied: denied, expired, withdrawn, or approved
    /// but not applicable (`detail` says which and why).
    PolicyProposalRejected,
    /// A person signed in to the console minted a gateway token (`actor`: who, with the
    /// roles the token carries; `detail`: `token=<id>; expires=<RFC 3339>`, never the
    /// secret).
    GatewayTokenMinted,
    /// A person revoked one of their gateway tokens (`actor`: who; `detail`:
    /// `token=<id>`).
    GatewayTokenRevoked,
}

/// The verdict as recorded: decision and rule names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerdictSummary {
    /// allow | deny | hold
    pub decision: String,
    pub rules: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dry_run: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// An approval request referenced by an event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalRef {
    pub id: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvers: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// An analytics alert as recorded: what was raised, about whom, and (for an
/// acknowledgement or resolution) the reason given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertRef {
    /// Stable id (`al-<seq of the alert_raised record>` once raised).
    pub id: String,
    pub detector: String,
    pub severity: String,
    /// The user the alert is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The client IP the alert is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_addr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explanation: Option<String>,
    /// Seqs of the records that triggered it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<u64>,
    /// Fleet mode: records of other replicas' chains that triggered it, each
    /// `<replica>:<seq>` (docs/fleet.md#analytics-alerts-and-lockouts).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fleet_evidence: Vec<String>,
    /// Logins of the user (or from the address) are refused until this Unix time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_until: Option<i64>,
    /// `user` or `address`: what the lock applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_subject: Option<String>,
    /// Why it was acknowledged or resolved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// What happened when an action ran.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// Command tag (`DELETE 3`), HTTP status, or SSH exit status, as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
}

/// One audit event, before it gets its sequence number, time and hashes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub kind: EventKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<Actor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<Protocol>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// The Action's facts and raw text (never secrets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<VerdictSummary>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<ApprovalRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    /// The alert, on `alert_*` records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<AlertRef>,
    /// Free-form detail (auth failure reason, reload error, recording hash, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Event {
    /// An event of `kind` with every optional field empty.
    pub fn new(kind: EventKind) -> Event {
        Event {
            kind,
            actor: None,
            target: None,
            protocol: None,
            session: None,
            action: None,
            verdict: None,
            approval: None,
            outcome: None,
            alert: None,
            detail: None,
        }
    }
}
