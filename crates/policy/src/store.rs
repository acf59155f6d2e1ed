//! The live policy set, swapped atomically as a whole (hot reload).
//!
//! Readers take a cheap snapshot with [`PolicyStore::current`] and evaluate against it
//! for the whole request; a reload builds and validates a new set first and only then
//! replaces the old one, so a bad file never leaves a half-loaded policy in force.

use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::set::PolicySet;

/// Shared handle to the current policy set. Cloning shares the same store.
#[derive(Clone)]
pub struct PolicyStore {
    inner: Arc<ArcSwap<PolicySet>>,
}

impl PolicyStore {
    pub fn new(set: PolicySet) -> Self {
        PolicyStore {
            inner: Arc::new(ArcSwap::from_pointee(set)),
        }
    }

    /// A snapshot: stays valid (and unchanged) even if the store is replaced meanwhile.
    pub fn current(&self) -> Arc<PolicySet> {
        self.inner.load_full()
    }

    /// Replace the whole set atomically.
    pub fn replace(&self, set: PolicySet) {
        self.inner.store(Arc::new(set));
    }
}

impl std::fmt::Debug for PolicyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyStore")
            .field("rules", &self.current().rules().count())
            .finish()
    }
}
