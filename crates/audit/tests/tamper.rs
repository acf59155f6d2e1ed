//! Every tampering case the verifier must detect, each against a real store that the
//! test edits directly with sled (as an attacker with file access would). Records are
//! stored in chunks (several per sled value); the helpers below edit, remove or move
//! single records inside them, and re-encode the chunk as the writer would.

mod common;

use std::path::Path;

use ed25519_dalek::SigningKey;
use warden_audit::layout::{self, StoredRecord};
use warden_audit::{verify_dir, AuditConfig, AuditLog, Checkpoint, Durability, VerifyReport};

const N: u64 = 3000;

/// A store of N records, checkpoint every 1000, closed cleanly.
fn build(dir: &Path) -> AuditConfig {
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
fn open_raw(path: &std::path::Path) -> sled::Db {
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

fn verify(cfg: &AuditConfig) -> VerifyReport {
    verify_dir(&cfg.path, cfg.checkpoint_file.as_deref()).expect("verify runs")
}

fn assert_bad(r: &VerifyReport, seq: u64, words: &str) {
    assert!(!r.ok, "tampering not detected: {r:?}");
    assert_eq!(r.first_bad, Some(seq), "{r:?}");
    let p = r.problem.as_deref().unwrap_or("");
    assert!(p.contains(words), "problem {p:?} should mention {words:?}");
}

/// A stored record, owned.
#[derive(Clone)]
struct Rec {
    seq: u64,
    time_ns: i64,
    prev: [u8; 32],
    hash: [u8; 32],
    event: Vec<u8>,
}

impl Rec {
    fn stored(&self) -> StoredRecord<'_> {
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
fn chunk_of(db: &sled::Db, seq: u64) -> (u64, Vec<Rec>) {
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

fn put_chunk(db: &sled::Db, key_seq: u64, recs: &[Rec]) {
    let stored: Vec<StoredRecord<'_>> = recs.iter().map(Rec::stored).collect();
    db.insert(layout::record_key(key_seq), layout::encode_chunk(&stored))
        .expect("insert");
}

fn raw(db: &sled::Db, seq: u64) -> Rec {
    let (key_seq, recs) = chunk_of(db, seq);
    recs[(seq - key_seq) as usize].clone()
}

/// Replace record `seq` inside its chunk.
fn set(db: &sled::Db, seq: u64, rec: Rec) {
    let (key_seq, mut recs) = chunk_of(db, seq);
    recs[(seq - key_seq) as usize] = rec;
    put_chunk(db, key_seq, &recs);
}

/// Cut record `seq` out of its chunk (the rest of the chunk keeps its order and, if
/// the first record went, moves to the next key, so every other record keeps its place).
fn remove(db: &sled::Db, seq: u64) {
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

#[test]
fn clean_store_verifies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = build(dir.path());
    let r = verify(&cfg);
    assert!(r.ok, "{r:?}");
    assert_eq!(r.records, N);
    assert!(
        r.warning.is_none(),
        "the default key file should be trusted: {r:?}"
    );
    // Store: 0, 1000, 2000, 3000; file: the same.
    assert_eq!(r.checkpoints, 8, "{r:?}");
}

#[test]
fn edited_record_is_detected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = build(dir.path());
    {
        let db = open_raw(&cfg.path);
        let mut r = raw(&db, 1234);
        let at = r.event.len() - 20;
        r.event[at] ^= 0x01;
        set(&db, 1234, r);
        db.flush().expect("flush");
    }
    assert_bad(&verify(&cfg), 1234, "edited");
}

#[test]
fn edited_and_rehashed_record_breaks_the_next_link() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = build(dir.path());
    {
        let db = open_raw(&cfg.path);
        let r = raw(&db, 1234);
        let text = String::from_utf8(r.event.clone()).expect("utf8");
        let forged = text.replace("alice", "mallory").into_bytes();
        let hash = layout::record_hash(r.seq, r.time_ns, &r.prev, &forged);
        set(
            &db,
            1234,
            Rec {
                hash,
                event: forged,
                ..r
            },
        );
        db.flush().expect("flush");
    }
    assert_bad(&verify(&cfg), 1235, "prev_hash");
}

#[test]
fn removed_record_is_detected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = build(dir.path());
    {
        let db = open_raw(&cfg.path);
        remove(&db, 777);
        db.flush().expect("flush");
    }
    assert_bad(&verify(&cfg), 777, "missing");
}

#[test]
fn reordered_records_are_detected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = build(dir.path());
    {
        let db = open_raw(&cfg.path);
        let a = raw(&db, 1500);
        let b = raw(&db, 1501);
        set(&db, 1500, b);
        set(&db, 1501, a);
        db.flush().expect("flush");
    }
    assert_bad(&verify(&cfg), 1500, "reordered");
}

#[test]
fn removed_record_with_renumbered_tail_is_detected() {
    // Delete record 100 and shift every later record down by one, rewriting the seq
    // field but not the hashes: the hashes cover seq, so record 100 no longer checks.
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = build(dir.path());
    {
        let db = open_raw(&cfg.path);
        for seq in 100..N {
            let moved = Rec {
                seq,
                ..raw(&db, seq + 1)
            };
            set(&db, seq, moved);
        }
        remove(&db, N);
        db.flush().expect("flush");
    }
    assert_bad(&verify(&cfg), 100, "edited");
}

/// Delete records `from..=N`, their index entries and the store checkpoints above.
fn truncate(cfg: &AuditConfig, from: u64) {
    let db = open_raw(&cfg.path);
    for seq in (from..=N).rev() {
        remove(&db, seq);
        db.remove(layout::checkpoint_key(seq)).expect("remove");
    }
    db.flush().expect("flush");
}

#[test]
fn truncated_tail_is_detected_with_the_checkpoint_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = build(dir.path());
    truncate(&cfg, 2001);
    let r = verify(&cfg);
    assert_bad(&r, 2001, "truncated");
    // Without the external file, a tail cut back to a stored checkpoint looks like a
    // clean shorter chain: that is why the checkpoint file exists (documented).
    let r = verify_dir(&cfg.path, None).expect("verify runs");
    assert!(r.ok, "{r:?}");
    assert_eq!(r.records, 2000);
}

#[test]
fn truncated_tail_is_detected_by_stored_checkpoints_when_they_are_left() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = build(dir.path());
    {
        let db = open_raw(&cfg.path);
        for seq in (2500..=N).rev() {
            remove(&db, seq);
        }
        db.flush().expect("flush");
    }
    let r = verify_dir(&cfg.path, None).expect("verify runs");
    assert_bad(&r, 2500, "truncated");
}

/// Rewrite the whole chain from genesis with edited events and fresh hashes.
fn rewrite_from_genesis(db: &sled::Db) {
    let mut prev = layout::GENESIS;
    for seq in 1..=N {
        let r = raw(db, seq);
        let text = String::from_utf8(r.event.clone()).expect("utf8");
        let forged = text.replace("balance - 1", "balance - 0").into_bytes();
        let hash = layout::record_hash(seq, r.time_ns, &prev, &forged);
        set(
            db,
            seq,
            Rec {
                seq,
                time_ns: r.time_ns,
                prev,
                hash,
                event: forged,
            },
        );
        prev = hash;
    }
}

#[test]
fn chain_rewritten_from_genesis_fails_the_signed_checkpoints() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = build(dir.path());
    {
        let db = open_raw(&cfg.path);
        rewrite_from_genesis(&db);
        db.flush().expect("flush");
    }
    assert_bad(&verify(&cfg), 1000, "rewritten");
    let r = verify_dir(&cfg.path, None).expect("verify runs");
    assert_bad(&r, 1000, "rewritten");
}

#[test]
fn chain_rewritten_and_resigned_with_another_key_is_detected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = build(dir.path());
    {
        let db = open_raw(&cfg.path);
        rewrite_from_genesis(&db);
        let forger = SigningKey::from_bytes(&[7u8; 32]);
        for seq in [0, 1000, 2000, 3000] {
            let head = match seq {
                0 => layout::GENESIS,
                s => raw(&db, s).hash,
            };
            let cp = Checkpoint::sign(&forger, seq, &head, 1);
            db.insert(
                layout::checkpoint_key(seq),
                serde_json::to_vec(&cp).expect("json"),
            )
            .expect("insert");
        }
        db.insert(
            layout::META_PUBKEY,
            forger.verifying_key().as_bytes().as_slice(),
        )
        .expect("insert");
        db.flush().expect("flush");
    }
    // The trusted key (<dir>.key.pub, outside the store) did not sign these.
    let r = verify_dir(&cfg.path, None).expect("verify runs");
    assert_bad(&r, 0, "not by the trusted key");
    // The external file still holds the genuine checkpoints.
    let r = verify_dir_with_trusted_file(&cfg);
    assert!(!r.ok, "{r:?}");
}

fn verify_dir_with_trusted_file(cfg: &AuditConfig) -> VerifyReport {
    let key = warden_audit::checkpoint::read_public_key(&cfg.signing_key).expect("key");
    warden_audit::verify_dir_with_key(&cfg.path, cfg.checkpoint_file.as_deref(), Some(key))
        .expect("verify runs")
}

#[test]
fn forged_checkpoint_signature_is_detected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = build(dir.path());
    {
        let db = open_raw(&cfg.path);
        let v = db
            .get(layout::checkpoint_key(2000))
            .expect("get")
            .expect("cp");
        let mut cp: Checkpoint = serde_json::from_slice(&v).expect("json");
        cp.time_ns += 1;
        db.insert(
            layout::checkpoint_key(2000),
            serde_json::to_vec(&cp).expect("json"),
        )
        .expect("insert");
        db.flush().expect("flush");
    }
    assert_bad(&verify(&cfg), 2000, "invalid signature");
}

#[test]
fn removed_checkpoints_are_detected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = build(dir.path());
    {
        let db = open_raw(&cfg.path);
        for seq in [0, 1000, 2000, 3000] {
            db.remove(layout::checkpoint_key(seq)).expect("remove");
        }
        db.flush().expect("flush");
    }
    let r = verify_dir(&cfg.path, None).expect("verify runs");
    assert_bad(&r, 1, "no signed checkpoint");
}

#[test]
fn open_refuses_a_store_whose_tail_does_not_check() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = build(dir.path());
    {
        let db = open_raw(&cfg.path);
        let mut r = raw(&db, N);
        let at = r.event.len() - 5;
        r.event[at] ^= 0x20;
        set(&db, N, r);
        db.flush().expect("flush");
    }
    assert!(AuditLog::open(cfg).is_err());
}

#[test]
fn records_are_stored_in_chunks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = build(dir.path());
    let db = open_raw(&cfg.path);
    let values = db
        .range(layout::record_key(0)..=layout::record_key(u64::MAX))
        .count() as u64;
    // Chunks never span batches, and batch sizes depend on timing: only "fewer values
    // than records" is certain.
    assert!(values < N, "{values} values for {N} records");
}

/// Key and stored bytes of every record value, in order.
fn record_values(db: &sled::Db) -> Vec<(u64, Vec<u8>)> {
    db.range(layout::record_key(0)..=layout::record_key(u64::MAX))
        .map(|kv| {
            let (k, v) = kv.expect("read");
            (layout::key_seq(&k).expect("key"), v.to_vec())
        })
        .collect()
}

#[test]
fn chunks_are_stored_compressed_and_stores_of_plain_chunks_still_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = build(dir.path());
    {
        let db = open_raw(&cfg.path);
        let values = record_values(&db);
        let packed = values
            .iter()
            .filter(|(_, v)| v[0] == layout::CHUNK_LZ4_VERSION)
            .count();
        assert!(
            packed * 2 > values.len(),
            "{packed} of {} values compressed",
            values.len()
        );
        // The layout before compression: every chunk stored plain.
        for (key_seq, v) in values {
            let plain = layout::unpack_value(key_seq, &v).expect("unpack");
            assert_eq!(plain[0], layout::CHUNK_VERSION);
            db.insert(layout::record_key(key_seq), &*plain)
                .expect("insert");
        }
        db.flush().expect("flush");
    }
    let r = verify(&cfg);
    assert!(r.ok, "{r:?}");
    assert_eq!(r.records, N);
    let log = AuditLog::open(cfg.clone()).expect("open plain chunks");
    assert_eq!(log.get(2345).expect("get").expect("record").seq, 2345);
    let seq = log
        .append_blocking(
            common::decided(N + 1, "bob", "prod-db", "deny"),
            Durability::Durable,
        )
        .expect("append");
    assert_eq!(seq, N + 1);
    log.shutdown().expect("shutdown");
    drop(log);
    let r = verify(&cfg);
    assert!(r.ok, "{r:?}");
    assert_eq!(r.records, N + 1);
}

#[test]
fn a_damaged_compressed_chunk_is_detected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = build(dir.path());
    let (key_seq, original) = {
        let db = open_raw(&cfg.path);
        record_values(&db)
            .into_iter()
            .find(|(k, v)| *k > 1 && v[0] == layout::CHUNK_LZ4_VERSION)
            .expect("a compressed chunk")
    };
    let count = {
        let plain = layout::unpack_value(key_seq, &original).expect("unpack");
        layout::decode_value(key_seq, &plain).expect("decode").len() as u64
    };
    let declared = |v: &mut Vec<u8>, n: u32| v[1..5].copy_from_slice(&n.to_be_bytes());
    let plain_len = u32::from_be_bytes(original[1..5].try_into().expect("len"));
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("byte in the block", {
            let mut v = original.clone();
            let at = 5 + (v.len() - 5) / 2;
            v[at] ^= 0x5a;
            v
        }),
        ("length beyond what the block can hold", {
            let mut v = original.clone();
            declared(&mut v, u32::MAX);
            v
        }),
        ("length one short", {
            let mut v = original.clone();
            declared(&mut v, plain_len - 1);
            v
        }),
        ("length one long", {
            let mut v = original.clone();
            declared(&mut v, plain_len + 1);
            v
        }),
        ("block cut short", original[..original.len() - 7].to_vec()),
    ];
    for (what, damaged) in cases {
        {
            let db = open_raw(&cfg.path);
            db.insert(layout::record_key(key_seq), damaged)
                .expect("insert");
            db.flush().expect("flush");
        }
        let r = verify(&cfg);
        assert!(!r.ok, "{what}: not detected: {r:?}");
        let bad = r.first_bad.expect("first bad");
        assert!(
            (key_seq..key_seq + count).contains(&bad),
            "{what}: first bad {bad}, chunk {key_seq}..{}: {r:?}",
            key_seq + count
        );
        let db = open_raw(&cfg.path);
        db.insert(layout::record_key(key_seq), original.clone())
            .expect("insert");
        db.flush().expect("flush");
        drop(db);
        assert!(verify(&cfg).ok, "{what}: restored chunk should verify");
    }
}

/// Rewrite every chunk as one version-1 value per record: the layout of stores written
/// before chunks.
fn explode_into_old_layout(db: &sled::Db) {
    let keys: Vec<u64> = db
        .range(layout::record_key(0)..=layout::record_key(u64::MAX))
        .map(|kv| layout::key_seq(&kv.expect("read").0).expect("key"))
        .collect();
    for key_seq in keys {
        let (_, recs) = chunk_of(db, key_seq);
        db.remove(layout::record_key(key_seq)).expect("remove");
        for r in recs {
            db.insert(layout::record_key(r.seq), r.stored().encode())
                .expect("insert");
        }
    }
}

#[test]
fn a_store_in_the_old_one_record_per_value_layout_opens_verifies_and_grows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = build(dir.path());
    {
        let db = open_raw(&cfg.path);
        explode_into_old_layout(&db);
        db.flush().expect("flush");
        let values = db
            .range(layout::record_key(0)..=layout::record_key(u64::MAX))
            .count() as u64;
        assert_eq!(values, N);
    }
    let r = verify(&cfg);
    assert!(r.ok, "{r:?}");
    assert_eq!(r.records, N);
    {
        let log = AuditLog::open(cfg.clone()).expect("open the old layout");
        assert_eq!(log.get(1234).expect("get").expect("record").seq, 1234);
        for i in 0..10 {
            let seq = log
                .append_blocking(
                    common::decided(N + i, "bob", "prod-db", "deny"),
                    Durability::Durable,
                )
                .expect("append");
            assert_eq!(seq, N + 1 + i);
        }
        let page = log
            .query(&warden_audit::Query {
                user: Some("alice".into()),
                limit: 5,
                ..Default::default()
            })
            .expect("query");
        let seqs: Vec<u64> = page.records.iter().map(|r| r.seq).collect();
        assert_eq!(seqs, [N, N - 1, N - 2, N - 3, N - 4]);
        log.shutdown().expect("shutdown");
    }
    let r = verify(&cfg);
    assert!(r.ok, "{r:?}");
    assert_eq!(r.records, N + 10);
    // Tampering with an old-layout record is still caught.
    {
        let db = open_raw(&cfg.path);
        let mut r = raw(&db, 42);
        r.event[10] ^= 0x01;
        db.insert(layout::record_key(42), r.stored().encode())
            .expect("insert");
        db.flush().expect("flush");
    }
    assert_bad(&verify(&cfg), 42, "edited");
}

#[test]
fn a_record_cut_from_the_start_middle_or_end_of_a_chunk_is_missing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = build(dir.path());
    // Batches (and so chunks) depend on timing: take the first chunk that holds at
    // least three records.
    let (key_seq, recs) = {
        let db = open_raw(&cfg.path);
        let mut seq = 1;
        loop {
            let (k, recs) = chunk_of(&db, seq);
            if recs.len() >= 3 {
                break (k, recs);
            }
            seq = k + recs.len() as u64;
            assert!(seq < N, "no chunk of three records");
        }
    };
    let len = recs.len() as u64;
    for victim in [key_seq, key_seq + len / 2, key_seq + len - 1] {
        {
            let db = open_raw(&cfg.path);
            remove(&db, victim);
            db.flush().expect("flush");
        }
        assert_bad(&verify(&cfg), victim, "missing");
        // Put the chunk back as it was for the next case.
        let db = open_raw(&cfg.path);
        db.remove(layout::record_key(key_seq + 1)).expect("remove");
        put_chunk(&db, key_seq, &recs);
        db.flush().expect("flush");
        drop(db);
        assert!(verify(&cfg).ok);
    }
}
