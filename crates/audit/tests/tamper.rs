//! Every tampering case the verifier must detect, each against a real store that the
//! test edits directly with sled (as an attacker with file access would).

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
fn open_raw(path: &std::path::Path) -> sled::Db {
    sled::Config::new()
        .path(path)
        .flush_every_ms(None)
        .open()
        .expect("sled")
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

fn raw(db: &sled::Db, seq: u64) -> Vec<u8> {
    db.get(layout::record_key(seq))
        .expect("get")
        .expect("record")
        .to_vec()
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
        let mut v = raw(&db, 1234);
        let at = v.len() - 20;
        v[at] ^= 0x01;
        db.insert(layout::record_key(1234), v).expect("insert");
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
        let v = raw(&db, 1234);
        let s = StoredRecord::decode(1234, &v).expect("decode");
        let text = String::from_utf8(s.event.to_vec()).expect("utf8");
        let forged = text.replace("alice", "mallory").into_bytes();
        let hash = layout::record_hash(s.seq, s.time_ns, &s.prev, &forged);
        let stored = StoredRecord {
            hash,
            event: &forged,
            ..s
        };
        db.insert(layout::record_key(1234), stored.encode())
            .expect("insert");
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
        db.remove(layout::record_key(777)).expect("remove");
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
        db.insert(layout::record_key(1500), b).expect("insert");
        db.insert(layout::record_key(1501), a).expect("insert");
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
            let v = raw(&db, seq + 1);
            let s = StoredRecord::decode(seq + 1, &v).expect("decode");
            let moved = StoredRecord { seq, ..s };
            db.insert(layout::record_key(seq), moved.encode())
                .expect("insert");
        }
        db.remove(layout::record_key(N)).expect("remove");
        db.flush().expect("flush");
    }
    assert_bad(&verify(&cfg), 100, "edited");
}

/// Delete records `from..=N`, their index entries and the store checkpoints above.
fn truncate(cfg: &AuditConfig, from: u64) {
    let db = open_raw(&cfg.path);
    for seq in from..=N {
        db.remove(layout::record_key(seq)).expect("remove");
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
        for seq in 2500..=N {
            db.remove(layout::record_key(seq)).expect("remove");
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
        let v = raw(db, seq);
        let s = StoredRecord::decode(seq, &v).expect("decode");
        let text = String::from_utf8(s.event.to_vec()).expect("utf8");
        let forged = text.replace("balance - 1", "balance - 0").into_bytes();
        let hash = layout::record_hash(seq, s.time_ns, &prev, &forged);
        let stored = StoredRecord {
            seq,
            time_ns: s.time_ns,
            prev,
            hash,
            event: &forged,
        };
        db.insert(layout::record_key(seq), stored.encode())
            .expect("insert");
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
                s => StoredRecord::decode(s, &raw(&db, s)).expect("decode").hash,
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
        let mut v = raw(&db, N);
        let at = v.len() - 5;
        v[at] ^= 0x20;
        db.insert(layout::record_key(N), v).expect("insert");
        db.flush().expect("flush");
    }
    assert!(AuditLog::open(cfg).is_err());
}
