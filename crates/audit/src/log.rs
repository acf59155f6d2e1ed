//! [`AuditLog`]: the cheap, cloneable handle every component appends through.
//!
//! Sequence numbers are assigned here, under one short lock, in the same order the
//! requests enter the writer's channel, so a *queued* append can return its sequence at
//! once. This module must never hand out a sequence number for a request that did not
//! reach the writer, and never let an append through after the writer failed.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use ed25519_dalek::VerifyingKey;
use tokio::sync::{broadcast, oneshot, OwnedSemaphorePermit, Semaphore};

use crate::apply::Applier;
use crate::checkpoint::{self, Checkpoint};
use crate::config::AuditConfig;
use crate::durable::SyncThread;
use crate::error::AuditError;
use crate::event::Event;
use crate::flusher::Flusher;
use crate::inbox::Inbox;
use crate::journal::{self, Journal};
use crate::layout;
use crate::progress::Progress;
use crate::query::{self, Page, Query};
use crate::record::Record;
use crate::records;
use crate::redact::redact;
use crate::store::{self, Syncer};
use crate::verify::{self, VerifyReport};
use crate::writer::{
    self, lock, AppendReq, Head, InboxGuard, IndexValues, Reply, Req, Shared, Writer,
};

/// Most appends waiting for the writer at once; callers beyond it wait for a slot.
const MAX_PENDING: usize = 65_536;
/// Capacity of the live feed; slow subscribers see `Lagged` rather than slowing appends.
const FEED_CAPACITY: usize = 4096;

/// How an append must be on disk before it returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Returns after the batch holding the record was written to the journal and
    /// `fdatasync`ed (sled follows in the background; the journal is replayed at open):
    /// survives a process kill and a power cut. Use it before forwarding anything that
    /// changes data, and for every deny / hold.
    Durable,
    /// Returns at once with the record's sequence number; the record is written within
    /// `queued_window` (default 50 ms). A crash inside that window loses it.
    Queued,
}

/// What [`AuditLog::try_append_queued`] did.
#[derive(Debug)]
pub enum TryAppend {
    /// Submitted (its sequence number), or refused by the log (fail closed).
    Done(Result<u64, AuditError>),
    /// The log is at its in-flight limit: await [`AuditLog::append`] with this event.
    Full(Box<Event>),
}

/// An event made ready for the writer by [`AuditLog::prepare`].
struct Prepared {
    json: Vec<u8>,
    index: IndexValues,
    event: Option<Event>,
}

/// A handle on one audit log. Clones share the store and the single writer thread.
///
/// The backend is an enum so that another store (a database shared by several
/// replicas) is one more variant behind the same handle, not a rewrite of its callers.
#[derive(Clone)]
pub struct AuditLog {
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    /// The embedded store: a write-ahead journal and a sled database in one folder.
    Embedded(Arc<Inner>),
}

struct Submit {
    next_seq: u64,
    /// The writer's inbox; `None` once the log is shut down.
    tx: Option<Arc<Inbox>>,
}

struct Inner {
    submit: Mutex<Submit>,
    permits: Arc<Semaphore>,
    shared: Arc<Shared>,
    /// How far sled has caught up with the journal (reads wait for it).
    progress: Arc<Progress>,
    db: sled::Db,
    feed: broadcast::Sender<Arc<Record>>,
    cfg: AuditConfig,
    public: VerifyingKey,
    writer: Mutex<Option<JoinHandle<()>>>,
    shutdown_result: Mutex<Option<Result<(), String>>>,
}

impl AuditLog {
    fn inner(&self) -> &Arc<Inner> {
        match &self.backend {
            Backend::Embedded(inner) => inner,
        }
    }

    /// Open (or create) the store, load (or create) the signing key, check the tail of
    /// the chain, and start the writer thread. Refuses a store whose tail does not check.
    pub fn open(cfg: AuditConfig) -> Result<AuditLog, AuditError> {
        let db = store::open_db(&cfg.path, cfg.cache_bytes)?;
        let replayed = journal::replay(&db, &cfg.path, recover_head(&db)?)?;
        if let Some(path) = &cfg.checkpoint_file {
            checkpoint::repair_torn_tail(path)?;
        }
        let key = checkpoint::load_or_create_key(&cfg.signing_key)?;
        let public = key.verifying_key();
        match db.get(layout::META_PUBKEY)? {
            None => {
                db.insert(layout::META_PUBKEY, public.as_bytes().as_slice())?;
            }
            Some(k) if k.as_ref() == public.as_bytes() => {}
            Some(k) => {
                return Err(AuditError::Key {
                    path: cfg.signing_key.clone(),
                    what: format!(
                        "the store's checkpoints are signed by {}, not by this key",
                        hex::encode(k)
                    ),
                })
            }
        }
        db.insert(
            layout::META_CHECKPOINT_EVERY,
            cfg.checkpoint_every.to_be_bytes().as_slice(),
        )?;
        let head = recover_head(&db)?;
        let last_cp = last_checkpoint(&db)?;
        let mut syncer = Syncer::new(&cfg.path, cfg.fsync)?;
        let last_cp = match last_cp {
            Some(cp) => {
                check_checkpoint_against_store(&db, &cp, head.seq)?;
                // A process killed between storing the genesis checkpoint and copying
                // it out leaves no external file; finish that copy now. (A file that
                // exists is never rewritten here: it is the truncation witness.)
                if let Some(path) = &cfg.checkpoint_file {
                    if cp.seq == 0 && !path.exists() {
                        checkpoint::append_to_file(path, &cp)?;
                    }
                }
                cp
            }
            None if head.seq == 0 => {
                let cp = writer::write_checkpoint(&db, &key, head)?;
                syncer.sync(&db)?;
                if let Some(path) = &cfg.checkpoint_file {
                    checkpoint::append_to_file(path, &cp)?;
                }
                cp
            }
            None => {
                return Err(AuditError::Corrupt {
                    seq: head.seq,
                    what: "the store holds records but no signed checkpoint; \
                           run `warden audit verify`"
                        .into(),
                })
            }
        };
        syncer.sync(&db)?;
        let journal = Journal::open(&cfg.path, cfg.fsync, replayed.last_gen)?;

        let shared = Arc::new(Shared {
            head: Mutex::new(head),
            failed: Mutex::new(None),
            last_checkpoint: Mutex::new(Some(last_cp.clone())),
        });
        let tx = Arc::new(Inbox::default());
        let (feed, _) = broadcast::channel(FEED_CAPACITY);
        let syncer = Arc::new(Mutex::new(syncer));
        let sync = {
            let files = journal.files();
            move || files.sync()
        };
        let sync_thread =
            SyncThread::start(sync, shared.clone()).map_err(|e| AuditError::io(&cfg.path, e))?;
        let progress = Arc::new(Progress::default());
        let applier = Applier::start(db.clone(), progress.clone(), shared.clone())
            .map_err(|e| AuditError::io(&cfg.path, e))?;
        let flush = {
            let (db, syncer) = (db.clone(), syncer.clone());
            move || lock(&syncer).sync(&db)
        };
        let light = {
            let db = db.clone();
            move || db.flush().map(|_| ()).map_err(AuditError::from)
        };
        let flusher = Flusher::start(flush, light, progress.clone(), shared.clone())
            .map_err(|e| AuditError::io(&cfg.path, e))?;
        let w = Writer {
            db: db.clone(),
            syncer,
            sync_thread,
            journal,
            applier,
            progress: progress.clone(),
            flusher,
            op: 0,
            inbox: InboxGuard(tx.clone()),
            shared: shared.clone(),
            feed: feed.clone(),
            key,
            cfg: cfg.clone(),
            head,
            last_cp_seq: last_cp.seq,
            unflushed_since: None,
            unsealed_since: (head.seq > last_cp.seq).then(std::time::Instant::now),
        };
        let handle = std::thread::Builder::new()
            .name("audit-writer".into())
            .spawn(move || w.run())
            .map_err(|e| AuditError::io(&cfg.path, e))?;
        Ok(AuditLog {
            backend: Backend::Embedded(Arc::new(Inner {
                submit: Mutex::new(Submit {
                    next_seq: head.seq + 1,
                    tx: Some(tx),
                }),
                permits: Arc::new(Semaphore::new(MAX_PENDING)),
                shared,
                progress,
                db,
                feed,
                cfg,
                public,
                writer: Mutex::new(Some(handle)),
                shutdown_result: Mutex::new(None),
            })),
        })
    }

    /// Append one event (redacted first). See [`Durability`] for when it returns.
    /// On `Err` the caller must fail closed: the action must not proceed.
    pub async fn append(&self, ev: Event, d: Durability) -> Result<u64, AuditError> {
        let permit = self
            .inner()
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| AuditError::Closed)?;
        let prepared = self.prepare(ev)?;
        match d {
            Durability::Queued => self.submit(prepared, permit, None),
            Durability::Durable => {
                let (tx, rx) = oneshot::channel();
                self.submit(prepared, permit, Some(Reply::Async(tx)))?;
                rx.await.map_err(|_| AuditError::Closed)?
            }
        }
    }

    /// A [`Durability::Queued`] append that never waits, for callers that must not
    /// yield (a relay finishing a statement's record between two messages): when the
    /// log has room it submits at once and returns the append's result; when as many
    /// appends as the log admits are already in flight, the event is handed back
    /// ([`TryAppend::Full`]) and the caller awaits [`AuditLog::append`] with it.
    pub fn try_append_queued(&self, ev: Event) -> TryAppend {
        let Ok(permit) = self.inner().permits.clone().try_acquire_owned() else {
            return TryAppend::Full(Box::new(ev));
        };
        TryAppend::Done(
            self.prepare(ev)
                .and_then(|prepared| self.submit(prepared, permit, None)),
        )
    }

    /// `Ok` while appends can be accepted: no write or sync has failed and the writer is
    /// running. For callers that decide now and append later (the record of a read-only
    /// action written with its outcome): on `Err` they must fail closed as for a failed
    /// append.
    pub fn check_writable(&self) -> Result<(), AuditError> {
        let s = lock(&self.inner().submit);
        if let Some(msg) = lock(&self.inner().shared.failed).clone() {
            return Err(AuditError::Failed(msg));
        }
        s.tx.as_ref().map(|_| ()).ok_or(AuditError::Closed)
    }

    /// [`AuditLog::append`] for threads outside an async runtime (blocks the thread;
    /// never call it from async code).
    pub fn append_blocking(&self, ev: Event, d: Durability) -> Result<u64, AuditError> {
        let permit = futures::executor::block_on(self.inner().permits.clone().acquire_owned())
            .map_err(|_| AuditError::Closed)?;
        let prepared = self.prepare(ev)?;
        match d {
            Durability::Queued => self.submit(prepared, permit, None),
            Durability::Durable => {
                let (tx, rx) = mpsc::sync_channel(1);
                self.submit(prepared, permit, Some(Reply::Blocking(tx)))?;
                rx.recv().map_err(|_| AuditError::Closed)?
            }
        }
    }

    /// Everything the writer needs, computed on the caller's thread: the redacted
    /// event's canonical JSON and index values, and the event itself only while the
    /// live feed has subscribers (otherwise it is dropped here, not on the writer).
    fn prepare(&self, mut ev: Event) -> Result<Prepared, AuditError> {
        redact(&mut ev);
        let json = layout::canonical_json(&ev)?;
        let index = IndexValues::of(&ev);
        let event = (self.inner().feed.receiver_count() > 0).then_some(ev);
        Ok(Prepared { json, index, event })
    }

    fn submit(
        &self,
        Prepared { json, index, event }: Prepared,
        permit: OwnedSemaphorePermit,
        reply: Option<Reply<u64>>,
    ) -> Result<u64, AuditError> {
        let mut s = lock(&self.inner().submit);
        if let Some(msg) = lock(&self.inner().shared.failed).clone() {
            return Err(AuditError::Failed(msg));
        }
        let seq = s.next_seq;
        let tx = s.tx.as_ref().ok_or(AuditError::Closed)?;
        tx.send(Req::Append(Box::new(AppendReq {
            seq,
            event,
            json,
            index,
            reply,
            _permit: permit,
        })))?;
        s.next_seq += 1;
        Ok(seq)
    }

    /// Records matching `q`, newest first (see [`Query`]).
    pub fn query(&self, q: &Query) -> Result<Page, AuditError> {
        query::run(self.caught_up(), q)
    }

    /// Every record matching `q` as JSON lines, oldest first (see [`crate::export`]).
    pub fn export(&self, q: &Query, out: &mut impl std::io::Write) -> Result<u64, AuditError> {
        crate::export::export(self.caught_up(), q, out)
    }

    /// Call `f` with every record whose time is in `[since, until)`, oldest first;
    /// how many there were. Their `prev_hash` and `hash` are left empty. Blocking: call it off the async runtime's workers.
    pub fn walk_window(
        &self,
        since: Option<time::OffsetDateTime>,
        until: Option<time::OffsetDateTime>,
        f: impl FnMut(&Record),
    ) -> Result<u64, AuditError> {
        crate::window::walk_window(self.caught_up(), since, until, f)
    }

    /// One record by sequence number.
    pub fn get(&self, seq: u64) -> Result<Option<Record>, AuditError> {
        records::with_record(self.caught_up(), seq, Record::from_stored)
    }

    /// Walk the whole chain and every stored checkpoint (plus the external checkpoint
    /// file, if configured), checking signatures against this log's key.
    pub fn verify(&self) -> VerifyReport {
        let file = self.inner().cfg.checkpoint_file.as_deref();
        // Wait for the applier once the checkpoints are read: one handed out by then
        // (and copied to the file) may seal records it has not written yet. (Stored
        // checkpoints need no wait: the applier writes them after their records.)
        verify::verify_db_settled(&self.inner().db, Some(&self.inner().public), file, || {
            self.caught_up();
        })
    }

    /// The store, once everything journaled so far (in particular every acknowledged
    /// record and every checkpoint handed out) has reached sled: the applier runs a
    /// moment behind the journal.
    pub(crate) fn caught_up(&self) -> &sled::Db {
        let written = self.inner().progress.written();
        self.inner().progress.wait_op(written);
        &self.inner().db
    }

    /// Sequence number and hex hash of the last written record (0 and 64 zeros when
    /// the log is empty).
    pub fn head(&self) -> (u64, String) {
        let h = *lock(&self.inner().shared.head);
        (h.seq, hex::encode(h.hash))
    }

    /// A live feed of records as they are written (after redaction): every record whose
    /// `append` started after this call. Shared (`Arc`): each subscriber gets the same
    /// record, and each of the feed's slots is a pointer, not a record (4,096 inline
    /// records were 5 MiB of every gateway's idle memory).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Record>> {
        self.inner().feed.subscribe()
    }

    /// Sign and store a checkpoint of the current head now (blocks for an fsync).
    pub fn checkpoint_now(&self) -> Result<Checkpoint, AuditError> {
        let (tx, rx) = mpsc::sync_channel(1);
        {
            let s = lock(&self.inner().submit);
            let sender = s.tx.as_ref().ok_or(AuditError::Closed)?;
            sender.send(Req::Checkpoint(Reply::Blocking(tx)))?;
        }
        rx.recv().map_err(|_| AuditError::Closed)?
    }

    /// The latest signed checkpoint.
    pub fn last_checkpoint(&self) -> Option<Checkpoint> {
        lock(&self.inner().shared.last_checkpoint).clone()
    }

    /// Write everything queued, sign a final checkpoint, fsync, and stop the writer.
    /// Idempotent: later calls return the first call's result. Appends after it fail
    /// with [`AuditError::Closed`]. Blocks the calling thread.
    pub fn shutdown(&self) -> Result<(), AuditError> {
        self.inner().shutdown()
    }

    /// The configuration this log was opened with.
    pub fn config(&self) -> &AuditConfig {
        &self.inner().cfg
    }
}

impl Inner {
    fn shutdown(&self) -> Result<(), AuditError> {
        let mut done = lock(&self.shutdown_result);
        if let Some(r) = done.as_ref() {
            return r.clone().map_err(AuditError::Failed);
        }
        let tx = lock(&self.submit).tx.take();
        let result = match tx {
            Some(tx) => {
                let (rtx, rrx) = mpsc::sync_channel(1);
                match tx.send(Req::Shutdown(Reply::Blocking(rtx))) {
                    Ok(()) => rrx.recv().unwrap_or(Err(AuditError::Closed)),
                    Err(_) => Err(AuditError::Closed),
                }
            }
            None => Ok(()),
        };
        if let Some(h) = lock(&self.writer).take() {
            let _ = h.join();
        }
        *done = Some(result.as_ref().map(|_| ()).map_err(|e| e.to_string()));
        result
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            tracing::error!("audit log: shutdown on drop failed: {e}");
        }
    }
}

/// The last record of the store, checked: its hash must recompute.
pub(crate) fn recover_head(db: &sled::Db) -> Result<Head, AuditError> {
    let last = records::last_seq(db)?;
    if last == 0 {
        return Ok(Head {
            seq: 0,
            hash: layout::GENESIS,
            time_ns: i64::MIN,
        });
    }
    let head = records::with_record(db, last, |s| {
        Ok(
            (s.seq == last && s.computed_hash() == s.hash).then_some(Head {
                seq: s.seq,
                hash: s.hash,
                time_ns: s.time_ns,
            }),
        )
    })?;
    head.flatten().ok_or_else(|| AuditError::Corrupt {
        seq: last,
        what: "the last record does not check; run `warden audit verify`".into(),
    })
}

pub(crate) fn last_checkpoint(db: &sled::Db) -> Result<Option<Checkpoint>, AuditError> {
    let last = db
        .range(layout::checkpoint_key(0)..=layout::checkpoint_key(u64::MAX))
        .next_back()
        .transpose()?;
    let Some((k, v)) = last else {
        return Ok(None);
    };
    let seq = layout::key_seq(&k).unwrap_or(0);
    serde_json::from_slice(&v)
        .map(Some)
        .map_err(|e| AuditError::Corrupt {
            seq,
            what: format!("checkpoint is not valid JSON: {e}"),
        })
}

/// The latest checkpoint must seal a record the store still has, with the same hash.
fn check_checkpoint_against_store(
    db: &sled::Db,
    cp: &Checkpoint,
    head_seq: u64,
) -> Result<(), AuditError> {
    let bad = |what: String| AuditError::Corrupt { seq: cp.seq, what };
    if cp.seq > head_seq {
        return Err(bad(format!(
            "the latest checkpoint seals sequence {} but the store ends at {head_seq} \
             (truncated); run `warden audit verify`",
            cp.seq
        )));
    }
    let hash = match cp.seq {
        0 => layout::GENESIS,
        s => records::with_record(db, s, |r| Ok(r.hash))?
            .ok_or_else(|| bad("the record sealed by the latest checkpoint is missing".into()))?,
    };
    if cp.head_bytes() != Some(hash) {
        return Err(bad(
            "the latest checkpoint does not match the chain; run `warden audit verify`".into(),
        ));
    }
    Ok(())
}
