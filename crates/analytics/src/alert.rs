//! What a detector raises: one explainable, serialisable alert.
//!
//! An alert is plain data (the gateway stores it as an `alert_raised` audit record and
//! shows it in the console); it must never carry secrets, and it never decides anything
//! by itself: a `lock` is a request the gateway may honour.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::settings::detector::Detector;

/// How urgent an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        [
            Severity::Low,
            Severity::Medium,
            Severity::High,
            Severity::Critical,
        ]
        .into_iter()
        .find(|v| v.name() == s)
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a configured `lock` asks the gateway to refuse, and for how long.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lock {
    /// `user` (the alert's user, on every front-end) or `address` (the client address).
    pub subject: LockSubject,
    /// Seconds from the alert's `time`.
    pub seconds: u64,
}

/// Who a lock applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LockSubject {
    User,
    Address,
}

/// One alert. Serialises as one JSON object:
/// `{"detector","severity","user","client_addr","target","time","explanation","evidence"}`
/// (absent values are `null`), plus `"lock"` only when the detector has one configured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub detector: Detector,
    pub severity: Severity,
    /// The user the alert is about (`null` for an address-only alert such as a spray).
    pub user: Option<String>,
    /// The client IP (no port) the alert is about, when there is one.
    pub client_addr: Option<String>,
    pub target: Option<String>,
    /// Event time of the record that raised the alert (RFC 3339, UTC).
    #[serde(with = "time::serde::rfc3339")]
    pub time: OffsetDateTime,
    /// One sentence naming the numbers, e.g. `mallory: 7 failed logins in 10m from
    /// 10.1.2.3; usual: at most 1 in 10m`.
    pub explanation: String,
    /// Sequence numbers (or replay line numbers) of the records that show it, ascending.
    pub evidence: Vec<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock: Option<Lock>,
    /// The detector's suppression key for this subject (a hash of the detector and
    /// the subject it keys on; not serialised): equal on every engine that raises "the
    /// same" alert, whatever record tipped it. Fleet mode claims alerts by it.
    #[serde(skip)]
    pub subject: u64,
}

impl Alert {
    /// The identity deduplication uses: detector plus the subject the detector keys on.
    pub fn key(&self) -> String {
        format!(
            "{}|{}|{}|{}",
            self.detector,
            self.user.as_deref().unwrap_or(""),
            self.client_addr.as_deref().unwrap_or(""),
            self.target.as_deref().unwrap_or("")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_every_key_with_nulls_and_no_lock_by_default() {
        let a = Alert {
            detector: Detector::PasswordSpray,
            severity: Severity::High,
            user: None,
            client_addr: Some("10.1.2.3".into()),
            target: None,
            time: OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap(),
            explanation: "x".into(),
            evidence: vec![3, 9],
            lock: None,
            subject: 0,
        };
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(
            json,
            r#"{"detector":"password-spray","severity":"high","user":null,"client_addr":"10.1.2.3","target":null,"time":"2023-11-14T22:13:20Z","explanation":"x","evidence":[3,9]}"#
        );
        let back: Alert = serde_json::from_str(&json).unwrap();
        assert_eq!(back, a);
    }
}
