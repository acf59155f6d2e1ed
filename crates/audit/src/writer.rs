//! The single writer: assigns times and hashes, group-commits appends, signs checkpoints.
//!
//! Runs on its own OS thread (so it works with or without a tokio runtime). Requests
//! arrive in sequence order through the inbox (inbox.rs, which wakes the writer only
//! when it must look now); every request found waiting is chained,
//! hashed, packed into chunks (layout.rs) and written as one journal frame (journal.rs),
//! then handed to the applier (apply.rs), which writes it to sled as one atomic batch.
//! The batch's *durable* callers go to the sync thread (durable.rs), which answers them
//! once an `fdatasync` of the journal covers the batch; meanwhile the writer goes on
//! with the next batch. sled is made durable in the background (flusher.rs).
//! After the first failed write or sync the writer answers every later request with an
//! error: it must never leave a gap in the chain or acknowledge a record that is not
//! durable.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use ed25519_dalek::SigningKey;
use tokio::sync::{broadcast, oneshot, OwnedSemaphorePermit};

use crate::apply::{Applier, Op};
use crate::checkpoint::{self, Checkpoint};
use crate::config::AuditConfig;
use crate::durable::SyncThread;
use crate::error::AuditError;
use crate::event::Event;
use crate::flusher::Flusher;
use crate::inbox::{Inbox, GATHER};
use crate::journal::{self, Journal};
use crate::layout::{self, IndexKind, StoredRecord};
use crate::progress::Progress;
use crate::record::{self, Record};
use crate::store::Syncer;

/// Most requests written in one batch.
const MAX_BATCH: usize = 8192;
/// After a batch smaller than this, the writer lets queued appends gather for
/// [`GATHER`] before it looks again (see `inbox.rs`): callers then rarely have to wake
/// it (a futex wake and a context switch per append were a large part of the cost), and
/// batches grow, which sled's per-batch costs reward. Requests someone waits for end the
/// gathering at once. Batches at least this large mean a backlog: no gathering.
const LINGER_BELOW: usize = 1024;

/// Where an answer goes: an awaiting task or a blocked thread.
pub(crate) enum Reply<T> {
    Async(oneshot::Sender<Result<T, AuditError>>),
    Blocking(std::sync::mpsc::SyncSender<Result<T, AuditError>>),
}

impl<T> Reply<T> {
    pub(crate) fn send(self, r: Result<T, AuditError>) {
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

/// One append, prepared (redacted, encoded, index values taken) by the caller.
pub(crate) struct AppendReq {
    pub seq: u64,
    /// The event itself, only while someone subscribes to the live feed.
    pub event: Option<Event>,
    pub json: Vec<u8>,
    pub index: IndexValues,
    pub reply: Option<Reply<u64>>,
    pub _permit: OwnedSemaphorePermit,
}

/// The secondary index values of one event, in one allocation.
pub(crate) struct IndexValues {
    text: String,
    parts: [(IndexKind, usize, usize); 3],
    len: usize,
}

impl Default for IndexValues {
    fn default() -> Self {
        IndexValues {
            text: String::new(),
            parts: [(IndexKind::User, 0, 0); 3],
            len: 0,
        }
    }
}

impl IndexValues {
    pub(crate) fn of(ev: &Event) -> IndexValues {
        let mut v = IndexValues::default();
        for (kind, value) in index_values(ev) {
            let start = v.text.len();
            v.text.push_str(value);
            v.parts[v.len] = (kind, start, v.text.len());
            v.len += 1;
        }
        v
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (IndexKind, &str)> {
        self.parts[..self.len]
            .iter()
            .map(|&(k, a, b)| (k, self.text.get(a..b).unwrap_or_default()))
    }
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

impl Shared {
    /// Record the first failure (later ones are logged only); returns the message that
    /// every later request will get.
    pub(crate) fn fail(&self, e: &AuditError) -> String {
        let mut f = lock(&self.failed);
        if f.is_none() {
            tracing::error!("audit log: write failed, refusing further appends: {e}");
            *f = Some(e.to_string());
        }
        f.clone().unwrap_or_default()
    }
}

#[cfg(test)]
impl Shared {
    /// An empty chain, nothing failed: for the threads' unit tests.
    pub(crate) fn empty() -> Shared {
        Shared {
            head: Mutex::new(Head {
                seq: 0,
                hash: [0; 32],
                time_ns: 0,
            }),
            failed: Mutex::new(None),
            last_checkpoint: Mutex::new(None),
        }
    }
}

/// The writer's end of the inbox: closes it when the writer stops, however it stops,
/// so that later appends fail instead of waiting for a writer that is gone.
pub(crate) struct InboxGuard(pub Arc<Inbox>);

impl std::ops::Deref for InboxGuard {
    type Target = Inbox;
    fn deref(&self) -> &Inbox {
        &self.0
    }
}

impl Drop for InboxGuard {
    fn drop(&mut self) {
        self.0.close();
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks cannot leave the data half-updated
    // (each is a single assignment), so poisoning is safe to ignore.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

pub(crate) struct Writer {
    pub db: sled::Db,
    pub syncer: Arc<Mutex<Syncer>>,
    pub sync_thread: SyncThread,
    pub journal: Journal,
    pub applier: Applier,
    pub progress: Arc<Progress>,
    pub flusher: Flusher,
    /// The number of the last op handed to the applier.
    pub op: u64,
    pub inbox: InboxGuard,
    pub shared: Arc<Shared>,
    pub feed: broadcast::Sender<Arc<Record>>,
    pub key: SigningKey,
    pub cfg: AuditConfig,
    pub head: Head,
    pub last_cp_seq: u64,
    /// When the oldest record not yet handed to a sync was written.
    pub unflushed_since: Option<Instant>,
    /// When the oldest record not yet covered by a checkpoint was written.
    pub unsealed_since: Option<Instant>,
}

impl Writer {
    pub fn run(mut self) {
        let mut gather_until = None;
        loop {
            let batch = self
                .inbox
                .next_batch(gather_until, self.next_deadline(), MAX_BATCH);
            gather_until = None;
            if !batch.is_empty() {
                let small = batch.len() < LINGER_BELOW;
                if self.handle(batch) {
                    return;
                }
                if small {
                    gather_until = Some(Instant::now() + GATHER);
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
            self.sync_thread.submit(Vec::new());
            self.unflushed_since = None;
        }
    }

    fn failed(&self) -> Option<String> {
        lock(&self.shared.failed).clone()
    }

    fn fail(&self, e: &AuditError) {
        self.shared.fail(e);
    }

    /// Journal `payload` as the next op, then hand the op it makes to the applier.
    fn journal_and_apply(
        &mut self,
        kind: u8,
        payload: Vec<u8>,
        op: impl FnOnce(Vec<u8>) -> Op,
    ) -> Result<(), AuditError> {
        let n = self.op + 1;
        let (syncer, db) = (&self.syncer, &self.db);
        self.journal
            .write(kind, &payload, n, &self.progress, || lock(syncer).sync(db))?;
        self.applier.send(n, op(payload))?;
        self.progress.set_written(n);
        self.op = n;
        Ok(())
    }

    fn commit(&mut self, mut appends: Vec<AppendReq>) {
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
        let hashes = match self.write(&mut appends) {
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
        let time = record::time_from_ns(self.head.time_ns);
        let mut waiters = Vec::new();
        for (a, hash) in appends.into_iter().zip(hashes) {
            if let Some(event) = a.event {
                let _ = self.feed.send(Arc::new(Record {
                    seq: a.seq,
                    time,
                    prev_hash: hex::encode(prev),
                    hash: hex::encode(hash),
                    event,
                }));
            }
            prev = hash;
            if let Some(r) = a.reply {
                waiters.push((a.seq, r));
            }
        }
        if waiters.is_empty() {
            if self.unflushed_since.is_none() {
                self.unflushed_since = Some(Instant::now());
            }
        } else {
            self.sync_thread.submit(waiters);
            self.unflushed_since = None;
        }
        if self.head.seq - self.last_cp_seq >= self.cfg.checkpoint_every.max(1) {
            if let Err(e) = self.checkpoint() {
                tracing::error!("audit log: checkpoint failed: {e}");
            }
        }
    }

    /// Chain, hash and journal the batch (records packed into chunks), and hand it to
    /// the applier, which writes it to sled atomically. Takes the index values out of
    /// `appends`.
    fn write(&mut self, appends: &mut [AppendReq]) -> Result<Vec<[u8; 32]>, AuditError> {
        let time_ns = record::now_ns().max(self.head.time_ns);
        let mut head = self.head;
        let mut hashes = Vec::with_capacity(appends.len());
        let mut stored = Vec::with_capacity(appends.len());
        for a in appends.iter() {
            if a.seq != head.seq + 1 {
                return Err(AuditError::Corrupt {
                    seq: a.seq,
                    what: format!("out of order append (head is {})", head.seq),
                });
            }
            let hash = layout::record_hash(a.seq, time_ns, &head.hash, &a.json);
            stored.push(StoredRecord {
                seq: a.seq,
                time_ns,
                prev: head.hash,
                hash,
                event: &a.json,
            });
            hashes.push(hash);
            head = Head {
                seq: a.seq,
                hash,
                time_ns,
            };
        }
        let (payload, chunks) = journal::records_payload(&stored);
        drop(stored);
        let index = appends
            .iter_mut()
            .map(|a| (a.seq, std::mem::take(&mut a.index)))
            .collect();
        self.journal_and_apply(journal::KIND_RECORDS, payload, |payload| Op::Records {
            payload,
            chunks,
            index,
        })?;
        self.head = head;
        *lock(&self.shared.head) = head;
        if self.unsealed_since.is_none() {
            self.unsealed_since = Some(Instant::now());
        }
        Ok(hashes)
    }

    /// Sign the current head (unless it is already signed), journal and store it, sync
    /// the journal, and copy it to the external checkpoint file.
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
        let stored = (|| {
            let cp = sign_checkpoint(&self.key, self.head);
            let json = serde_json::to_vec(&cp)?;
            let seq = cp.seq;
            self.journal_and_apply(journal::KIND_CHECKPOINT, json, |json| Op::Checkpoint {
                seq,
                json,
            })?;
            self.journal.sync()?;
            self.unflushed_since = None;
            Ok(cp)
        })();
        let cp = match stored {
            Ok(cp) => cp,
            Err(e) => {
                self.fail(&e);
                return Err(e);
            }
        };
        self.last_cp_seq = cp.seq;
        self.unsealed_since = None;
        *lock(&self.shared.last_checkpoint) = Some(cp.clone());
        if let Some(path) = &self.cfg.checkpoint_file {
            checkpoint::append_to_file(path, &cp)?;
        }
        Ok(cp)
    }

    /// Final checkpoint and fsync (shutdown, or every handle dropped); every durable
    /// caller is answered before it returns. Then everything is applied to sled, sled is
    /// flushed and fsynced and the journal retired, so a cleanly closed store stands on
    /// its own.
    fn finish(&mut self) -> Result<(), AuditError> {
        self.sync_thread.stop();
        let last = self.checkpoint();
        self.applier.stop();
        self.flusher.stop();
        if let Some(msg) = self.failed() {
            return Err(AuditError::Failed(msg));
        }
        last?;
        lock(&self.syncer).sync(&self.db)?;
        self.journal.retire()
    }
}

/// A signed checkpoint of `head`, timed now.
fn sign_checkpoint(key: &SigningKey, head: Head) -> Checkpoint {
    let time_ns = record::now_ns().max(head.time_ns);
    Checkpoint::sign(key, head.seq, &head.hash, time_ns)
}

/// Store a signed checkpoint of `head` (not yet fsynced; used at creation, before the
/// journal exists).
pub(crate) fn write_checkpoint(
    db: &sled::Db,
    key: &SigningKey,
    head: Head,
) -> Result<Checkpoint, AuditError> {
    let cp = sign_checkpoint(key, head);
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
