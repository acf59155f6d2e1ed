//! Persistence of approval requests in sled: one tree, key = id, value = JSON.
//!
//! Every write is flushed before it returns so that a decision survives a crash. This
//! module never decides anything; it stores what `approvals.rs` decided.

use crate::error::ApprovalError;
use crate::request::{ApprovalRequest, ApprovalState};

const TREE: &str = "approvals";

#[derive(Clone)]
pub(crate) struct Store {
    tree: sled::Tree,
}

impl Store {
    pub(crate) fn open(db: &sled::Db) -> Result<Store, ApprovalError> {
        Ok(Store {
            tree: db.open_tree(TREE)?,
        })
    }

    pub(crate) fn get(&self, id: &str) -> Result<Option<ApprovalRequest>, ApprovalError> {
        match self.tree.get(id.as_bytes())? {
            Some(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
            None => Ok(None),
        }
    }

    /// Writes `req` and waits until it is on disk.
    ///
    /// The flush runs as a blocking `flush()` on the blocking pool: sled 0.34's
    /// `flush_async` deadlocks when called concurrently (spacejam/sled#1308).
    pub(crate) async fn put(&self, req: &ApprovalRequest) -> Result<(), ApprovalError> {
        let bytes = serde_json::to_vec(req)?;
        self.tree.insert(req.id.as_bytes(), bytes)?;
        let tree = self.tree.clone();
        tokio::task::spawn_blocking(move || tree.flush())
            .await
            .map_err(|e| ApprovalError::Internal(format!("store flush task failed: {e}")))??;
        Ok(())
    }

    /// Synchronous variant for paths without a runtime (drop of a `Held`, `open`).
    pub(crate) fn put_blocking(&self, req: &ApprovalRequest) -> Result<(), ApprovalError> {
        let bytes = serde_json::to_vec(req)?;
        self.tree.insert(req.id.as_bytes(), bytes)?;
        self.tree.flush()?;
        Ok(())
    }

    /// Every stored request; records that do not parse are skipped with a warning
    /// (they can never be executed: only parsed, approved requests can).
    pub(crate) fn all(&self) -> Vec<ApprovalRequest> {
        let mut out = Vec::new();
        for item in self.tree.iter() {
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
