//! Persistence of approval requests behind one handle whose backend is an enum:
//! [`ApprovalBackend::Sled`] (one tree, key = id, value = JSON) for one embedded
//! gateway, [`ApprovalBackend::Fleet`] (PostgreSQL, `fleet/`) for several replicas.
//!
//! Every sled write is flushed before it returns so that a decision survives a crash.
//! This module never decides anything; it stores what `approvals.rs` decided. On the
//! fleet backend reads come from the replica's cache of the shared table, and writes
//! are the conditional statements of `fleet/`, never a blind overwrite.

use std::sync::Arc;

use crate::error::ApprovalError;
use crate::fleet::FleetStore;
use crate::request::{ApprovalRequest, ApprovalState};

const TREE: &str = "approvals";

/// Where approval requests are kept.
#[derive(Clone)]
pub enum ApprovalBackend {
    /// An embedded sled database (the tree `approvals` in it).
    Sled(sled::Db),
    /// The fleet's shared PostgreSQL database (open it with `Approvals::open_fleet`).
    Fleet(warden_fleet::Fleet),
}

impl ApprovalBackend {
    /// An embedded store in its own folder (created if missing).
    pub fn embedded(path: &std::path::Path) -> Result<ApprovalBackend, ApprovalError> {
        Ok(ApprovalBackend::Sled(sled::open(path)?))
    }
}

#[derive(Clone)]
pub(crate) enum Store {
    Sled { tree: sled::Tree },
    Fleet(Arc<FleetStore>),
}

impl Store {
    pub(crate) fn open_sled(db: sled::Db) -> Result<Store, ApprovalError> {
        Ok(Store::Sled {
            tree: db.open_tree(TREE)?,
        })
    }

    pub(crate) fn get(&self, id: &str) -> Result<Option<ApprovalRequest>, ApprovalError> {
        match self {
            Store::Sled { tree } => match tree.get(id.as_bytes())? {
                Some(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
                None => Ok(None),
            },
            Store::Fleet(f) => Ok(f.cached(id)),
        }
    }

    /// Writes `req` and waits until it is on disk (fleet: a new request, inserted).
    ///
    /// The flush runs as a blocking `flush()` on the blocking pool: sled 0.34's
    /// `flush_async` deadlocks when called concurrently (spacejam/sled#1308).
    pub(crate) async fn put(&self, req: &ApprovalRequest) -> Result<(), ApprovalError> {
        match self {
            Store::Sled { tree } => {
                let bytes = serde_json::to_vec(req)?;
                tree.insert(req.id.as_bytes(), bytes)?;
                let tree = tree.clone();
                tokio::task::spawn_blocking(move || tree.flush())
                    .await
                    .map_err(|e| {
                        ApprovalError::Internal(format!("store flush task failed: {e}"))
                    })??;
                Ok(())
            }
            Store::Fleet(f) => f.insert(req).await,
        }
    }

    /// Synchronous variant for paths without a runtime (drop of a `Held`, `open`).
    pub(crate) fn put_blocking(&self, req: &ApprovalRequest) -> Result<(), ApprovalError> {
        match self {
            Store::Sled { tree } => {
                let bytes = serde_json::to_vec(req)?;
                tree.insert(req.id.as_bytes(), bytes)?;
                tree.flush()?;
                Ok(())
            }
            Store::Fleet(_) => Err(ApprovalError::Internal(
                "the fleet store has no blocking writes".into(),
            )),
        }
    }

    /// Every stored request; records that do not parse are skipped with a warning
    /// (they can never be executed: only parsed, approved requests can).
    pub(crate) fn all(&self) -> Vec<ApprovalRequest> {
        let tree = match self {
            Store::Sled { tree } => tree,
            Store::Fleet(f) => return f.cached_all(),
        };
        let mut out = Vec::new();
        for item in tree.iter() {
            match item {
                Ok((key, value)) => match serde_json::from_slice::<ApprovalRequest>(&value) {
                    Ok(req) => out.push(req),
                    Err(e) => tracing::warn!(
                        key = %String::from_utf8_lossy(&key),
                        error = %e,
                        "skipping unreadable approval record"
                    ),
                },
                Err(e) => tracing::warn!(error = %e, "approval store iteration failed"),
            }
        }
        out
    }

    pub(crate) fn in_state(&self, state: Option<ApprovalState>) -> Vec<ApprovalRequest> {
        let mut out: Vec<ApprovalRequest> = self
            .all()
            .into_iter()
            .filter(|r| state.is_none_or(|s| r.state == s))
            .collect();
        out.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        out
    }
}
