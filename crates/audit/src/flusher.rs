//! The background sled flush: gets sled's own files onto the disk behind the journal.
//!
//! Durable appends are acknowledged on the journal's `fdatasync` (journal.rs), not on
//! sled's. Here, every [`INTERVAL`], sled writes back what the applier gave it (sled's
//! `flush`: `pwrite` + `sync_file_range`, no fsync), so its pages reach the disk in
//! small slices instead of one burst that every journal sync would queue behind; and
//! when the writer switches journal files it asks for a full flush + fsync
//! ([`crate::store::Syncer`]), after which the ops applied before it started count as
//! `durable` and the file it left may be reused. This module must never count ops as
//! durable that were not applied to sled before a completed flush + fsync started, and
//! it stops (failing the log) at the first error.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::error::AuditError;
use crate::progress::Progress;
use crate::writer::{lock, Shared};

/// How often sled's applied writes are written back (without fsync).
const INTERVAL: Duration = Duration::from_millis(20);

/// Handle on the flusher thread.
pub(crate) struct Flusher {
    progress: Arc<Progress>,
    handle: Option<JoinHandle<()>>,
}

impl Flusher {
    /// Start the thread; `sync` is a full sled flush + fsync ([`crate::store::Syncer`]),
    /// `light` sled's flush alone.
    pub(crate) fn start(
        mut sync: impl FnMut() -> Result<(), AuditError> + Send + 'static,
        mut light: impl FnMut() -> Result<(), AuditError> + Send + 'static,
        progress: Arc<Progress>,
        shared: Arc<Shared>,
    ) -> std::io::Result<Flusher> {
        let p = progress.clone();
        let handle = std::thread::Builder::new()
            .name("audit-flush".into())
            .spawn(move || {
                while let Some(full) = p.next_flush(INTERVAL) {
                    let target = p.applied();
                    if target <= p.durable() {
                        continue;
                    }
                    if lock(&shared.failed).is_some() {
                        return;
                    }
                    if !full {
                        // Written back, not yet fsynced: no op counts as covered.
                        if let Err(e) = light() {
                            shared.fail(&e);
                            return;
                        }
                        continue;
                    }
                    match sync() {
                        Ok(()) => p.covered(target),
                        Err(e) => {
                            shared.fail(&e);
                            return;
                        }
                    }
                }
            })?;
        Ok(Flusher {
            progress,
            handle: Some(handle),
        })
    }

    /// Stop the thread (the caller does the final sync itself).
    pub(crate) fn stop(&mut self) {
        self.progress.stop_flusher();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        self.stop();
    }
}
