//! The sync thread: makes journaled batches durable and only then answers their
//! durable callers, so the writer can chain and journal batch N+1 while batch N is
//! being fsynced (a batch is not capped at one write + fsync time).
//!
//! The writer hands over each batch's durable replies after its journal frame was
//! written; a sync started after that covers the batch, and one sync answers every
//! batch queued by then. After the first failed sync every later reply is an error,
//! whether or not a later sync would succeed. This module must never answer `Ok` for a
//! record that a completed journal sync did not cover.

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::error::AuditError;
use crate::writer::{lock, Reply, Shared};

/// Durable replies of one written batch (empty: just make the writes so far durable,
/// for the queued window).
pub(crate) type Waiters = Vec<(u64, Reply<u64>)>;

/// Handle on the sync thread.
pub(crate) struct SyncThread {
    tx: Option<Sender<Waiters>>,
    handle: Option<JoinHandle<()>>,
}

impl SyncThread {
    /// Start the thread; `sync` makes everything journaled so far durable (an
    /// `fdatasync` of the journal files: [`crate::journal::Files::sync`]).
    pub(crate) fn start(
        sync: impl FnMut() -> Result<(), AuditError> + Send + 'static,
        shared: Arc<Shared>,
    ) -> std::io::Result<SyncThread> {
        let (tx, rx) = mpsc::channel();
        let handle = std::thread::Builder::new()
            .name("audit-sync".into())
            .spawn(move || run(sync, &shared, &rx))?;
        Ok(SyncThread {
            tx: Some(tx),
            handle: Some(handle),
        })
    }

    /// Queue a written batch's durable replies (answered once a sync covers it).
    pub(crate) fn submit(&self, waiters: Waiters) {
        let Some(tx) = &self.tx else {
            fail_all(waiters, "audit log is closed");
            return;
        };
        if let Err(mpsc::SendError(waiters)) = tx.send(waiters) {
            fail_all(waiters, "audit sync thread stopped");
        }
    }

    /// Answer everything queued (after a last sync) and stop the thread.
    pub(crate) fn stop(&mut self) {
        self.tx = None;
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Drop for SyncThread {
    fn drop(&mut self) {
        self.stop();
    }
}

fn fail_all(waiters: Waiters, msg: &str) {
    for (_, r) in waiters {
        r.send(Err(AuditError::Failed(msg.to_string())));
    }
}

fn run(mut sync: impl FnMut() -> Result<(), AuditError>, shared: &Shared, rx: &Receiver<Waiters>) {
    while let Ok(first) = rx.recv() {
        let mut waiters = first;
        while let Ok(more) = rx.try_recv() {
            waiters.extend(more);
        }
        if let Some(msg) = lock(&shared.failed).clone() {
            fail_all(waiters, &msg);
            continue;
        }
        match sync() {
            Ok(()) => {
                for (seq, r) in waiters {
                    r.send(Ok(seq));
                }
            }
            Err(e) => {
                let msg = shared.fail(&e);
                fail_all(waiters, &msg);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn shared() -> Arc<Shared> {
        Arc::new(Shared::empty())
    }

    type Answer = mpsc::Receiver<Result<u64, AuditError>>;

    fn waiter(seq: u64) -> ((u64, Reply<u64>), Answer) {
        let (tx, rx) = mpsc::sync_channel(1);
        ((seq, Reply::Blocking(tx)), rx)
    }

    #[test]
    fn answers_after_a_sync_and_fails_everything_after_a_failed_one() {
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = calls.clone();
        // The second sync fails; later ones would succeed.
        let sync = move || match counted.fetch_add(1, Ordering::SeqCst) {
            1 => Err(AuditError::Closed),
            _ => Ok(()),
        };
        let shared = shared();
        let mut t = SyncThread::start(sync, shared.clone()).expect("start");
        let (w1, r1) = waiter(1);
        t.submit(vec![w1]);
        assert_eq!(r1.recv().expect("answer").expect("durable"), 1);
        let (w2, r2) = waiter(2);
        t.submit(vec![w2]);
        assert!(matches!(
            r2.recv().expect("answer"),
            Err(AuditError::Failed(_))
        ));
        assert!(lock(&shared.failed).is_some());
        let (w3, r3) = waiter(3);
        t.submit(vec![w3]);
        assert!(matches!(
            r3.recv().expect("answer"),
            Err(AuditError::Failed(_))
        ));
        t.stop();
        assert_eq!(calls.load(Ordering::SeqCst), 2, "no sync after the failure");
        let (w4, r4) = waiter(4);
        t.submit(vec![w4]);
        assert!(matches!(
            r4.recv().expect("answer"),
            Err(AuditError::Failed(_))
        ));
    }
}
