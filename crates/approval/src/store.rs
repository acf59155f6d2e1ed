//! Persistence of approval requests behind one handle whose backend is an enum:
//! [`ApprovalBackend::Sled`] today (one tree, key = id, value = JSON); a shared database
//! for several replicas is one more variant.
//!
//! Every write is flushed before it returns so that a decision survives a crash. This
//! module never decides anything; it stores what `approvals.rs` decided.

use crate::error::ApprovalError;
use crate::request::{ApprovalRequest, ApprovalState};

const TREE: &str = "approvals";

/// Where approval requests are kept.
#[derive(Clone)]
pub enum ApprovalBackend {
    /// An embedded sled database (the tree `approvals` in it).
    Sled(sled::Db),
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
}

impl Store {
    pub(crate) fn open(backend: ApprovalBackend) -> Result<Store, ApprovalError> {
        match backend {
            ApprovalBackend::Sled(db) => Ok(Store::Sled {
                tree: db.open_tree(TREE)?,
            }),
        }
    }

    pub(crate) fn get(&self, id: &str) -> Result<Option<ApprovalRequest>, ApprovalError> {
        let Store::Sled { tree } = self;
        match tree.get(id.as_bytes())? {
            Some(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
            None => Ok(None),
        }
    }

    /// Writes `req` and waits until it is on disk.
    ///
    /// The flush runs as a blocking `flush()` on the blocking pool: sled 0.34's
    /// `flush_async` deadlocks when called concurrently (spacejam/sled#1308).
    pub(crate) async fn put(&self, req: &ApprovalRequest) -> Result<(), ApprovalError> {
        let Store::Sled { tree } = self;
        let bytes = serde_json::to_vec(req)?;
        tree.insert(req.id.as_bytes(), bytes)?;
        let tree = tree.clone();
        tokio::task::spawn_blocking(move || tree.flush())
            .await
            .map_err(|e| ApprovalError::Internal(format!("store flush task failed: {e}")))??;
        Ok(())
    }

    /// Synchronous variant for paths without a runtime (drop of a `Held`, `open`).
    pub(crate) fn put_blocking(&self, req: &ApprovalRequest) -> Result<(), ApprovalError> {
        let Store::Sled { tree } = self;
        let bytes = serde_json::to_vec(req)?;
        tree.insert(req.id.as_bytes(), bytes)?;
        tree.flush()?;
        Ok(())
    }

    /// Every stored request; records that do not parse are skipped with a warning
    /// (they can never be executed: only parsed, approved requests can).
    pub(crate) fn all(&self) -> Vec<ApprovalRequest> {
        let Store::Sled { tree } = self;
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
