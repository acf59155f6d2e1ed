//! The sled applier: writes journaled batches into sled, off the durable callers' path.
//!
//! The writer journals a batch (journal.rs) and hands it here; a durable caller is
//! answered once the journal is synced, whether or not this thread has written the
//! batch to sled yet (a crash before it does is repaired by replaying the journal at
//! open). Readers of a live log wait until the records they could have been told about
//! are applied ([`crate::progress::Progress::wait_op`]). Ops that queued up while the
//! previous `apply_batch` ran are written together, in order, with one `apply_batch`, and
//! their index entries merged into one posting list per value. This module must never
//! apply ops out of order or split one batch's records across two sled writes.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::error::AuditError;
use crate::layout::{self, IndexKind};
use crate::progress::Progress;
use crate::writer::{IndexValues, Shared};

/// Most ops written by one `apply_batch`.
const MAX_MERGE: usize = 256;
/// Pause after each sled batch (see [`run`]); readers wait at most about this long.
/// Every sled batch costs more than its records: sled seals and writes its IO buffer
/// before and after each one, handing each write to its thread pool, which wakes all
/// seven of its threads (`notify_all`). At 2 ms that was about 1 context switch per
/// statement on a busy gateway (perf: the `sled-io-*` threads were a quarter of
/// Warden's samples under pgbench); at 10 ms a fifth of it.
const LINGER: std::time::Duration = std::time::Duration::from_millis(10);
/// Most ops waiting for the applier; the writer then waits (back-pressure, so memory
/// stays bounded when sled cannot keep up).
const MAX_QUEUED: usize = 64;

/// One sled write, as journaled.
pub(crate) enum Op {
    /// A batch of records: the journal payload, the ranges in it of the chunk values
    /// (keyed by their first sequence), and each record's index values.
    Records {
        payload: Vec<u8>,
        chunks: Vec<(u64, Range<usize>)>,
        index: Vec<(u64, IndexValues)>,
    },
    /// A signed checkpoint (its JSON).
    Checkpoint { seq: u64, json: Vec<u8> },
}

/// Handle on the applier thread.
pub(crate) struct Applier {
    tx: Option<SyncSender<(u64, Op)>>,
    handle: Option<JoinHandle<()>>,
}

impl Applier {
    pub(crate) fn start(
        db: sled::Db,
        progress: Arc<Progress>,
        shared: Arc<Shared>,
    ) -> std::io::Result<Applier> {
        let (tx, rx) = mpsc::sync_channel(MAX_QUEUED);
        let handle = std::thread::Builder::new()
            .name("audit-apply".into())
            .spawn(move || {
                run(&db, &progress, &shared, &rx);
                progress.applier_stopped();
            })?;
        Ok(Applier {
            tx: Some(tx),
            handle: Some(handle),
        })
    }

    /// Queue op number `n` (numbers increase by one, in journal order).
    pub(crate) fn send(&self, n: u64, op: Op) -> Result<(), AuditError> {
        let tx = self.tx.as_ref().ok_or(AuditError::Closed)?;
        tx.send((n, op))
            .map_err(|_| AuditError::Failed("audit sled applier stopped".into()))
    }

    /// Apply everything queued, then stop the thread.
    pub(crate) fn stop(&mut self) {
        self.tx = None;
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Drop for Applier {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run(db: &sled::Db, progress: &Progress, shared: &Shared, rx: &Receiver<(u64, Op)>) {
    while let Ok(first) = rx.recv() {
        let mut ops = vec![first];
        while ops.len() < MAX_MERGE {
            match rx.try_recv() {
                Ok(op) => ops.push(op),
                Err(_) => break,
            }
        }
        let last_op = ops.last().map_or(0, |o| o.0);
        if let Err(e) = db.apply_batch(batch(ops.iter().map(|(_, op)| op))) {
            shared.fail(&e.into());
            return;
        }
        progress.set_applied(last_op);
        // Let the next ops gather: fewer, larger sled batches (one posting list per
        // value per batch) cut what sled writes to disk by about a quarter, and the
        // disk is what durable appends wait for.
        std::thread::sleep(LINGER);
    }
}

/// One sled batch for `ops`: chunks and checkpoints as journaled (chunks already in
/// their stored form, compressed where that is smaller), and one posting list
/// per index value (more past [`layout::POSTING_MAX`]) instead of one per op. Also what
/// journal replay writes.
pub(crate) fn batch<'a>(ops: impl IntoIterator<Item = &'a Op>) -> sled::Batch {
    let mut batch = sled::Batch::default();
    let mut postings: HashMap<(IndexKind, &str), Vec<u64>> = HashMap::new();
    for op in ops {
        match op {
            Op::Records {
                payload,
                chunks,
                index,
            } => {
                for (seq, r) in chunks {
                    batch.insert(&layout::record_key(*seq)[..], &payload[r.clone()]);
                }
                for (seq, values) in index {
                    for (kind, value) in values.iter() {
                        postings.entry((kind, value)).or_default().push(*seq);
                    }
                }
            }
            Op::Checkpoint { seq, json } => {
                batch.insert(&layout::checkpoint_key(*seq)[..], json.as_slice());
            }
        }
    }
    for ((kind, value), seqs) in &postings {
        for part in seqs.chunks(layout::POSTING_MAX) {
            batch.insert(
                layout::index_key(*kind, value, part[0]),
                layout::encode_posting(part),
            );
        }
    }
    batch
}
