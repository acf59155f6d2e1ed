//! Shared by the tampering tests: a real store of N records, and helpers that edit,
//! remove or move single records inside stored chunks with sled directly (as an attacker
//! with file access would), re-encoding the chunk as the writer would.
#![allow(dead_code)]

use std::path::Path;

use crate::common;
use warden_audit::layout::{self, StoredRecord};
use warden_audit::{verify_dir, AuditConfig, AuditLog, Durability, VerifyReport};

pub const N: u64 = 3000;

/// A store of N records, checkpoint every 1000, closed cleanly.
pub fn build(dir: &Path) -> AuditConfig {
    let cfg = common::config(dir);
    let log = AuditLog::open(cfg.clone()).expect("open");
    for i in 1..=N {
        let d = if i.is_multiple_of(500) {
            Durability::Durable
        } else {
            Durability::Queued
        };
        log.append_blocking(common::decided(i, "alice", "prod-db", "allow"), d)
            .expect("append");
    }
    log.shutdown().expect("shutdown");
    cfg
}

/// Opens the store directly, as an attacker with file access would. No background
/// flusher thread, so the file lock is released as soon as the handle is dropped.
/// sled releases its lock from background threads a moment after the last handle of
/// the log is dropped, so the attacker waits for it (briefly) like the CLI does.
pub fn open_raw(path: &std::path::Path) -> sled::Db {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match sled::Config::new().path(path).flush_every_ms(None).open() {
            Ok(db) => return db,
            Err(e) if std::time::Instant::now() < deadline && e.to_string().contains("lock") => {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(e) => panic!("sled: {e:?}"),
        }
    }
}

pub fn verify(cfg: &AuditConfig) -> VerifyReport {
    verify_dir(&cfg.path, cfg.checkpoint_file.as_deref()).expect("verify runs")
}

pub fn assert_bad(r: &VerifyReport, seq: u64, words: &str) {
    assert!(!r.ok, "tampering not detected: {r:?}");
    assert_eq!(r.first_bad, Some(seq), "{r:?}");
    let p = r.problem.as_deref().unwrap_or("");
    assert!(p.contains(words), "problem {p:?} should mention {words:?}");
}

/// A stored record, owned.
#[derive(Clone)]
pub struct Rec {
    pub seq: u64,
    pub time_ns: i64,
    pub prev: [u8; 32],
    pub hash: [u8; 32],
    pub event: Vec<u8>,
}

impl Rec {
    pub fn stored(&self) -> StoredRecord<'_> {
        StoredRecord {
            seq: self.seq,
            time_ns: self.time_ns,
            prev: self.prev,
            hash: self.hash,
            event: &self.event,
        }
    }
}

/// Key sequence and records of the stored value that holds record `seq`.
pub fn chunk_of(db: &sled::Db, seq: u64) -> (u64, Vec<Rec>) {
    let (k, v) = db
        .range(layout::record_key(0)..=layout::record_key(seq))
        .next_back()
        .expect("a value")
        .expect("read");
    let key_seq = layout::key_seq(&k).expect("record key");
    let plain = layout::unpack_value(key_seq, &v).expect("unpack");
    let recs = layout::decode_value(key_seq, &plain)
        .expect("decode")
        .into_iter()
        .map(|s| Rec {
            seq: s.seq,
            time_ns: s.time_ns,
            prev: s.prev,
            hash: s.hash,
            event: s.event.to_vec(),
        })
        .collect();
    (key_seq, recs)
}

pub fn put_chunk(db: &sled::Db, key_seq: u64, recs: &[Rec]) {
    let stored: Vec<StoredRecord<'_>> = recs.iter().map(Rec::stored).collect();
    db.insert(layout::record_key(key_seq), layout::encode_chunk(&stored))
        .expect("insert");
}

pub fn raw(db: &sled::Db, seq: u64) -> Rec {
    let (key_seq, recs) = chunk_of(db, seq);
    recs[(seq - key_seq) as usize].clone()
}

/// Replace record `seq` inside its chunk.
pub fn set(db: &sled::Db, seq: u64, rec: Rec) {
    let (key_seq, mut recs) = chunk_of(db, seq);
    recs[(seq - key_seq) as usize] = rec;
    put_chunk(db, key_seq, &recs);
}

/// Cut record `seq` out of its chunk (the rest of the chunk keeps its order and, if
/// the first record went, moves to the next key, so every other record keeps its place).
pub fn remove(db: &sled::Db, seq: u64) {
    let (key_seq, mut recs) = chunk_of(db, seq);
    recs.remove((seq - key_seq) as usize);
    if seq == key_seq {
        db.remove(layout::record_key(key_seq)).expect("remove");
        if !recs.is_empty() {
            put_chunk(db, key_seq + 1, &recs);
        }
    } else {
        put_chunk(db, key_seq, &recs);
    }
}
