//! Configuration drift settings as plain data: what happens to a policy change that
//! reached the files without review (`policy_changes:`), who reviews proposed policy
//! sets (`policy_review:`), and the per-target upstream fingerprint poll
//! (`targets[].postgres.drift:`). This module must never hold behaviour beyond parsing
//! and defaults: the app does the watching and polling.

use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// `policy_changes:` — a policy edit that reached the files without `warden policy
/// propose` and an approval.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PolicyChanges {
    /// The edit is applied (when valid) and raises a `config-drift` alert.
    #[default]
    Alert,
    /// The edit is not applied: the running policy stays; a `config-drift` alert says so.
    RequireReview,
}

impl PolicyChanges {
    pub const WORDS: &'static [&'static str] = &["require_review", "alert"];

    pub fn parse(word: &str) -> Option<PolicyChanges> {
        match word {
            "alert" => Some(PolicyChanges::Alert),
            "require_review" => Some(PolicyChanges::RequireReview),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PolicyChanges::Alert => "alert",
            PolicyChanges::RequireReview => "require_review",
        }
    }
}

/// `policy_review:` — who approves a proposed policy set.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyReview {
    /// Roles whose members may approve (never the proposer).
    pub approvers: Vec<String>,
    /// Distinct approvals needed.
    pub required: u32,
    /// How long a proposal waits for its approvals.
    #[serde(deserialize_with = "duration")]
    pub expires_after: Duration,
}

impl PolicyReview {
    pub const KEYS: &'static [&'static str] = &["approvers", "required", "expires_after"];
}

impl Default for PolicyReview {
    fn default() -> Self {
        PolicyReview {
            approvers: vec!["admin".to_string()],
            required: 1,
            expires_after: Duration::from_secs(24 * 3600),
        }
    }
}

/// `targets[].postgres.drift:` — the periodic read-only schema and privilege fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DriftOptions {
    pub enabled: bool,
    /// Time between two fingerprints (at least 1s).
    #[serde(deserialize_with = "duration")]
    pub interval: Duration,
    /// The database to fingerprint (default: `postgres.database`, else `postgres`).
    pub database: Option<String>,
}

impl Default for DriftOptions {
    fn default() -> Self {
        DriftOptions {
            enabled: false,
            interval: Duration::from_secs(300),
            database: None,
        }
    }
}

/// A duration written `30s`, `5m`, or a bare number of seconds.
fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Written {
        Secs(u64),
        Text(String),
    }
    let text = match Written::deserialize(d)? {
        Written::Secs(n) => return Ok(Duration::from_secs(n)),
        Written::Text(s) => s,
    };
    warden_diagnostic::parse_duration(&text).ok_or_else(|| {
        serde::de::Error::custom(format!("`{text}` is not a duration like 30s, 5m or 1h"))
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use crate::{Config, ConfigErrors, PolicyChanges};

    fn parse(text: &str) -> Result<Config, ConfigErrors> {
        Config::parse(text, "warden.yaml", Path::new("/etc/warden"))
    }

    const TARGET: &str = "targets:\n  - name: db\n    protocol: postgres\n    listen: 127.0.0.1:16500\n    upstream: 127.0.0.1:5432\n";

    #[test]
    fn defaults_alert_admin_review_and_no_polling() {
        let cfg = parse(TARGET).expect("valid");
        assert_eq!(cfg.policy_changes, PolicyChanges::Alert);
        assert_eq!(cfg.policy_review.approvers, vec!["admin".to_string()]);
        assert_eq!(cfg.policy_review.required, 1);
        let drift = &cfg.targets[0].postgres.drift;
        assert!(!drift.enabled);
        assert_eq!(drift.interval, Duration::from_secs(300));
    }

    #[test]
    fn everything_set() {
        let text = format!(
            "policy_changes: require_review\npolicy_review: {{ approvers: [security], required: 2, expires_after: 2h }}\n{TARGET}    postgres:\n      drift: {{ enabled: true, interval: 1s, database: shop }}\n"
        );
        let cfg = parse(&text).expect("valid");
        assert_eq!(cfg.policy_changes, PolicyChanges::RequireReview);
        assert_eq!(cfg.policy_review.approvers, vec!["security".to_string()]);
        assert_eq!(cfg.policy_review.required, 2);
        assert_eq!(cfg.policy_review.expires_after, Duration::from_secs(7200));
        let drift = &cfg.targets[0].postgres.drift;
        assert!(drift.enabled);
        assert_eq!(drift.interval, Duration::from_secs(1));
        assert_eq!(drift.database.as_deref(), Some("shop"));
    }

    #[test]
    fn mistakes_are_reported_with_positions_and_suggestions() {
        let text = format!(
            "policy_changes: require_reviw\npolicy_review: {{ approvers: [], required: 0 }}\n{TARGET}    postgres:\n      drift: {{ enabled: true, interval: 0s }}\n  - name: api\n    protocol: http\n    listen: 127.0.0.1:16501\n    upstream: http://127.0.0.1:1\n    postgres:\n      drift: {{ enabled: true }}\n  - name: db2\n    protocol: postgres\n    listen: 127.0.0.1:16502\n    upstream: 127.0.0.1:5432\n    postgres:\n      drift: {{ interval: soon }}\n"
        );
        let errs = parse(&text).expect_err("invalid").to_string();
        assert!(
            errs.contains("warden.yaml:1:1: policy_changes: unknown value `require_reviw`")
                && errs.contains("did you mean `require_review`"),
            "{errs}"
        );
        assert!(
            errs.contains("policy_review.approvers: name at least one role"),
            "{errs}"
        );
        assert!(
            errs.contains("policy_review.required: must be at least 1"),
            "{errs}"
        );
        assert!(
            errs.contains("targets[0].postgres.drift.interval: must be at least 1s"),
            "{errs}"
        );
        assert!(
            errs.contains(
                "targets[1].postgres.drift.enabled: drift polling reads PostgreSQL catalogs"
            ),
            "{errs}"
        );
        assert!(errs.contains("`soon` is not a duration like 30s"), "{errs}");
    }
}
