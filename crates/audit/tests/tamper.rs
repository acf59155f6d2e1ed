//! Every tampering case the verifier must detect, each against a real store that the
//! test edits directly with sled (as an attacker with file access would). The storage
//! layout cases (chunks, compression, old layouts) are in `tamper_layout.rs`.

mod common;
mod tamper_support;

use ed25519_dalek::SigningKey;
use tamper_support::*;
use warden_audit::layout;
use warden_audit::{verify_dir, AuditConfig, AuditLog, Checkpoint, VerifyReport};

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
