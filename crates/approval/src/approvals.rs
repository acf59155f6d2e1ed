//! `Approvals`: the shared handle every front-end holds against and the console decides
//! through. It owns the I/O around the pure machine (`machine.rs`): per-request
//! locking, the audit record of every transition, persistence, waking waiters,
//! expiry timers and the live feed.
//!
//! Order of a transition: lock the request's stripe → load → apply → append the audit
//! event (durably) → store → wake the waiter → broadcast. A transition that grants
//! something (approve, execute) never takes effect without its audit record. A new
//! request is the other way round: stored first, then its `approval_requested` record,
//! so that every request the chain names is one the store (and so the restart) knows.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use tokio::sync::{broadcast, watch};
use warden_audit::{AuditLog, Durability, Event};
use warden_inspect::{Action, Actor};
use warden_policy::Verdict;

use crate::error::ApprovalError;
use crate::held::Held;
use crate::machine::{self, Op};
use crate::request::{ApprovalRequest, ApprovalState, Resolution};
use crate::stats::{Stats, StatsSnapshot};
use crate::store::{ApprovalBackend, Store};

const STRIPES: usize = 64;
const FEED_CAPACITY: usize = 1024;

/// Shared handle to the approval requests. Cheap to clone.
#[derive(Clone)]
pub struct Approvals {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) store: Store,
    pub(crate) audit: AuditLog,
    public_url: String,
    stripes: Vec<tokio::sync::Mutex<()>>,
    /// One watch per request some front-end is waiting on.
    waiters: Mutex<HashMap<String, watch::Sender<Option<Resolution>>>>,
    /// Approved, unused retry-mode requests (candidates for `take_retry_approval`).
    pub(crate) retry_ready: Mutex<HashSet<String>>,
    feed: broadcast::Sender<Arc<ApprovalRequest>>,
    pub(crate) stats: Stats,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A poisoned map is still a valid map: every mutation under it is a single call.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..16].to_string()
}

impl Approvals {
    /// Opens the store on `backend`. Requests whose client was waiting
    /// (wait mode, pending or approved-but-unexecuted) are withdrawn and audited: after
    /// a restart nobody is waiting for them, so they must never run. Retry-mode
    /// requests survive (the client re-sends); those past their expiry are expired.
    ///
    /// The fleet backend opens with [`Approvals::open_fleet`] instead.
    pub fn open(
        backend: ApprovalBackend,
        audit: AuditLog,
        public_url: String,
    ) -> Result<Approvals, ApprovalError> {
        let store = match backend {
            ApprovalBackend::Sled(db) => Store::open_sled(db)?,
            ApprovalBackend::Fleet(_) => {
                return Err(ApprovalError::Internal(
                    "the fleet backend opens with Approvals::open_fleet".into(),
                ))
            }
        };
        let approvals = Approvals::with_store(store, audit, public_url);
        // Run the recovery on a plain thread: it blocks on audit appends, which must
        // not happen on an async worker.
        let this = approvals.clone();
        let live = std::thread::scope(|s| s.spawn(move || this.recover()).join())
            .map_err(|_| ApprovalError::Internal("recovery thread panicked".into()))??;
        // Timers are scheduled here, on the caller's thread, where its runtime is.
        for req in &live {
            approvals.schedule_expiry(req);
        }
        Ok(approvals)
    }

    fn with_store(store: Store, audit: AuditLog, public_url: String) -> Approvals {
        let (feed, _) = broadcast::channel(FEED_CAPACITY);
        Approvals {
            inner: Arc::new(Inner {
                store,
                audit,
                public_url: public_url.trim_end_matches('/').to_string(),
                stripes: (0..STRIPES).map(|_| tokio::sync::Mutex::new(())).collect(),
                waiters: Mutex::new(HashMap::new()),
                retry_ready: Mutex::new(HashSet::new()),
                feed,
                stats: Stats::new(),
            }),
        }
    }

    /// Opens the approvals of a fleet (docs/fleet.md): loads the shared table, withdraws
    /// the waiting requests of dead replicas (a restarted replica's previous process
    /// included), and starts following the others' changes. Needs a tokio runtime.
    pub async fn open_fleet(
        fleet: warden_fleet::Fleet,
        audit: AuditLog,
        public_url: String,
    ) -> Result<Approvals, ApprovalError> {
        let store = Arc::new(crate::fleet::FleetStore::new(fleet));
        let approvals = Approvals::with_store(Store::Fleet(Arc::clone(&store)), audit, public_url);
        crate::fleet::start(&approvals, store).await?;
        Ok(approvals)
    }

    /// Fleet mode: ends this replica's lease (graceful stop, after the front-ends are
    /// drained). Its remaining waiting requests are then withdrawn by the others. A
    /// no-op on an embedded store.
    pub async fn leave_fleet(&self) {
        if let Store::Fleet(f) = &self.inner.store {
            if let Err(e) = f.fleet.leave().await {
                tracing::warn!(error = %e, "could not end this replica's fleet lease; it runs out by itself");
            }
        }
    }

    /// `open` on an embedded store of its own at `path` (created if missing).
    pub fn open_path(
        path: &std::path::Path,
        audit: AuditLog,
        public_url: String,
    ) -> Result<Approvals, ApprovalError> {
        Approvals::open(ApprovalBackend::embedded(path)?, audit, public_url)
    }

    /// Records a held action as a pending request and returns the handle to wait on.
    /// The request is durable in the store and the audit log before this returns; if
    /// either cannot record it, the caller must refuse the action (a stored request
    /// whose audit record failed is withdrawn, never left pending).
    pub async fn request(
        &self,
        action: &Action,
        verdict: &Verdict,
        retry_mode: bool,
    ) -> Result<Held, ApprovalError> {
        let spec = verdict.approval.clone().unwrap_or_default();
        let now = OffsetDateTime::now_utc();
        let mut rules: Vec<String> = Vec::new();
        if !verdict.rule.is_empty() {
            rules.push(verdict.rule.clone());
        }
        for hit in &verdict.matched {
            if hit.decision == warden_policy::Decision::Hold && !rules.contains(&hit.rule) {
                rules.push(hit.rule.clone());
            }
        }
        let req = ApprovalRequest {
            id: new_id(),
            state: ApprovalState::Pending,
            action: action.clone(),
            rules,
            message: verdict.message.clone(),
            expires_at: now + spec.timeout,
            spec,
            approvals: Vec::new(),
            denial: None,
            created_at: now,
            decided_at: None,
            executed_at: None,
            retry_mode,
            ended_reason: None,
            fleet: None,
        };
        // Register the waiter first so a decision can never slip in unseen.
        let (tx, rx) = watch::channel(None);
        if !retry_mode {
            lock(&self.inner.waiters).insert(req.id.clone(), tx);
        }
        // Stored (on disk) before it is announced in the audit log, under its stripe so
        // that no decision on it is recorded before the request itself: a crash between
        // the two leaves a stored request that the restart ends (`recover.rs`), never a
        // requested record that nothing will ever close.
        let stripe = self.stripe(&req.id).lock().await;
        if let Err(e) = self.inner.store.put(&req).await {
            lock(&self.inner.waiters).remove(&req.id);
            return Err(e);
        }
        self.inner
            .stats
            .entered(ApprovalState::Withdrawn, ApprovalState::Pending);
        if let Err(e) = self.append(machine::requested_event(&req)).await {
            drop(stripe);
            lock(&self.inner.waiters).remove(&req.id);
            // Not in the chain, so it must never be decided: ended in the store.
            let reason = format!("the audit log could not record the request: {e}");
            if let Err(end) = self.transition(&req.id, Op::Withdraw { reason }).await {
                tracing::error!(id = %req.id, error = %end, "an unrecorded approval request could not be ended now; the restart sweep (or the fleet's withdrawal retry) ends it");
            }
            return Err(e);
        }
        drop(stripe);
        self.inner
            .stats
            .requested
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.schedule_expiry(&req);
        let _ = self.inner.feed.send(Arc::new(req.clone()));
        Ok(Held::new(
            self.clone(),
            req.id.clone(),
            self.url_for(&req.id),
            rx,
            retry_mode,
        ))
    }

    /// Adds `approver`'s approval. Returns the updated request (state `approved` once
    /// enough distinct approvers agreed, else still `pending`).
    pub async fn approve(
        &self,
        id: &str,
        approver: &Actor,
        reason: Option<String>,
    ) -> Result<ApprovalRequest, ApprovalError> {
        self.expire_if_due(id).await;
        self.transition(
            id,
            Op::Approve {
                by: approver.clone(),
                reason,
            },
        )
        .await
    }

    /// Denies the request; one entitled denial ends it.
    pub async fn deny(
        &self,
        id: &str,
        approver: &Actor,
        reason: Option<String>,
    ) -> Result<ApprovalRequest, ApprovalError> {
        self.expire_if_due(id).await;
        self.transition(
            id,
            Op::Deny {
                by: approver.clone(),
                reason,
            },
        )
        .await
    }

    /// Marks an approved request as executed. Single use: a second call errors.
    /// Audited durably before it returns; on error the action must not run.
    pub async fn mark_executed(&self, id: &str) -> Result<(), ApprovalError> {
        self.transition(id, Op::Execute).await.map(|_| ())
    }

    /// The client went away: a pending (or approved, not yet executed) request ends.
    pub async fn withdraw(&self, id: &str) -> Result<(), ApprovalError> {
        self.transition(
            id,
            Op::Withdraw {
                reason: "the client went away".into(),
            },
        )
        .await
        .map(|_| ())
    }

    /// Retry mode: finds an approved, unused request for exactly this action (raw
    /// bytes, user, target, protocol), marks it executed and returns it.
    pub async fn take_retry_approval(
        &self,
        action: &Action,
    ) -> Result<Option<ApprovalRequest>, ApprovalError> {
        let candidates: Vec<String> = lock(&self.inner.retry_ready).iter().cloned().collect();
        for id in candidates {
            let Some(req) = self.get(&id) else { continue };
            let same = req.action.raw == action.raw
                && req.action.user.name == action.user.name
                && req.action.target.name == action.target.name
                && req.action.protocol == action.protocol;
            if !same {
                continue;
            }
            if OffsetDateTime::now_utc() >= req.expires_at {
                self.expire_if_due(&id).await;
                continue;
            }
            match self.transition(&id, Op::Execute).await {
                Ok(done) => return Ok(Some(done)),
                Err(
                    ApprovalError::AlreadyExecuted(_)
                    | ApprovalError::WrongState { .. }
                    | ApprovalError::Expired(_),
                ) => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }

    pub fn get(&self, id: &str) -> Option<ApprovalRequest> {
        match self.inner.store.get(id) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(id, error = %e, "approval store read failed");
                None
            }
        }
    }

    /// Requests in `state` (all when `None`), newest first.
    pub fn list(&self, state: Option<ApprovalState>) -> Vec<ApprovalRequest> {
        self.inner.store.in_state(state)
    }

    /// Await the decision on an existing request again, e.g. after a restart: for a
    /// retry-mode request nobody waits on over a connection (a policy proposal is
    /// one). The handle resolves at once when the request is already decided; dropping
    /// it never withdraws the request. `AlreadyExecuted` when it was used already.
    pub fn watch(&self, id: &str) -> Result<Held, ApprovalError> {
        let missing = || ApprovalError::NotFound(id.to_string());
        let req = self.get(id).ok_or_else(missing)?;
        let rx = {
            let mut waiters = lock(&self.inner.waiters);
            match waiters.get(id) {
                Some(tx) => tx.subscribe(),
                None => {
                    let (tx, rx) = watch::channel(None);
                    waiters.insert(id.to_string(), tx);
                    rx
                }
            }
        };
        // Read again now that the waiter is in place: a decision in between is either
        // in this read or sent to the waiter.
        let req = self.get(id).unwrap_or(req);
        if req.state == ApprovalState::Executed {
            lock(&self.inner.waiters).remove(id);
            return Err(ApprovalError::AlreadyExecuted(id.to_string()));
        }
        let rx = match resolution_of(&req) {
            None => rx,
            Some(done) => {
                // Decided: nothing will be sent to a waiter any more.
                lock(&self.inner.waiters).remove(id);
                watch::channel(Some(done)).1
            }
        };
        Ok(Held::new(self.clone(), req.id, self.url_for(id), rx, true))
    }

    /// Every transition (including new requests), for the console's live view and
    /// the webhooks.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<ApprovalRequest>> {
        self.inner.feed.subscribe()
    }

    pub fn url_for(&self, id: &str) -> String {
        format!("{}/approvals/{}", self.inner.public_url, id)
    }

    pub fn public_url(&self) -> &str {
        &self.inner.public_url
    }

    pub fn stats(&self) -> StatsSnapshot {
        self.inner.stats.snapshot()
    }

    /// Expires `id` if it is past its deadline; a no-op otherwise.
    pub(crate) async fn expire_if_due(&self, id: &str) {
        if let Some(req) = self.get(id) {
            let live = req.state == ApprovalState::Pending
                || (req.state == ApprovalState::Approved && req.retry_mode);
            if live && OffsetDateTime::now_utc() >= req.expires_at {
                if let Err(e) = self.transition(id, Op::Expire).await {
                    tracing::debug!(id, error = %e, "expiry skipped");
                }
            }
        }
    }

    /// One timer task per live request: sleeps until the deadline, then expires it.
    /// Holds only a weak handle so a dropped `Approvals` is not kept alive by timers.
    pub(crate) fn schedule_expiry(&self, req: &ApprovalRequest) {
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return; // no runtime: expiry is enforced lazily on the next access
        };
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        let id = req.id.clone();
        let wait = (req.expires_at - OffsetDateTime::now_utc()).max(time::Duration::ZERO);
        let wait = Duration::from_secs_f64(wait.as_seconds_f64()) + Duration::from_millis(5);
        handle.spawn(async move {
            tokio::time::sleep(wait).await;
            if let Some(inner) = weak.upgrade() {
                Approvals { inner }.expire_if_due(&id).await;
            }
        });
    }

    fn stripe(&self, id: &str) -> &tokio::sync::Mutex<()> {
        let h = id
            .bytes()
            .fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(b as usize));
        &self.inner.stripes[h % STRIPES]
    }

    pub(crate) async fn append(&self, ev: Event) -> Result<(), ApprovalError> {
        let started = Instant::now();
        let res = self.inner.audit.append(ev, Durability::Durable).await;
        self.inner.stats.audit_append.observe(started.elapsed());
        res.map(|_| ()).map_err(|e| {
            self.inner
                .stats
                .audit_failures
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            ApprovalError::Audit(e.to_string())
        })
    }

    pub(crate) async fn transition(
        &self,
        id: &str,
        op: Op,
    ) -> Result<ApprovalRequest, ApprovalError> {
        if let Store::Fleet(f) = &self.inner.store {
            return crate::fleet::transition(self, f, id, op).await;
        }
        let _guard = self.stripe(id).lock().await;
        let mut req = self
            .inner
            .store
            .get(id)?
            .ok_or_else(|| ApprovalError::NotFound(id.to_string()))?;
        let before = req.state;
        let event = machine::apply(&mut req, &op, OffsetDateTime::now_utc())?;
        if let Err(e) = self.append(event).await {
            if !op.proceeds_without_audit() {
                return Err(e);
            }
            tracing::error!(id, error = %e, "audit unavailable; ending the request anyway (fail closed)");
        }
        self.inner.store.put(&req).await?;
        self.finish(before, &req);
        Ok(req)
    }

    /// The same transition without a runtime (restart recovery, drop outside tokio).
    pub(crate) fn transition_blocking(
        &self,
        id: &str,
        op: Op,
    ) -> Result<ApprovalRequest, ApprovalError> {
        if let Store::Fleet(_) = &self.inner.store {
            // Only a `Held` dropped outside any runtime gets here: the request then
            // expires, or is withdrawn when this replica's lease ends.
            return Err(ApprovalError::Internal(
                "fleet transitions need a runtime".into(),
            ));
        }
        let _guard = self.stripe(id).blocking_lock();
        let mut req = self
            .inner
            .store
            .get(id)?
            .ok_or_else(|| ApprovalError::NotFound(id.to_string()))?;
        let before = req.state;
        let event = machine::apply(&mut req, &op, OffsetDateTime::now_utc())?;
        let started = Instant::now();
        let res = self.inner.audit.append_blocking(event, Durability::Durable);
        self.inner.stats.audit_append.observe(started.elapsed());
        if let Err(e) = res {
            self.inner
                .stats
                .audit_failures
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if !op.proceeds_without_audit() {
                return Err(ApprovalError::Audit(e.to_string()));
            }
            tracing::error!(id, error = %e, "audit unavailable; ending the request anyway (fail closed)");
        }
        self.inner.store.put_blocking(&req)?;
        self.finish(before, &req);
        Ok(req)
    }

    /// After a stored transition: stats, waiter, retry index, live feed.
    pub(crate) fn finish(&self, before: ApprovalState, req: &ApprovalRequest) {
        let stats = &self.inner.stats;
        stats.entered(before, req.state);
        if before == ApprovalState::Pending && req.state != ApprovalState::Pending {
            let waited = OffsetDateTime::now_utc() - req.created_at;
            stats
                .time_to_decision
                .observe(Duration::from_secs_f64(waited.as_seconds_f64().max(0.0)));
        }
        if let Some(resolution) = resolution_of(req) {
            if let Some(tx) = lock(&self.inner.waiters).remove(&req.id) {
                let _ = tx.send(Some(resolution));
            }
        }
        let mut ready = lock(&self.inner.retry_ready);
        if req.retry_mode && req.state == ApprovalState::Approved {
            ready.insert(req.id.clone());
            drop(ready);
            self.schedule_expiry(req);
        } else {
            ready.remove(&req.id);
        }
        let _ = self.inner.feed.send(Arc::new(req.clone()));
    }
}

/// What a waiter is told when `req` is in its state (`None`: nothing to tell yet).
fn resolution_of(req: &ApprovalRequest) -> Option<Resolution> {
    match req.state {
        ApprovalState::Pending | ApprovalState::Executed => None,
        ApprovalState::Approved => Some(Resolution::Approved {
            approvers: req.approvers(),
        }),
        ApprovalState::Denied => Some(Resolution::Denied {
            by: req
                .denial
                .as_ref()
                .map(|d| d.by.clone())
                .unwrap_or_default(),
            reason: req.denial.as_ref().and_then(|d| d.reason.clone()),
        }),
        ApprovalState::Expired => Some(Resolution::Expired),
        ApprovalState::Withdrawn => Some(Resolution::Withdrawn),
    }
}
