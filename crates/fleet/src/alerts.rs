//! One alert, not one per replica: every replica's engine sees the fleet's records
//! (`feed`) and so computes the same alerts; before recording one, a replica claims
//! its detector and subject in `warden_alerts`. The claim is one statement: it inserts
//! the row, or takes it over when the previous claim's suppression has run out, and
//! returns a row only to the winner. Only the winner writes `alert_raised` (into its
//! own chain; the others see it through the feed).
//!
//! This module must never decide whether an alert is due (the engine does) and never
//! report a claim as won that the database did not return.

use crate::{Fleet, FleetError};

/// What a replica wants to raise.
#[derive(Debug, Clone)]
pub struct AlertClaim<'a> {
    /// Detector and subject (the engine's suppression key), e.g.
    /// `failed-login-burst|17c4…`.
    pub key: &'a str,
    /// The `alert_raised` id the winner records.
    pub id: &'a str,
    pub detector: &'a str,
    /// The alert's event time (Unix ns).
    pub raised_ns: i64,
    /// No other alert for the key until then (the detector's `suppress`).
    pub until_ns: i64,
}

/// True when this replica won the claim and must record the alert; false when another
/// replica raised it within its suppression span.
pub async fn claim(fleet: &Fleet, a: &AlertClaim<'_>) -> Result<bool, FleetError> {
    let bound = fleet.options().connect_timeout * 2;
    let run = async {
        let c = fleet.client().await?;
        let row = c
            .query_opt(
                "INSERT INTO warden_alerts (alert_key, alert_id, detector, replica_id, raised_ns, until_ns)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (alert_key) DO UPDATE
                   SET alert_id = excluded.alert_id, replica_id = excluded.replica_id,
                       raised_ns = excluded.raised_ns, until_ns = excluded.until_ns,
                       claimed_at = now()
                   WHERE warden_alerts.until_ns <= excluded.raised_ns
                 RETURNING alert_id",
                &[
                    &a.key,
                    &a.id,
                    &a.detector,
                    &fleet.replica_id(),
                    &a.raised_ns,
                    &a.until_ns,
                ],
            )
            .await?;
        Ok::<bool, FleetError>(row.is_some())
    };
    tokio::time::timeout(bound, run)
        .await
        .map_err(|_| FleetError::Timeout(bound))?
}
