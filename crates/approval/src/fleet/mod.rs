//! The approvals of a fleet, in the shared PostgreSQL tables `warden_approvals` and
//! `warden_approval_votes` (schema: `warden-fleet`, docs/fleet.md).
//!
//! A transition is one transaction: lock the row (`FOR UPDATE`), apply the pure machine,
//! insert the vote (`UNIQUE (request_id, approver)`), conditional `UPDATE … WHERE id =
//! $1 AND state = <state read>` (executing also needs this replica's lease to be live),
//! `pg_notify` — then the durable audit record in this replica's own chain, then
//! `COMMIT`. A granting transition whose audit record fails is rolled back.
//!
//! Reads (`get`, `list`) come from a cache of the table kept by `sync`. The cache may
//! lag by one notification; it is never used to decide: every transition re-reads the
//! row under its lock. This module must never write a row without the state it read in
//! its `WHERE`, never let a replica execute another replica's waiting request, and
//! never execute without a live lease.

mod sync;

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use warden_fleet::tokio_postgres::types::ToSql;
use warden_fleet::tokio_postgres::{GenericClient, Row};
use warden_fleet::Fleet;

use crate::approvals::Approvals;
use crate::error::ApprovalError;
use crate::machine::{self, Op};
use crate::request::{ApprovalRequest, ApprovalState, FleetInfo};

pub(crate) use sync::start;

/// The NOTIFY channel; the payload is a request id.
pub(crate) const CHANNEL: &str = "warden_approvals";

const COLUMNS: &str = "record::text, owner_replica, claimed_by, outcome, outcome_detail";

/// The fleet backend of one `Approvals`.
pub(crate) struct FleetStore {
    pub(crate) fleet: Fleet,
    cache: Mutex<HashMap<String, ApprovalRequest>>,
    /// Requests this process claimed and whose outcome it has not recorded yet.
    claimed: Mutex<HashSet<String>>,
    /// Outcomes (id, outcome, detail) that could not be written yet.
    unrecorded: Mutex<Vec<(String, String, Option<String>)>>,
    /// Withdrawals (id, reason) that could not be written yet.
    withdraw_later: Mutex<Vec<(String, String)>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

pub(crate) fn db(e: warden_fleet::tokio_postgres::Error) -> ApprovalError {
    ApprovalError::Unavailable(warden_fleet::describe(&e))
}

fn fleet_err(e: warden_fleet::FleetError) -> ApprovalError {
    ApprovalError::Unavailable(e.to_string())
}

fn ts(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// The record as stored in the `record` column: without the fleet columns.
fn record_json(req: &ApprovalRequest) -> Result<String, ApprovalError> {
    let mut bare = req.clone();
    bare.fleet = None;
    Ok(serde_json::to_string(&bare)?)
}

/// A row of `SELECT {COLUMNS}` as the request the API shows.
pub(crate) fn from_row(row: &Row) -> Result<ApprovalRequest, ApprovalError> {
    let text: String = row.get(0);
    let mut req: ApprovalRequest = serde_json::from_str(&text)?;
    req.fleet = Some(FleetInfo {
        owner: row.get(1),
        claimed_by: row.get(2),
        outcome: row.get(3),
        outcome_detail: row.get(4),
    });
    Ok(req)
}

impl FleetStore {
    pub(crate) fn new(fleet: Fleet) -> FleetStore {
        FleetStore {
            fleet,
            cache: Mutex::new(HashMap::new()),
            claimed: Mutex::new(HashSet::new()),
            unrecorded: Mutex::new(Vec::new()),
            withdraw_later: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn cached(&self, id: &str) -> Option<ApprovalRequest> {
        lock(&self.cache).get(id).cloned()
    }

    pub(crate) fn cached_all(&self) -> Vec<ApprovalRequest> {
        lock(&self.cache).values().cloned().collect()
    }

    /// Puts `req` in the cache. `Some(previous state)` when it changed anything (for a
    /// request new to the cache: `Withdrawn` if pending, so the gauges count it, else
    /// its own state); `None` when the cache already had exactly this.
    pub(crate) fn observe(&self, req: &ApprovalRequest) -> Option<ApprovalState> {
        let mut cache = lock(&self.cache);
        let prev = match cache.get(&req.id) {
            Some(old) if old == req => return None,
            Some(old) => old.state,
            None if req.state == ApprovalState::Pending => ApprovalState::Withdrawn,
            None => req.state,
        };
        cache.insert(req.id.clone(), req.clone());
        Some(prev)
    }

    fn forget(&self, id: &str) {
        lock(&self.cache).remove(id);
    }

    /// This replica's ownership of a new request, as the cache and the API show it.
    pub(crate) fn owned(&self, req: &mut ApprovalRequest) {
        req.fleet = Some(FleetInfo {
            owner: self.fleet.replica_id().to_string(),
            claimed_by: None,
            outcome: None,
            outcome_detail: None,
        });
    }

    /// Inserts a new request (cached first, so that its own notification is no news).
    pub(crate) async fn insert(&self, req: &ApprovalRequest) -> Result<(), ApprovalError> {
        let mut req = req.clone();
        self.owned(&mut req);
        self.observe(&req);
        let res = self.insert_row(&req).await;
        if res.is_err() {
            self.forget(&req.id);
        }
        res
    }

    async fn insert_row(&self, req: &ApprovalRequest) -> Result<(), ApprovalError> {
        let c = self.fleet.client().await.map_err(fleet_err)?;
        let record = record_json(req)?;
        // Our lease is renewed by the same statement: a request is never inserted under
        // a lease that the others may already consider dead (they would withdraw it).
        let sql = "WITH me AS (
                UPDATE warden_replicas
                   SET heartbeat_at = now(), lease_until = now() + make_interval(secs => $12)
                 WHERE replica_id = $3 AND incarnation = $4
                RETURNING 1),
            ins AS (
                INSERT INTO warden_approvals (id, state, owner_replica, owner_incarnation,
                    retry_mode, user_name, target, created_at, expires_at, record)
                SELECT $1, $2, $3, $4, $5, $6, $7, $8::text::timestamptz,
                    $9::text::timestamptz, $10::text::jsonb
                 WHERE EXISTS (SELECT 1 FROM me)
                RETURNING id)
            SELECT pg_notify($11, id) FROM ins";
        let lease = self.fleet.options().lease.as_secs_f64();
        let timeout = self.fleet.options().connect_timeout;
        let (state, me, inc) = (
            req.state.as_str(),
            self.fleet.replica_id(),
            self.fleet.incarnation(),
        );
        let (created, expires) = (ts(req.created_at), ts(req.expires_at));
        let params: &[&(dyn ToSql + Sync)] = &[
            &req.id,
            &state,
            &me,
            &inc,
            &req.retry_mode,
            &req.action.user.name,
            &req.action.target.name,
            &created,
            &expires,
            &record,
            &CHANNEL,
            &lease,
        ];
        let run = c.query(sql, params);
        match tokio::time::timeout(timeout, run).await {
            Ok(Ok(rows)) if rows.is_empty() => Err(ApprovalError::Unavailable(format!(
                "replica id {me} was taken over by another process"
            ))),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(db(e)),
            Err(_) => Err(ApprovalError::Unavailable(format!(
                "no answer within {timeout:?}"
            ))),
        }
    }

    /// Reads one row (for a notification) into the cache; returns it when it changed.
    pub(crate) async fn refresh(
        &self,
        id: &str,
    ) -> Result<Option<(ApprovalState, ApprovalRequest)>, ApprovalError> {
        let c = self.fleet.client().await.map_err(fleet_err)?;
        let row = c
            .query_opt(
                &format!("SELECT {COLUMNS} FROM warden_approvals WHERE id = $1"),
                &[&id],
            )
            .await
            .map_err(db)?;
        let Some(row) = row else { return Ok(None) };
        let req = from_row(&row)?;
        Ok(self.observe(&req).map(|prev| (prev, req)))
    }

    pub(crate) fn claimed(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        lock(&self.claimed)
    }

    pub(crate) fn withdraw_later(&self) -> std::sync::MutexGuard<'_, Vec<(String, String)>> {
        lock(&self.withdraw_later)
    }

    pub(crate) fn unrecorded(
        &self,
    ) -> std::sync::MutexGuard<'_, Vec<(String, String, Option<String>)>> {
        lock(&self.unrecorded)
    }
}

/// One transition of the shared state (see the module doc for its order).
pub(crate) async fn transition(
    ap: &Approvals,
    f: &FleetStore,
    id: &str,
    op: Op,
) -> Result<ApprovalRequest, ApprovalError> {
    let limit = f.fleet.options().connect_timeout * 2;
    let res = match tokio::time::timeout(limit, transition_tx(ap, f, id, &op)).await {
        Ok(r) => r,
        Err(_) => Err(ApprovalError::Unavailable(format!(
            "no answer within {limit:?}"
        ))),
    };
    let (_, req) = match res {
        Ok(done) => done,
        Err(e) => {
            if let (Op::Withdraw { reason }, ApprovalError::Unavailable(_)) = (&op, &e) {
                // The client is gone but the database did not hear it: retried at each
                // poll, so that the request cannot be approved and left unexecuted.
                f.withdraw_later().push((id.to_string(), reason.clone()));
            }
            return Err(e);
        }
    };
    if matches!(op, Op::Execute) {
        f.claimed().insert(req.id.clone());
    }
    if let Some(prev) = f.observe(&req) {
        ap.finish(prev, &req);
    }
    Ok(req)
}

async fn transition_tx(
    ap: &Approvals,
    f: &FleetStore,
    id: &str,
    op: &Op,
) -> Result<(ApprovalState, ApprovalRequest), ApprovalError> {
    let (me, incarnation) = (f.fleet.replica_id(), f.fleet.incarnation());
    let mut c = f.fleet.client().await.map_err(fleet_err)?;
    let tx = c.transaction().await.map_err(db)?;
    let row = tx
        .query_opt(
            &format!(
                "SELECT {COLUMNS}, owner_incarnation FROM warden_approvals WHERE id = $1 FOR UPDATE"
            ),
            &[&id],
        )
        .await
        .map_err(db)?
        .ok_or_else(|| ApprovalError::NotFound(id.to_string()))?;
    let mut req = from_row(&row)?;
    let owner_incarnation: String = row.get(5);
    let before = req.state;
    let owner = req
        .fleet
        .as_ref()
        .map(|f| f.owner.clone())
        .unwrap_or_default();
    if matches!(op, Op::Execute)
        && !req.retry_mode
        && (owner != me || owner_incarnation != incarnation)
    {
        return Err(ApprovalError::WrongState {
            id: id.to_string(),
            state: format!("held by replica {owner}"),
            expected: "held by this replica",
        });
    }
    let event = machine::apply(&mut req, op, OffsetDateTime::now_utc())?;
    if let Op::Approve { by, reason } | Op::Deny { by, reason } = op {
        let decision = if matches!(op, Op::Approve { .. }) {
            "approve"
        } else {
            "deny"
        };
        let n = tx
            .execute(
                "INSERT INTO warden_approval_votes (request_id, approver, decision, reason, replica_id)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (request_id, approver) DO NOTHING",
                &[&id, &by.name, &decision, reason, &me],
            )
            .await
            .map_err(db)?;
        if n == 0 {
            return Err(ApprovalError::DuplicateApprover(by.name.clone()));
        }
    }
    let record = record_json(&req)?;
    let updated = if matches!(op, Op::Execute) {
        tx.execute(
            "UPDATE warden_approvals
                SET state = 'executed', record = $2::text::jsonb, updated_at = clock_timestamp(),
                    version = version + 1, claimed_by = $3, claimed_incarnation = $4,
                    claimed_at = now(), outcome = 'running'
              WHERE id = $1 AND state = 'approved'
                AND EXISTS (SELECT 1 FROM warden_replicas r WHERE r.replica_id = $3
                            AND r.incarnation = $4 AND r.lease_until > now())",
            &[&id, &record, &me, &incarnation],
        )
        .await
        .map_err(db)?
    } else {
        tx.execute(
            "UPDATE warden_approvals
                SET state = $2, record = $3::text::jsonb, expires_at = $4::text::timestamptz,
                    updated_at = clock_timestamp(), version = version + 1
              WHERE id = $1 AND state = $5",
            &[
                &id,
                &req.state.as_str(),
                &record,
                &ts(req.expires_at),
                &before.as_str(),
            ],
        )
        .await
        .map_err(db)?
    };
    if updated != 1 {
        return Err(if matches!(op, Op::Execute) {
            ApprovalError::Unavailable(
                "this replica's fleet lease has run out; it executes no approved action until it is renewed".into(),
            )
        } else {
            ApprovalError::WrongState {
                id: id.to_string(),
                state: "changed by another replica".into(),
                expected: before.as_str(),
            }
        });
    }
    tx.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &id])
        .await
        .map_err(db)?;
    if let Err(e) = ap.append(event).await {
        if !op.proceeds_without_audit() {
            return Err(e); // dropping `tx` rolls the transition back
        }
        tracing::error!(id, error = %e, "audit unavailable; ending the request anyway (fail closed)");
    }
    tx.commit().await.map_err(|e| {
        tracing::error!(id, error = %e, "the transition is in this replica's audit chain but the fleet database did not commit it");
        db(e)
    })?;
    if let Some(info) = req.fleet.as_mut() {
        if matches!(op, Op::Execute) {
            info.claimed_by = Some(me.to_string());
            info.outcome = Some("running".into());
        }
    }
    Ok((before, req))
}

/// Rows matching `sql` (which selects `id` first), for the sweeper.
pub(crate) async fn ids(
    c: &impl GenericClient,
    sql: &str,
) -> Result<Vec<(String, String)>, ApprovalError> {
    Ok(c.query(sql, &[])
        .await
        .map_err(db)?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect())
}
