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
                    if full {
                        // Asked at a journal switch: cover the whole file just filled
                        // (its last ops may still be on their way to sled), so the
                        // writer finds it free at the next switch instead of syncing
                        // sled itself while appends wait.
                        p.wait_op(p.written());
                    }
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Instant;

    use super::*;

    /// At a journal switch the last ops of the file just filled may not be in sled
    /// yet; the full sync must wait for them, or the writer finds the file still
    /// uncovered at the next switch and syncs sled itself while appends wait.
    #[test]
    fn a_flush_asked_for_at_a_switch_covers_ops_still_on_their_way_to_sled() {
        let progress = Arc::new(Progress::default());
        let syncs = Arc::new(AtomicU64::new(0));
        let counted = syncs.clone();
        let mut f = Flusher::start(
            move || {
                counted.fetch_add(1, Ordering::SeqCst);
                Ok(())
            },
            || Ok(()),
            progress.clone(),
            Arc::new(Shared::empty()),
        )
        .expect("flusher");
        progress.set_written(5);
        progress.set_applied(3);
        progress.kick();
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(
            syncs.load(Ordering::SeqCst),
            0,
            "synced before ops 4, 5 were applied"
        );
        assert_eq!(progress.durable(), 0);
        progress.set_applied(5);
        let deadline = Instant::now() + Duration::from_secs(5);
        while progress.durable() < 5 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(progress.durable(), 5);
        assert_eq!(syncs.load(Ordering::SeqCst), 1);
        f.stop();
    }
}
