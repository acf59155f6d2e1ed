//! The sync thread: makes written batches durable and only then answers their durable
//! callers, so the writer can chain and write batch N+1 while batch N is being flushed
//! and fsynced (a batch is not capped at one write + fsync time).
//!
//! The writer hands over each batch's durable replies after `apply_batch` returned; a
//! sync started after that covers the batch, and one sync answers every batch queued
//! by then. After the first failed sync every later reply is an error, whether or not
//! a later sync would succeed. This module must never answer `Ok` for a record that a
//! completed flush + fsync did not cover.

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::error::AuditError;
use crate::store::Syncer;
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
    pub(crate) fn start(
        db: sled::Db,
        syncer: Arc<Mutex<Syncer>>,
        shared: Arc<Shared>,
    ) -> std::io::Result<SyncThread> {
        let (tx, rx) = mpsc::channel();
        let handle = std::thread::Builder::new()
            .name("audit-sync".into())
            .spawn(move || run(&db, &syncer, &shared, &rx))?;
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

fn run(db: &sled::Db, syncer: &Mutex<Syncer>, shared: &Shared, rx: &Receiver<Waiters>) {
    while let Ok(first) = rx.recv() {
        let mut waiters = first;
        while let Ok(more) = rx.try_recv() {
            waiters.extend(more);
        }
        if let Some(msg) = lock(&shared.failed).clone() {
            fail_all(waiters, &msg);
            continue;
        }
        match lock(syncer).sync(db) {
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
