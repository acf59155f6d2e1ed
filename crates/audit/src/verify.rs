//! Verification: walk the chain and every checkpoint, report the first problem.
//!
//! Detects an edited record (hash mismatch), a removed, inserted or reordered record
//! (sequence gap, moved record, broken `prev_hash` link), a chain rewritten from
//! genesis (the chain no longer matches a signed checkpoint, or a checkpoint's
//! signature is not the trusted key's), a truncated tail (a checkpoint — usually from
//! the external file — seals a sequence the store no longer has) and removed
//! checkpoints (a long unsealed tail). Read-only: it must never modify the store.

use std::collections::BTreeMap;
use std::path::Path;

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

use crate::checkpoint::{self, Checkpoint};
use crate::error::AuditError;
use crate::layout::{self, StoredRecord};
use crate::records;

/// What `verify` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyReport {
    pub ok: bool,
    /// Records walked (up to the first problem).
    pub records: u64,
    /// Hex hash of the last good record.
    pub head: String,
    /// The first sequence number that is wrong.
    pub first_bad: Option<u64>,
    /// What is wrong with it.
    pub problem: Option<String>,
    /// Checkpoints whose signature and head were checked.
    pub checkpoints: u64,
    /// Which key the signatures were checked against.
    pub key: Option<String>,
    /// Set when no key outside the store was given: signatures were checked against
    /// the key recorded in the store, which cannot detect a rewrite that replaced it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

/// Largest unsealed tail that a crash can explain beyond `checkpoint_every` (one batch).
const UNSEALED_SLACK: u64 = 8192 + 1;

/// Open the store at `dir` (fails if a running process holds it) and verify it.
/// Signatures are checked against `trusted` if given, else against `<dir>.key.pub` or
/// `<dir>.key` when one exists, else against the key recorded in the store.
pub fn verify_dir(dir: &Path, checkpoints: Option<&Path>) -> Result<VerifyReport, AuditError> {
    verify_dir_with_key(dir, checkpoints, None)
}

/// [`verify_dir`] with an explicit trusted public key.
pub fn verify_dir_with_key(
    dir: &Path,
    checkpoints: Option<&Path>,
    trusted: Option<VerifyingKey>,
) -> Result<VerifyReport, AuditError> {
    let db = crate::store::open_existing(dir)?;
    let trusted = match trusted {
        Some(k) => Some(k),
        None => default_trusted_key(dir)?,
    };
    Ok(verify_db(&db, trusted.as_ref(), checkpoints))
}

fn default_trusted_key(dir: &Path) -> Result<Option<VerifyingKey>, AuditError> {
    let key = crate::config::default_key_path(dir);
    let public = checkpoint::public_key_path(&key);
    for p in [public, key] {
        if p.exists() {
            return checkpoint::read_public_key(&p).map(Some);
        }
    }
    Ok(None)
}

struct Walk {
    records: u64,
    head: [u8; 32],
    checkpoints: u64,
}

/// Verify an open store.
pub fn verify_db(
    db: &sled::Db,
    trusted: Option<&VerifyingKey>,
    file: Option<&Path>,
) -> VerifyReport {
    verify_db_settled(db, trusted, file, || {})
}

/// [`verify_db`] on a live log: `settle` runs once the checkpoints are read and before
/// the records are, and must return only when every record a checkpoint read so far
/// could seal is in `db` (a live log's applier runs a moment behind its journal).
pub(crate) fn verify_db_settled(
    db: &sled::Db,
    trusted: Option<&VerifyingKey>,
    file: Option<&Path>,
    settle: impl FnOnce(),
) -> VerifyReport {
    let mut w = Walk {
        records: 0,
        head: layout::GENESIS,
        checkpoints: 0,
    };
    let mut warning = None;
    let stored_key = db
        .get(layout::META_PUBKEY)
        .ok()
        .flatten()
        .and_then(|k| <[u8; 32]>::try_from(k.as_ref()).ok())
        .and_then(|k| VerifyingKey::from_bytes(&k).ok());
    let key = match trusted {
        Some(k) => Some(*k),
        None => {
            warning = Some(
                "no trusted public key given: checkpoint signatures were checked against \
                 the key recorded in the store itself"
                    .to_string(),
            );
            stored_key
        }
    };
    let result = walk(db, key.as_ref(), file, settle, &mut w);
    let (first_bad, problem) = match result {
        Ok(()) => (None, None),
        Err((seq, what)) => (Some(seq), Some(what)),
    };
    VerifyReport {
        ok: first_bad.is_none(),
        records: w.records,
        head: hex::encode(w.head),
        first_bad,
        problem,
        checkpoints: w.checkpoints,
        key: key.map(|k| hex::encode(k.as_bytes())),
        warning,
    }
}

type Problem = (u64, String);

/// Checkpoints by sequence, each with where it came from.
type CheckpointMap = BTreeMap<u64, Vec<(&'static str, Checkpoint)>>;

fn load_checkpoints(db: &sled::Db, file: Option<&Path>) -> Result<(CheckpointMap, u64), Problem> {
    let mut map: CheckpointMap = BTreeMap::new();
    let mut in_store = 0u64;
    let range = layout::checkpoint_key(0)..=layout::checkpoint_key(u64::MAX);
    for item in db.range(range) {
        let (k, v) = item.map_err(|e| (0, format!("store read error: {e}")))?;
        let seq = layout::key_seq(&k).unwrap_or(0);
        let cp: Checkpoint = serde_json::from_slice(&v)
            .map_err(|e| (seq, format!("stored checkpoint is not valid JSON: {e}")))?;
        if cp.seq != seq {
            return Err((
                seq,
                format!(
                    "checkpoint stored at sequence {seq} says it seals {}",
                    cp.seq
                ),
            ));
        }
        map.entry(seq).or_default().push(("store", cp));
        in_store += 1;
    }
    if let Some(path) = file {
        let cps = checkpoint::read_file(path).map_err(|e| (0, e.to_string()))?;
        for cp in cps {
            map.entry(cp.seq).or_default().push(("checkpoint file", cp));
        }
    }
    Ok((map, in_store))
}

fn check_checkpoints_at(
    cps: &CheckpointMap,
    seq: u64,
    hash: &[u8; 32],
    key: Option<&VerifyingKey>,
    w: &mut Walk,
) -> Result<(), Problem> {
    let list = cps.get(&seq).map(Vec::as_slice).unwrap_or_default();
    for (i, (source, cp)) in list.iter().enumerate() {
        // The file usually repeats the stored checkpoint: check each signature once.
        let seen = list[..i].iter().any(|(_, earlier)| earlier == cp);
        if let (Some(k), false) = (key, seen) {
            cp.check(k).map_err(|e| (seq, format!("{e} [{source}]")))?;
        }
        if cp.head_bytes().as_ref() != Some(hash) {
            return Err((
                seq,
                format!(
                    "record {seq} does not match the signed checkpoint at this sequence \
                     [{source}]: the chain was rewritten"
                ),
            ));
        }
        w.checkpoints += 1;
    }
    Ok(())
}

fn walk(
    db: &sled::Db,
    key: Option<&VerifyingKey>,
    file: Option<&Path>,
    settle: impl FnOnce(),
    w: &mut Walk,
) -> Result<(), Problem> {
    let (cps, in_store) = load_checkpoints(db, file)?;
    settle();
    // On a live log, walk only what existed once the checkpoints were read: every
    // checkpoint's record is older than that, and records appended meanwhile can't
    // look like an unsealed tail.
    // A last value that does not decode is reported where the walk reaches it.
    let end = records::last_seq(db).unwrap_or(u64::MAX);
    check_checkpoints_at(&cps, 0, &layout::GENESIS, key, w)?;
    let mut prev = layout::GENESIS;
    let mut last_time = i64::MIN;
    let mut expect = 1u64;
    let range = layout::record_key(0)..=layout::record_key(end);
    let mut values = db.range(range).peekable();
    while let Some(item) = values.next() {
        let (k, v) = item.map_err(|e| (expect, format!("store read error: {e}")))?;
        let Some(key_seq) = layout::key_seq(&k) else {
            return Err((expect, "malformed record key".into()));
        };
        let plain = layout::unpack_value(key_seq, &v).map_err(|e| (key_seq, e.to_string()))?;
        let recs = layout::decode_value(key_seq, &plain).map_err(|e| (key_seq, e.to_string()))?;
        for (i, s) in recs.iter().enumerate() {
            let place = key_seq + i as u64;
            if place > end {
                break;
            }
            if place != expect {
                return Err(misplaced(expect, place));
            }
            if s.seq != place {
                // The record after it: in this value, else the first of the next one.
                let next_seq = match recs.get(i + 1) {
                    Some(n) => Some(n.seq),
                    None => next_value_first_seq(values.peek()),
                };
                return Err(wrong_seq(place, s.seq, next_seq));
            }
            check_record(s, &prev, last_time)?;
            check_checkpoints_at(&cps, place, &s.hash, key, w)?;
            prev = s.hash;
            last_time = s.time_ns;
            w.records = place;
            w.head = s.hash;
            expect += 1;
        }
    }
    let head = w.records;
    if let Some((seq, list)) = cps.range(head + 1..).next() {
        let source = list.first().map(|(s, _)| *s).unwrap_or("store");
        return Err((
            head + 1,
            format!(
                "a signed checkpoint [{source}] seals sequence {seq} but the store ends at \
                 {head}: the tail was truncated"
            ),
        ));
    }
    if in_store == 0 && head > 0 {
        return Err((
            1,
            "the store holds records but no signed checkpoint: checkpoints were removed".into(),
        ));
    }
    check_unsealed_tail(db, &cps, head)
}

/// The stored records jump from `expect` to `place`.
fn misplaced(expect: u64, place: u64) -> Problem {
    if place > expect {
        (
            expect,
            format!("record {expect} is missing (removed); the next stored record is {place}"),
        )
    } else {
        (
            expect,
            format!("record {place} is stored twice: records were inserted or duplicated"),
        )
    }
}

/// The record at `place` says it is record `seq`; `next` is what the record after it
/// says. A clean run on from `seq` means records were cut out of a chunk; anything else
/// means they were moved.
fn wrong_seq(place: u64, seq: u64, next: Option<u64>) -> Problem {
    if seq > place && next.is_none_or(|n| n == seq + 1) {
        return (
            place,
            format!("record {place} is missing (removed); the next stored record is {seq}"),
        );
    }
    (
        place,
        format!(
            "the record stored at sequence {place} says it is record {seq}: \
             records were moved or reordered"
        ),
    )
}

fn next_value_first_seq(next: Option<&sled::Result<(sled::IVec, sled::IVec)>>) -> Option<u64> {
    let (k, v) = next?.as_ref().ok()?;
    let key_seq = layout::key_seq(k)?;
    let plain = layout::unpack_value(key_seq, v).ok()?;
    let recs = layout::decode_value(key_seq, &plain).ok()?;
    recs.first().map(|r| r.seq)
}

/// Hash, link and time of one record in place.
fn check_record(s: &StoredRecord<'_>, prev: &[u8; 32], last_time: i64) -> Result<(), Problem> {
    if s.computed_hash() != s.hash {
        return Err((
            s.seq,
            "hash mismatch: the record's contents were edited".into(),
        ));
    }
    if &s.prev != prev {
        return Err((
            s.seq,
            format!(
                "prev_hash does not match the hash of record {}: a record before it was \
                 edited and re-hashed, removed, inserted or reordered",
                s.seq - 1
            ),
        ));
    }
    if s.time_ns < last_time {
        return Err((s.seq, "time goes backwards".into()));
    }
    Ok(())
}

/// A tail longer than the writer ever leaves unsealed means checkpoints were removed.
fn check_unsealed_tail(db: &sled::Db, cps: &CheckpointMap, head: u64) -> Result<(), Problem> {
    let every = db
        .get(layout::META_CHECKPOINT_EVERY)
        .ok()
        .flatten()
        .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
        .map(u64::from_be_bytes);
    let last_sealed = cps
        .iter()
        .filter(|(_, l)| l.iter().any(|(s, _)| *s == "store"))
        .map(|(s, _)| *s)
        .next_back()
        .unwrap_or(0);
    if let Some(every) = every {
        if head.saturating_sub(last_sealed) > every.saturating_add(UNSEALED_SLACK) {
            return Err((
                last_sealed + 1,
                format!(
                    "records {}..={head} are not sealed by any stored checkpoint although one \
                     is written every {every} records: checkpoints were removed",
                    last_sealed + 1
                ),
            ));
        }
    }
    Ok(())
}
