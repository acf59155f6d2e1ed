//! The write-ahead journal: what makes a durable append cost one disk round trip.
//!
//! Each group-commit batch is written to a journal file (one `pwrite`) before sled's
//! `apply_batch`, and a durable caller is answered after an `fdatasync` of the journal.
//! The journal files are pre-allocated and overwritten in place, so that `fdatasync`
//! writes the batch's pages and nothing else (no size change, no extent conversion):
//! one disk round trip, where sled's own flush takes two (its `sync_file_range` write
//! back, then our `fdatasync`). sled itself is flushed and fsynced in the background
//! ([`crate::flusher`]); at open, frames holding records the store lacks (a process kill
//! or power cut after the journal sync but before sled's) are replayed into it.
//!
//! Two files, `journal.0` and `journal.1`, in the store directory: the writer fills one
//! and then switches to the other, overwriting it from the start, once a background sled
//! flush has covered everything written to it. A frame:
//!
//! ```text
//! magic "WJF1" | gen u64 BE | kind u8 | len u32 BE | payload (len) | crc32 u32 BE
//! ```
//!
//! `gen` grows by one at every switch (and starts above the time in ns at open), so the
//! frames of a file are the longest prefix of valid frames sharing its first frame's
//! `gen`; what follows (a torn write, the previous round's frames) is ignored. The CRC
//! is CRC-32 (IEEE) of everything from the magic to the end of the payload. `kind` 1 is
//! a batch of records (payload: chunk values in their stored form, compressed or not —
//! [`records_payload`] — each preceded by its length, u32 BE), `kind` 2 a signed
//! checkpoint (its JSON).
//!
//! The journal is a recovery aid, never evidence: replay only adds records that
//! continue the store's chain (place, previous hash and recomputed hash all check) and
//! checkpoints of records the store holds. This module must never acknowledge a record
//! whose frame an `fdatasync` has not covered, and never let replay change or remove a
//! record the store already holds.

use std::borrow::Cow;
use std::fs::{File, OpenOptions};
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::apply::{self, Op};
use crate::checkpoint::Checkpoint;
use crate::error::AuditError;
use crate::event::Event;
use crate::layout::{self, StoredRecord};
use crate::progress::Progress;
use crate::records;
use crate::writer::{lock, Head, IndexValues};

const MAGIC: &[u8; 4] = b"WJF1";
const FRAME_HEADER: usize = 4 + 8 + 1 + 4;
const FRAME_TRAILER: usize = 4;
/// Every frame starts on a page boundary: the writer then never writes into a page that
/// a running `fdatasync` is writing back (the kernel would make it wait for that I/O).
const ALIGN: usize = 4096;

fn aligned(at: usize) -> usize {
    at.div_ceil(ALIGN) * ALIGN
}
/// Frame kinds.
pub(crate) const KIND_RECORDS: u8 = 1;
pub(crate) const KIND_CHECKPOINT: u8 = 2;
/// Size each journal file is pre-allocated to; the writer switches files when the next
/// frame would not fit (a larger frame gets a fresh file of its own and grows it).
pub(crate) const FILE_BYTES: u64 = 8 * 1024 * 1024;

fn file_path(dir: &Path, i: usize) -> PathBuf {
    dir.join(format!("journal.{i}"))
}

/// Encode one frame.
pub(crate) fn frame(gen: u64, kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(FRAME_HEADER + payload.len() + FRAME_TRAILER);
    f.extend_from_slice(MAGIC);
    f.extend_from_slice(&gen.to_be_bytes());
    f.push(kind);
    f.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    f.extend_from_slice(payload);
    let crc = crc32fast::hash(&f);
    f.extend_from_slice(&crc.to_be_bytes());
    f
}

/// A batch's records as a [`KIND_RECORDS`] payload — chunk values in their stored form
/// (compressed where that is smaller: [`layout::pack_chunk`]), each preceded by its
/// length (u32 BE) — and where each chunk value sits in it, keyed by its first record's
/// sequence. A chunk closes once its records reach [`layout::CHUNK_TARGET_BYTES`].
pub(crate) fn records_payload(records: &[StoredRecord<'_>]) -> (Vec<u8>, Vec<(u64, Range<usize>)>) {
    let mut payload = Vec::new();
    let mut chunks = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (i, r) in records.iter().enumerate() {
        bytes += layout::HEADER_LEN + r.event.len();
        if bytes >= layout::CHUNK_TARGET_BYTES || i + 1 == records.len() {
            let chunk = &records[start..=i];
            let plain = layout::encode_chunk(chunk);
            let value = layout::pack_chunk(&plain);
            payload.extend_from_slice(&(value.len() as u32).to_be_bytes());
            let at = payload.len();
            payload.extend_from_slice(&value);
            chunks.push((chunk[0].seq, at..payload.len()));
            start = i + 1;
            bytes = 0;
        }
    }
    (payload, chunks)
}

/// The valid frames at the start of `bytes`: (gen, kind, payload).
pub(crate) fn frames(bytes: &[u8]) -> Vec<(u64, u8, &[u8])> {
    let mut out = Vec::new();
    let mut at = 0usize;
    let mut first_gen = None;
    while let Some(h) = bytes.get(at..at + FRAME_HEADER) {
        if &h[..4] != MAGIC {
            break;
        }
        let gen = u64::from_be_bytes(h[4..12].try_into().unwrap_or_default());
        let kind = h[12];
        let len = u32::from_be_bytes(h[13..17].try_into().unwrap_or_default()) as usize;
        let end = at + FRAME_HEADER + len;
        let Some(crc) = bytes.get(end..end + FRAME_TRAILER) else {
            break;
        };
        let crc = u32::from_be_bytes(crc.try_into().unwrap_or_default());
        if crc32fast::hash(&bytes[at..end]) != crc || *first_gen.get_or_insert(gen) != gen {
            break;
        }
        out.push((gen, kind, &bytes[at + FRAME_HEADER..end]));
        at = aligned(end + FRAME_TRAILER);
    }
    out
}

/// Journal files shared by the writer (writes) and the sync thread (fdatasync).
pub(crate) struct Files {
    files: [File; 2],
    /// Which files were written since their last `fdatasync` (bit i: file i). Taken and
    /// synced under the lock, so a sync that finds a bit clear knows that a completed
    /// sync covered the writes before it.
    dirty: Mutex<u8>,
    fsync: bool,
    dir: PathBuf,
}

impl Files {
    /// Make every frame written so far durable (no-op with `fsync = false`: a written
    /// frame is in the OS already, which survives a process kill).
    pub(crate) fn sync(&self) -> Result<(), AuditError> {
        let mut dirty = lock(&self.dirty);
        if !self.fsync {
            *dirty = 0;
            return Ok(());
        }
        for i in 0..2 {
            if *dirty & (1 << i) != 0 {
                self.files[i]
                    .sync_data()
                    .map_err(|e| AuditError::io(file_path(&self.dir, i), e))?;
                *dirty &= !(1 << i);
            }
        }
        Ok(())
    }

    fn write_at(&self, i: usize, bytes: &[u8], at: u64) -> Result<(), AuditError> {
        self.files[i]
            .write_all_at(bytes, at)
            .map_err(|e| AuditError::io(file_path(&self.dir, i), e))?;
        *lock(&self.dirty) |= 1 << i;
        Ok(())
    }
}

/// The writer's side of the journal.
pub(crate) struct Journal {
    files: Arc<Files>,
    cur: usize,
    pos: u64,
    gen: u64,
    /// The op of the last frame written to the current file.
    cur_last_op: u64,
    /// The other file may be overwritten once sled flushes have covered this op (the
    /// last one written to it).
    other_free_at: u64,
}

impl Journal {
    /// Open (creating and pre-allocating) the two journal files of the store at `dir`.
    /// Call after [`replay`] and a full sled sync: everything in them is then obsolete,
    /// and both are invalidated.
    pub(crate) fn open(dir: &Path, fsync: bool, last_gen: u64) -> Result<Journal, AuditError> {
        let mut files = Vec::with_capacity(2);
        let mut created = false;
        for i in 0..2 {
            let p = file_path(dir, i);
            let f = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&p)
                .map_err(|e| AuditError::io(&p, e))?;
            let len = f.metadata().map_err(|e| AuditError::io(&p, e))?.len();
            if len < FILE_BYTES {
                // Zeros, written and synced now, so that later syncs overwrite blocks
                // that already exist (fallocate would leave unwritten extents whose
                // conversion is a metadata change on every sync). Written a page at a
                // time: the page cache then holds single-page folios, and a frame
                // written while the previous one is being written back does not wait
                // for the lock of a large folio they share.
                let zeros = vec![0u8; ALIGN];
                let mut at = len;
                while at < FILE_BYTES {
                    let n = (FILE_BYTES - at).min(zeros.len() as u64) as usize;
                    f.write_all_at(&zeros[..n], at)
                        .map_err(|e| AuditError::io(&p, e))?;
                    at += n as u64;
                }
                f.sync_all().map_err(|e| AuditError::io(&p, e))?;
                created = true;
            }
            files.push(f);
        }
        if created {
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| AuditError::io(dir, e))?;
        }
        let [f0, f1]: [File; 2] = files.try_into().map_err(|_| AuditError::Closed)?;
        let gen = last_gen.max(crate::record::now_ns().max(0) as u64) + 1;
        let mut j = Journal {
            files: Arc::new(Files {
                files: [f0, f1],
                dirty: Mutex::new(0),
                fsync,
                dir: dir.to_path_buf(),
            }),
            cur: 0,
            pos: 0,
            gen,
            cur_last_op: 0,
            other_free_at: 0,
        };
        j.retire()?;
        Ok(j)
    }

    pub(crate) fn files(&self) -> Arc<Files> {
        self.files.clone()
    }

    /// Make every frame written so far durable ([`Files::sync`]).
    pub(crate) fn sync(&self) -> Result<(), AuditError> {
        self.files.sync()
    }

    /// Write frame `op` (before handing the op to the applier). At a switch to the
    /// other file while a background flush has not yet covered that file's ops (the
    /// flusher fell behind), waits for the applier and runs `flush_now` (a full sled
    /// flush + fsync) on this thread first.
    pub(crate) fn write(
        &mut self,
        kind: u8,
        payload: &[u8],
        op: u64,
        progress: &Progress,
        flush_now: impl FnOnce() -> Result<(), AuditError>,
    ) -> Result<(), AuditError> {
        let len = (FRAME_HEADER + payload.len() + FRAME_TRAILER) as u64;
        if self.pos > 0 && self.pos + len > FILE_BYTES {
            if progress.durable() < self.other_free_at {
                if !progress.wait_op(self.other_free_at) {
                    return Err(AuditError::Failed("audit sled applier stopped".into()));
                }
                let applied = progress.applied();
                flush_now()?;
                progress.covered(applied);
            }
            self.other_free_at = self.cur_last_op;
            self.cur = 1 - self.cur;
            self.pos = 0;
            self.gen += 1;
            progress.kick();
        }
        let f = frame(self.gen, kind, payload);
        self.files.write_at(self.cur, &f, self.pos)?;
        self.pos = aligned(self.pos as usize + f.len()) as u64;
        self.cur_last_op = op;
        Ok(())
    }

    /// After a full sled sync (open, clean shutdown): invalidate both files, so that
    /// nothing in them is replayed (and a store edited afterwards is judged on its own).
    pub(crate) fn retire(&mut self) -> Result<(), AuditError> {
        for i in 0..2 {
            self.files.write_at(i, &[0u8; 4], 0)?;
        }
        self.files.sync()?;
        self.pos = 0;
        self.cur = 0;
        Ok(())
    }
}

/// The whole file, unless it does not start with a frame (an invalidated journal: then
/// only its first bytes are read).
fn read_if_framed(p: &Path) -> std::io::Result<Option<Vec<u8>>> {
    let f = File::open(p)?;
    let mut magic = [0u8; 4];
    if f.read_exact_at(&mut magic, 0).is_err() || &magic != MAGIC {
        return Ok(None);
    }
    std::fs::read(p).map(Some)
}

/// What [`replay`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Replayed {
    pub records: u64,
    pub checkpoints: u64,
    /// The highest frame generation seen (the next journal starts above it).
    pub last_gen: u64,
}

/// The chunk values of a [`KIND_RECORDS`] payload in the form [`layout::decode_value`]
/// reads, up to the first one that is cut short or does not unpack; `false` when there
/// was such a one.
pub(crate) fn payload_chunks(payload: &[u8]) -> (Vec<Cow<'_, [u8]>>, bool) {
    let mut out = Vec::new();
    let mut at = 0usize;
    while let Some(len) = payload.get(at..at + 4) {
        let len = u32::from_be_bytes(len.try_into().unwrap_or_default()) as usize;
        let Some(chunk) = payload.get(at + 4..at + 4 + len) else {
            return (out, false);
        };
        at += 4 + len;
        match layout::unpack_value(0, chunk) {
            Ok(plain) => out.push(plain),
            Err(_) => return (out, false),
        }
    }
    (out, true)
}

/// Add to the store every journaled record that continues its chain after `head`, and
/// every journaled checkpoint of a record it then holds; the caller syncs sled and then
/// opens a fresh [`Journal`]. Missing journal files are not an error (a store written
/// before the journal, or one opened read-only).
pub(crate) fn replay(db: &sled::Db, dir: &Path, mut head: Head) -> Result<Replayed, AuditError> {
    let mut contents = Vec::new();
    for i in 0..2 {
        let p = file_path(dir, i);
        match read_if_framed(&p) {
            Ok(Some(b)) => contents.push(b),
            Ok(None) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(AuditError::io(&p, e)),
        }
    }
    let mut files: Vec<Vec<(u64, u8, &[u8])>> = contents.iter().map(|b| frames(b)).collect();
    files.retain(|f| !f.is_empty());
    files.sort_by_key(|f| f[0].0);
    let mut out = Replayed {
        last_gen: files.iter().flatten().map(|f| f.0).max().unwrap_or(0),
        ..Replayed::default()
    };
    let mut pending: Vec<StoredRecord<'_>> = Vec::new();
    let mut index = Vec::new();
    let mut checkpoints = Vec::new();
    let frames: Vec<&(u64, u8, &[u8])> = files.iter().flatten().collect();
    let unpacked: Vec<(Vec<Cow<'_, [u8]>>, bool)> = frames
        .iter()
        .map(|(_, kind, payload)| match *kind {
            KIND_RECORDS => payload_chunks(payload),
            _ => (Vec::new(), true),
        })
        .collect();
    'frames: for ((_, kind, payload), (chunks, whole)) in frames.into_iter().zip(&unpacked) {
        match *kind {
            KIND_RECORDS => {
                for chunk in chunks {
                    let Ok(records) = layout::decode_value(0, chunk) else {
                        break 'frames;
                    };
                    for r in records {
                        if r.seq <= head.seq {
                            continue;
                        }
                        if r.seq != head.seq + 1
                            || r.prev != head.hash
                            || r.time_ns < head.time_ns
                            || r.computed_hash() != r.hash
                        {
                            tracing::warn!(
                                "audit journal: record {} does not continue the chain at {}; \
                                 replay stops there",
                                r.seq,
                                head.seq
                            );
                            break 'frames;
                        }
                        let values = serde_json::from_slice::<Event>(r.event)
                            .map(|ev| IndexValues::of(&ev))
                            .unwrap_or_default();
                        index.push((r.seq, values));
                        head = Head {
                            seq: r.seq,
                            hash: r.hash,
                            time_ns: r.time_ns,
                        };
                        pending.push(r);
                    }
                }
                if !whole {
                    break 'frames;
                }
            }
            KIND_CHECKPOINT => {
                let Ok(cp) = serde_json::from_slice::<Checkpoint>(payload) else {
                    break 'frames;
                };
                let key = layout::checkpoint_key(cp.seq);
                let hash = match cp.seq {
                    0 => Some(layout::GENESIS),
                    s if s > head.seq => None,
                    s => match pending.iter().find(|r| r.seq == s) {
                        Some(r) => Some(r.hash),
                        None => records::with_record(db, s, |r| Ok(r.hash))?,
                    },
                };
                let sealed = hash.is_some() && cp.head_bytes() == hash;
                if sealed && !db.contains_key(key)? {
                    checkpoints.push(Op::Checkpoint {
                        seq: cp.seq,
                        json: payload.to_vec(),
                    });
                }
            }
            _ => break,
        }
    }
    out.records = pending.len() as u64;
    out.checkpoints = checkpoints.len() as u64;
    if out.records > 0 || out.checkpoints > 0 {
        let (payload, chunks) = records_payload(&pending);
        let records = Op::Records {
            payload,
            chunks,
            index,
        };
        db.apply_batch(apply::batch(
            std::iter::once(&records).chain(checkpoints.iter()),
        ))?;
        tracing::warn!(
            "audit journal: replayed {} record(s) and {} checkpoint(s) that the store lacked \
             (the previous process stopped without a clean shutdown)",
            out.records,
            out.checkpoints
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
