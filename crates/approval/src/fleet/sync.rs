//! Keeping a replica's view of the shared approvals current, and cleaning up after
//! dead replicas:
//!
//! * `NOTIFY warden_approvals, <id>` → re-read that row → wake a local waiter, feed the
//!   console; after every (re)connect of the LISTEN connection and every `poll` as a
//!   backstop → re-read every row changed since the last look;
//! * the sweeper (every `poll`, on every replica; conditional, so concurrent sweeps are
//!   harmless): expire what is past its deadline, withdraw waiting requests whose owner
//!   replica's lease ran out (its client is gone), mark actions claimed by a dead
//!   replica `outcome = 'unknown'` — never run them again;
//! * the outcome recorder: this replica's `action_completed` audit records of claimed
//!   approvals → `outcome` `completed` / `failed`.
//!
//! This module must never transition a request except through `Approvals::transition`
//! (which re-reads under a lock), and never treat a live replica as dead: a replica is
//! dead only when the database's clock is past its lease.

use std::sync::{Arc, Weak};

use warden_audit::EventKind;
use warden_fleet::Signal;

use super::{db, from_row, ids, FleetStore, CHANNEL, COLUMNS};
use crate::approvals::{Approvals, Inner};
use crate::error::ApprovalError;
use crate::machine::Op;
use crate::request::ApprovalState;

/// How far back a re-query looks before the previous one (longer than any transition).
const OVERLAP: &str = "1 minute";

/// No live lease for the replica (and incarnation) in columns `$who` / `$inc` of `a`,
/// and not this very process (`me`, `inc`: it knows it is alive, even when its lease
/// lapsed during an outage; the others may still count it dead).
fn dead(who: &str, inc: &str, f: &FleetStore) -> String {
    let (me, this) = (
        sql_text(f.fleet.replica_id()),
        sql_text(f.fleet.incarnation()),
    );
    format!(
        "NOT EXISTS (SELECT 1 FROM warden_replicas r WHERE r.replica_id = a.{who}
                     AND r.incarnation = a.{inc} AND r.lease_until > now())
         AND NOT (a.{who} = {me} AND a.{inc} = {this})"
    )
}

/// A SQL string literal (replica ids and incarnations are `[A-Za-z0-9._-]`; quotes are
/// doubled anyway).
fn sql_text(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Loads the shared table into the cache, sweeps once (a restarted replica's previous
/// incarnation is dead: its waiting requests are withdrawn) and starts the tasks.
pub(crate) async fn start(ap: &Approvals, f: Arc<FleetStore>) -> Result<(), ApprovalError> {
    let mut since = resync(ap, &f, None).await?;
    let id = f.fleet.replica_id().to_string();
    for req in ap.list(None) {
        let mine = req.fleet.as_ref().is_some_and(|i| i.owner == id);
        if mine && req.state == ApprovalState::Pending {
            ap.schedule_expiry(&req);
        }
    }
    sweep(ap, &f).await;
    let mut signals = f.fleet.listen(CHANNEL);
    let weak: Weak<Inner> = Arc::downgrade(&ap.inner);
    let poll = f.fleet.options().poll;
    let store = Arc::clone(&f);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(poll);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            let signal = tokio::select! {
                s = signals.recv() => match s { Some(s) => Some(s), None => return },
                _ = tick.tick() => None,
            };
            let Some(inner) = weak.upgrade() else { return };
            let ap = Approvals { inner };
            let res = match signal {
                Some(Signal::Notified(id)) => notified(&ap, &store, &id).await,
                Some(Signal::Lost) => {
                    tracing::warn!("fleet notifications lost; re-reading after reconnect");
                    Ok(())
                }
                Some(Signal::Resync) | None => match resync(&ap, &store, since.clone()).await {
                    Ok(t) => {
                        since = t;
                        if signal.is_none() {
                            retry_withdrawals(&ap, &store).await;
                            sweep(&ap, &store).await;
                            record_pending_outcomes(&store).await;
                        }
                        Ok(())
                    }
                    Err(e) => Err(e),
                },
            };
            if let Err(e) = res {
                tracing::warn!(error = %e, "fleet approvals sync failed; retrying at the next poll");
            }
        }
    });
    outcome_recorder(ap, f);
    Ok(())
}

async fn notified(ap: &Approvals, f: &FleetStore, id: &str) -> Result<(), ApprovalError> {
    if let Some((prev, req)) = f.refresh(id).await? {
        ap.finish(prev, &req);
    }
    Ok(())
}

/// Re-reads rows changed since `since` (all when `None`); returns the new mark.
async fn resync(
    ap: &Approvals,
    f: &FleetStore,
    since: Option<String>,
) -> Result<Option<String>, ApprovalError> {
    let c = f
        .fleet
        .client()
        .await
        .map_err(|e| ApprovalError::Unavailable(e.to_string()))?;
    let now: String = c
        .query_one("SELECT now()::text", &[])
        .await
        .map_err(db)?
        .get(0);
    let rows = match &since {
        None => c
            .query(&format!("SELECT {COLUMNS} FROM warden_approvals"), &[])
            .await
            .map_err(db)?,
        Some(t) => c
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM warden_approvals
                      WHERE updated_at > $1::text::timestamptz - interval '{OVERLAP}'"
                ),
                &[t],
            )
            .await
            .map_err(db)?,
    };
    for row in rows {
        match from_row(&row) {
            Ok(req) => {
                if let Some(prev) = f.observe(&req) {
                    ap.finish(prev, &req);
                }
            }
            Err(e) => tracing::warn!(error = %e, "skipping unreadable fleet approval row"),
        }
    }
    Ok(Some(now))
}

/// Expiry, dead owners' waiting requests, dead claimers' running actions.
async fn sweep(ap: &Approvals, f: &FleetStore) {
    if let Err(e) = sweep_once(ap, f).await {
        tracing::warn!(error = %e, "fleet sweep failed");
    }
}

async fn sweep_once(ap: &Approvals, f: &FleetStore) -> Result<(), ApprovalError> {
    let c = f
        .fleet
        .client()
        .await
        .map_err(|e| ApprovalError::Unavailable(e.to_string()))?;
    let due = ids(
        &*c,
        "SELECT id, owner_replica FROM warden_approvals
          WHERE (state = 'pending' OR (state = 'approved' AND retry_mode))
            AND expires_at <= now()",
    )
    .await?;
    let orphans = ids(
        &*c,
        &format!(
            "SELECT id, owner_replica FROM warden_approvals a
              WHERE state IN ('pending', 'approved') AND NOT retry_mode
                AND {}",
            dead("owner_replica", "owner_incarnation", f)
        ),
    )
    .await?;
    let unknown = ids(
        &*c,
        &format!(
            "WITH u AS (
                UPDATE warden_approvals a
                   SET outcome = 'unknown', outcome_at = now(), updated_at = clock_timestamp(),
                       version = version + 1,
                       outcome_detail = 'replica ' || claimed_by
                           || ' stopped renewing its lease while running this action; it is never run again'
                 WHERE state = 'executed' AND outcome = 'running' AND {}
                RETURNING id, claimed_by)
             SELECT id, claimed_by FROM u, LATERAL pg_notify('{CHANNEL}', id) n",
            dead("claimed_by", "claimed_incarnation", f)
        ),
    )
    .await?;
    drop(c);
    for (id, _) in due {
        ap.expire_if_due(&id).await;
    }
    for (id, owner) in orphans {
        let reason = format!(
            "replica {owner} stopped renewing its lease; the client that was waiting is gone"
        );
        if let Err(e) = ap.transition(&id, Op::Withdraw { reason }).await {
            tracing::debug!(id, error = %e, "withdrawal of a dead replica's request skipped");
        }
    }
    for (id, by) in unknown {
        tracing::warn!(id, replica = %by, "approved action's outcome is unknown: its replica died while running it");
    }
    Ok(())
}

/// Withdrawals the database did not get (a client went away during an outage).
async fn retry_withdrawals(ap: &Approvals, f: &FleetStore) {
    let pending: Vec<(String, String)> = f.withdraw_later().drain(..).collect();
    for (id, reason) in pending {
        // A failure for lack of the database queues it again (in `transition`).
        if let Err(e) = ap.transition(&id, Op::Withdraw { reason }).await {
            tracing::debug!(id, error = %e, "withdrawal retry");
        }
    }
}

/// Outcomes not yet written (the database was unreachable when they happened).
async fn record_pending_outcomes(f: &FleetStore) {
    let pending: Vec<(String, String, Option<String>)> = f.unrecorded().drain(..).collect();
    for (id, outcome, detail) in pending {
        if let Err(e) = write_outcome(f, &id, &outcome, detail.as_deref()).await {
            tracing::warn!(id, error = %e, "recording an approved action's outcome failed; retrying");
            f.unrecorded().push((id, outcome, detail));
        }
    }
}

async fn write_outcome(
    f: &FleetStore,
    id: &str,
    outcome: &str,
    detail: Option<&str>,
) -> Result<(), ApprovalError> {
    let c = f
        .fleet
        .client()
        .await
        .map_err(|e| ApprovalError::Unavailable(e.to_string()))?;
    let rows = c
        .query(
            &format!(
                "WITH u AS (
                    UPDATE warden_approvals
                       SET outcome = $2, outcome_detail = $3, outcome_at = now(),
                           updated_at = clock_timestamp(), version = version + 1
                     WHERE id = $1 AND claimed_by = $4 AND claimed_incarnation = $5
                       AND outcome = 'running'
                    RETURNING id)
                 SELECT pg_notify('{CHANNEL}', id) FROM u"
            ),
            &[
                &id,
                &outcome,
                &detail,
                &f.fleet.replica_id(),
                &f.fleet.incarnation(),
            ],
        )
        .await
        .map_err(db)?;
    if rows.is_empty() {
        tracing::warn!(
            id,
            "outcome not recorded: the request was already marked (lease ran out?)"
        );
    }
    Ok(())
}

/// Follows this replica's audit feed for the completion of actions it claimed.
fn outcome_recorder(ap: &Approvals, f: Arc<FleetStore>) {
    let mut feed = ap.inner.audit.subscribe();
    tokio::spawn(async move {
        loop {
            let record = match feed.recv().await {
                Ok(r) => r,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "outcome recorder lagged behind the audit feed");
                    continue;
                }
                Err(_) => return,
            };
            let ev = &record.event;
            if ev.kind != EventKind::ActionCompleted {
                continue;
            }
            let Some(id) = ev.approval.as_ref().map(|a| a.id.clone()) else {
                continue;
            };
            if !f.claimed().remove(&id) {
                continue;
            }
            let out = ev.outcome.clone().unwrap_or_default();
            let (outcome, detail) = match &out.error {
                Some(err) => ("failed", Some(err.clone())),
                None => ("completed", out.status.clone()),
            };
            if let Err(e) = write_outcome(&f, &id, outcome, detail.as_deref()).await {
                tracing::warn!(id, error = %e, "recording an approved action's outcome failed; retrying at the next poll");
                f.unrecorded().push((id, outcome.to_string(), detail));
            }
        }
    });
}
