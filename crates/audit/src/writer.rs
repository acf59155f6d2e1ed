//! The single writer: assigns times and hashes, group-commits appends, signs checkpoints.
//!
//! Runs on its own OS thread (so it works with or without a tokio runtime). Requests
//! arrive in sequence order over one channel; every request found waiting is written in
//! one atomic sled batch, and the batch is flushed + fsynced before any *durable* caller
//! in it is answered. After the first failed write the writer answers every later
//! request with an error: it must never leave a gap in the chain or acknowledge a record
//! that is not durable.

use std::collections::HashMap;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use ed25519_dalek::SigningKey;
use tokio::sync::{broadcast, oneshot, OwnedSemaphorePermit};

use crate::checkpoint::{self, Checkpoint};
use crate::config::AuditConfig;
use crate::error::AuditError;
use crate::event::Event;
use crate::layout::{self, IndexKind, StoredRecord};
use crate::record::{self, Record};
use crate::store::Syncer;

/// Most requests written in one batch.
const MAX_BATCH: usize = 8192;

/// Where an answer goes: an awaiting task or a blocked thread.
pub(crate) enum Reply<T> {
    Async(oneshot::Sender<Result<T, AuditError>>),
    Blocking(std::sync::mpsc::SyncSender<Result<T, AuditError>>),
}

impl<T> Reply<T> {
    fn send(self, r: Result<T, AuditError>) {
        // A caller that gave up waiting is not an error of the log.
        match self {
            Reply::Async(tx) => {
                let _ = tx.send(r);
            }
            Reply::Blocking(tx) => {
                let _ = tx.send(r);
            }
        }
    }
}

/// One append, prepared (redacted, encoded) by the caller.
pub(crate) struct AppendReq {
    pub seq: u64,
    pub event: Event,
    pub json: Vec<u8>,
    pub reply: Option<Reply<u64>>,
    pub _permit: OwnedSemaphorePermit,
}

pub(crate) enum Req {
    Append(Box<AppendReq>),
    Checkpoint(Reply<Checkpoint>),
    Shutdown(Reply<()>),
}

/// The chain head as last written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Head {
    pub seq: u64,
    pub hash: [u8; 32],
    pub time_ns: i64,
}

/// State the writer shares with the handles.
pub(crate) struct Shared {
    pub head: Mutex<Head>,
    pub failed: Mutex<Option<String>>,
    pub last_checkpoint: Mutex<Option<Checkpoint>>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks cannot leave the data half-updated
    // (each is a single assignment), so poisoning is safe to ignore.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

pub(crate) struct Writer {
    pub db: sled::Db,
    pub syncer: Syncer,
    pub rx: Receiver<Req>,
    pub shared: Arc<Shared>,
    pub feed: broadcast::Sender<Record>,
    pub key: SigningKey,
    pub cfg: AuditConfig,
    pub head: Head,
    pub last_cp_seq: u64,
    /// When the oldest record not yet fsynced was written.
    pub unflushed_since: Option<Instant>,
    /// When the oldest record not yet covered by a checkpoint was written.
    pub unsealed_since: Option<Instant>,
}

impl Writer {
    pub fn run(mut self) {
        loop {
            let first = match self.next_deadline() {
                Some(d) => self
                    .rx
                    .recv_timeout(d.saturating_duration_since(Instant::now())),
                None => self.rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
            };
            match first {
                Ok(req) => {
                    let mut batch = vec![req];
                    while batch.len() < MAX_BATCH {
                        match self.rx.try_recv() {
                            Ok(r) => batch.push(r),
                            Err(_) => break,
                        }
                    }
                    if self.handle(batch) {
                        return;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    if let Err(e) = self.finish() {
                        tracing::error!("audit log: final checkpoint failed: {e}");
                    }
                    return;
                }
            }
            self.housekeeping();
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        let flush = self.unflushed_since.map(|t| t + self.cfg.queued_window);
        let seal = self
            .unsealed_since
            .map(|t| t + self.cfg.checkpoint_interval);
        match (flush, seal) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Handle one batch; true when the writer must stop.
    fn handle(&mut self, batch: Vec<Req>) -> bool {
        let mut appends = Vec::new();
        for req in batch {
            match req {
                Req::Append(a) => appends.push(*a),
                Req::Checkpoint(reply) => {
                    self.commit(std::mem::take(&mut appends));
                    reply.send(self.checkpoint());
                }
                Req::Shutdown(reply) => {
                    self.commit(std::mem::take(&mut appends));
                    reply.send(self.finish());
                    return true;
                }
            }
        }
        self.commit(appends);
        false
    }

    fn housekeeping(&mut self) {
        let now = Instant::now();
        if lock(&self.shared.failed).is_some() {
            return;
        }
        let seal_due = self
            .unsealed_since
            .is_some_and(|t| now >= t + self.cfg.checkpoint_interval);
        if seal_due {
            if let Err(e) = self.checkpoint() {
                tracing::error!("audit log: periodic checkpoint failed: {e}");
            }
            return;
        }
        if self
            .unflushed_since
            .is_some_and(|t| now >= t + self.cfg.queued_window)
        {
            if let Err(e) = self.sync() {
                self.fail(&e);
            }
        }
    }

    fn failed(&self) -> Option<String> {
        lock(&self.shared.failed).clone()
    }

    fn fail(&self, e: &AuditError) {
        let mut f = lock(&self.shared.failed);
        if f.is_none() {
            tracing::error!("audit log: write failed, refusing further appends: {e}");
            *f = Some(e.to_string());
        }
    }

    fn sync(&mut self) -> Result<(), AuditError> {
        self.syncer.sync(&self.db)?;
        self.unflushed_since = None;
        Ok(())
    }

    fn commit(&mut self, appends: Vec<AppendReq>) {
        if appends.is_empty() {
            return;
        }
        if let Some(msg) = self.failed() {
            for a in appends {
                if let Some(r) = a.reply {
                    r.send(Err(AuditError::Failed(msg.clone())));
                }
            }
            return;
        }
        let mut prev = self.head.hash;
        let hashes = match self.write(&appends) {
            Ok(h) => h,
            Err(e) => {
                self.fail(&e);
                let msg = e.to_string();
                for a in appends {
                    if let Some(r) = a.reply {
                        r.send(Err(AuditError::Failed(msg.clone())));
                    }
                }
                return;
            }
        };
        let want_feed = self.feed.receiver_count() > 0;
        let time = record::time_from_ns(self.head.time_ns);
        for (a, hash) in appends.into_iter().zip(hashes) {
            if want_feed {
                let _ = self.feed.send(Record {
                    seq: a.seq,
                    time,
                    prev_hash: hex::encode(prev),
                    hash: hex::encode(hash),
                    event: a.event,
                });
            }
            prev = hash;
            if let Some(r) = a.reply {
                r.send(Ok(a.seq));
            }
        }
        if self.head.seq - self.last_cp_seq >= self.cfg.checkpoint_every.max(1) {
            if let Err(e) = self.checkpoint() {
                tracing::error!("audit log: checkpoint failed: {e}");
            }
        }
    }

    /// Write the batch atomically; fsync it when any caller in it asked for durability.
    fn write(&mut self, appends: &[AppendReq]) -> Result<Vec<[u8; 32]>, AuditError> {
        let time_ns = record::now_ns().max(self.head.time_ns);
        let mut batch = sled::Batch::default();
        let mut head = self.head;
        let mut durable = false;
        let mut hashes = Vec::with_capacity(appends.len());
        // One index entry per (index, value) per batch, not one per record: each sled
        // insert costs a node copy, and this cuts four inserts per record to about one.
        let mut postings: HashMap<(IndexKind, &str), Vec<u64>> = HashMap::new();
        for a in appends {
            if a.seq != head.seq + 1 {
                return Err(AuditError::Corrupt {
                    seq: a.seq,
                    what: format!("out of order append (head is {})", head.seq),
                });
            }
            let hash = layout::record_hash(a.seq, time_ns, &head.hash, &a.json);
            let stored = StoredRecord {
                seq: a.seq,
                time_ns,
                prev: head.hash,
                hash,
                event: &a.json,
            };
            batch.insert(&layout::record_key(a.seq)[..], stored.encode());
            for (kind, value) in index_values(&a.event) {
                postings.entry((kind, value)).or_default().push(a.seq);
            }
            durable |= a.reply.is_some();
            hashes.push(hash);
            head = Head {
                seq: a.seq,
                hash,
                time_ns,
            };
        }
        for ((kind, value), seqs) in &postings {
            for chunk in seqs.chunks(layout::POSTING_MAX) {
                batch.insert(
                    layout::index_key(*kind, value, chunk[0]),
                    layout::encode_posting(chunk),
                );
            }
        }
        self.db.apply_batch(batch)?;
        self.head = head;
        *lock(&self.shared.head) = head;
        if self.unsealed_since.is_none() {
            self.unsealed_since = Some(Instant::now());
        }
        if durable {
            self.sync()?;
        } else if self.unflushed_since.is_none() {
            self.unflushed_since = Some(Instant::now());
        }
        Ok(hashes)
    }

    /// Sign the current head (unless it is already signed), store it, fsync, and copy
    /// it to the external checkpoint file.
    fn checkpoint(&mut self) -> Result<Checkpoint, AuditError> {
        if let Some(msg) = self.failed() {
            return Err(AuditError::Failed(msg));
        }
        if self.head.seq == self.last_cp_seq {
            if let Some(cp) = lock(&self.shared.last_checkpoint).clone() {
                self.unsealed_since = None;
                return Ok(cp);
            }
        }
        let cp = write_checkpoint(&self.db, &self.key, self.head)?;
        if let Err(e) = self.sync() {
            self.fail(&e);
            return Err(e);
        }
        self.last_cp_seq = cp.seq;
        self.unsealed_since = None;
        *lock(&self.shared.last_checkpoint) = Some(cp.clone());
        if let Some(path) = &self.cfg.checkpoint_file {
            checkpoint::append_to_file(path, &cp)?;
        }
        Ok(cp)
    }

    /// Final checkpoint and fsync (shutdown, or every handle dropped).
    fn finish(&mut self) -> Result<(), AuditError> {
        if let Some(msg) = self.failed() {
            return Err(AuditError::Failed(msg));
        }
        self.checkpoint().map(|_| ())
    }
}

/// Store a signed checkpoint of `head` (not yet fsynced).
pub(crate) fn write_checkpoint(
    db: &sled::Db,
    key: &SigningKey,
    head: Head,
) -> Result<Checkpoint, AuditError> {
    let time_ns = record::now_ns().max(head.time_ns);
    let cp = Checkpoint::sign(key, head.seq, &head.hash, time_ns);
    db.insert(layout::checkpoint_key(head.seq), serde_json::to_vec(&cp)?)?;
    Ok(cp)
}

/// The secondary index entries of an event.
pub(crate) fn index_values(ev: &Event) -> impl Iterator<Item = (IndexKind, &str)> {
    let user = ev
        .actor
        .as_ref()
        .map(|a| a.name.as_str())
        .or_else(|| ev.action.as_ref().map(|a| a.user.name.as_str()));
    let target = ev
        .target
        .as_deref()
        .or_else(|| ev.action.as_ref().map(|a| a.target.name.as_str()));
    let verdict = ev.verdict.as_ref().map(|v| v.decision.as_str());
    [
        (IndexKind::User, user),
        (IndexKind::Target, target),
        (IndexKind::Verdict, verdict),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.filter(|s| !s.is_empty()).map(|s| (k, s)))
}
