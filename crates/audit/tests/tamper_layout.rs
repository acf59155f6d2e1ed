//! Tampering with the storage layout itself: records stored in chunks, chunks stored
//! LZ4-compressed, stores in older layouts; every damage is reported at its record.

mod common;
mod tamper_support;

use tamper_support::*;
use warden_audit::layout;
use warden_audit::{AuditLog, Durability};

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
