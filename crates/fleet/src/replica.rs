//! This replica's lease in `warden_replicas`: taken at start, renewed every heartbeat,
//! ended on a graceful stop. Other replicas treat a replica whose lease ran out (or
//! whose row names another incarnation) as dead: its waiting clients are gone and its
//! claimed actions have an unknown outcome.
//!
//! This module must never take over a replica id whose lease is still running: that
//! would let two live processes act as one replica.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::{Fleet, FleetError};

/// Takes the lease for this replica id, waiting (up to one lease and a heartbeat) for a
/// previous incarnation's lease to run out.
pub(crate) async fn register(fleet: &Fleet) -> Result<(), FleetError> {
    let opts = fleet.options();
    let lease = opts.lease.as_secs_f64();
    let deadline = Instant::now() + opts.lease + opts.heartbeat;
    let mut announced = false;
    loop {
        let c = fleet.client().await?;
        let taken = c
            .query_opt(
                "INSERT INTO warden_replicas (replica_id, incarnation, lease_until)
                 VALUES ($1, $2, now() + make_interval(secs => $3))
                 ON CONFLICT (replica_id) DO UPDATE
                    SET incarnation = EXCLUDED.incarnation, started_at = now(),
                        heartbeat_at = now(), lease_until = EXCLUDED.lease_until
                  WHERE warden_replicas.lease_until < now()
                 RETURNING replica_id",
                &[&opts.replica_id, &fleet.incarnation(), &lease],
            )
            .await?;
        if taken.is_some() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(FleetError::ReplicaIdInUse(opts.replica_id.clone()));
        }
        if !announced {
            tracing::warn!(
                replica = %opts.replica_id,
                "a previous process with this replica id still holds its lease; waiting for it to run out"
            );
            announced = true;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// One renewal; false when the row names another incarnation (we were taken over).
async fn renew(fleet: &Fleet) -> Result<bool, FleetError> {
    let opts = fleet.options();
    let c = fleet.client().await?;
    let n = c
        .execute(
            "UPDATE warden_replicas
                SET heartbeat_at = now(), lease_until = now() + make_interval(secs => $3)
              WHERE replica_id = $1 AND incarnation = $2",
            &[
                &opts.replica_id,
                &fleet.incarnation(),
                &opts.lease.as_secs_f64(),
            ],
        )
        .await?;
    Ok(n == 1)
}

pub(crate) async fn heartbeat_loop(fleet: Fleet) {
    let mut tick = tokio::time::interval(fleet.options().heartbeat);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let ok = match tokio::time::timeout(fleet.options().heartbeat * 2, renew(&fleet)).await {
            Ok(Ok(true)) => true,
            Ok(Ok(false)) => {
                tracing::error!(
                    replica = %fleet.replica_id(),
                    "this replica's lease was taken over by another process; it can no longer execute approved actions"
                );
                false
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "fleet heartbeat failed");
                false
            }
            Err(_) => {
                tracing::warn!("fleet heartbeat timed out");
                false
            }
        };
        let was = fleet.inner.lease_ok.swap(ok, Ordering::Relaxed);
        if ok && !was {
            tracing::info!(replica = %fleet.replica_id(), "fleet lease renewed again");
        }
    }
}

pub(crate) async fn leave(fleet: &Fleet) -> Result<(), FleetError> {
    let c = fleet.client().await?;
    c.execute(
        "UPDATE warden_replicas SET lease_until = now() WHERE replica_id = $1 AND incarnation = $2",
        &[&fleet.replica_id(), &fleet.incarnation()],
    )
    .await?;
    fleet.inner.lease_ok.store(false, Ordering::Relaxed);
    Ok(())
}
