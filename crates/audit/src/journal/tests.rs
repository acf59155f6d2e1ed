//! The journal's frames, replay and recovery rules, against real files and stores.

use super::*;
use crate::event::EventKind;

/// seq, time_ns, prev, hash, event JSON.
type Rec = (u64, i64, [u8; 32], [u8; 32], Vec<u8>);

/// `n` records chained from genesis, each event aimed at target "db1".
fn chain(n: u64) -> Vec<Rec> {
    let mut out = Vec::new();
    let mut prev = layout::GENESIS;
    for seq in 1..=n {
        let mut ev = Event::new(EventKind::ActionDecided);
        ev.target = Some("db1".into());
        ev.detail = Some(format!("record {seq}"));
        let json = layout::canonical_json(&ev).expect("json");
        let time = 1_000 + seq as i64;
        let hash = layout::record_hash(seq, time, &prev, &json);
        out.push((seq, time, prev, hash, json));
        prev = hash;
    }
    out
}

fn stored(recs: &[Rec]) -> Vec<StoredRecord<'_>> {
    recs.iter()
        .map(|(seq, time_ns, prev, hash, json)| StoredRecord {
            seq: *seq,
            time_ns: *time_ns,
            prev: *prev,
            hash: *hash,
            event: json,
        })
        .collect()
}

fn chunk(recs: &[Rec]) -> Vec<u8> {
    layout::encode_chunk(&stored(recs))
}

/// The payload the writer journals for `recs` (chunks compressed where smaller).
fn records_payload(recs: &[Rec]) -> Vec<u8> {
    super::records_payload(&stored(recs)).0
}

/// Frames laid out as the writer lays them out (each on a page boundary).
fn file(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut b = Vec::new();
    for f in frames {
        b.extend_from_slice(f);
        b.resize(aligned(b.len()), 0);
    }
    b
}

fn genesis() -> Head {
    Head {
        seq: 0,
        hash: layout::GENESIS,
        time_ns: i64::MIN,
    }
}

fn head_of(r: &Rec) -> Head {
    Head {
        seq: r.0,
        hash: r.3,
        time_ns: r.1,
    }
}

#[test]
fn replay_adds_what_the_store_lacks_and_nothing_it_has() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = sled::Config::new().temporary(true).open().expect("db");
    let recs = chain(5);
    // The store got records 1-2; the journal holds 1-3, a checkpoint of 3, and 4-5.
    db.insert(layout::record_key(1), chunk(&recs[..2]))
        .expect("insert");
    let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    let cp = Checkpoint::sign(&key, 3, &recs[2].3, 2_000);
    let cp_json = serde_json::to_vec(&cp).expect("json");
    let first = records_payload(&recs[..3]);
    assert_eq!(first[4], layout::CHUNK_LZ4_VERSION, "journaled compressed");
    let bytes = file(&[
        frame(9, KIND_RECORDS, &first),
        frame(9, KIND_CHECKPOINT, &cp_json),
        frame(9, KIND_RECORDS, &records_payload(&recs[3..])),
    ]);
    std::fs::write(file_path(dir.path(), 0), bytes).expect("write");

    let r = replay(&db, dir.path(), head_of(&recs[1])).expect("replay");
    assert_eq!((r.records, r.checkpoints, r.last_gen), (3, 1, 9));
    for (seq, _, _, hash, _) in &recs {
        let got = records::with_record(&db, *seq, |s| Ok(s.hash)).expect("read");
        assert_eq!(got, Some(*hash), "record {seq}");
    }
    assert_eq!(records::last_seq(&db).expect("last"), 5);
    assert!(db.contains_key(layout::checkpoint_key(3)).expect("cp"));
    // The target index covers the replayed records (and only those: 1-2 were the
    // store's own, indexed when it wrote them).
    let mut indexed = Vec::new();
    for kv in db.scan_prefix(layout::index_prefix(layout::IndexKind::Target, "db1")) {
        let (k, v) = kv.expect("index");
        let ks = u64::from_be_bytes(k[k.len() - 8..].try_into().expect("seq"));
        indexed.extend(layout::posting_seqs(ks, &v).expect("posting"));
    }
    indexed.sort_unstable();
    assert_eq!(indexed, vec![3, 4, 5]);

    // Replaying again changes nothing: everything is in the store now.
    let again = replay(&db, dir.path(), head_of(&recs[4])).expect("replay");
    assert_eq!((again.records, again.checkpoints), (0, 0));
}

#[test]
fn replay_stops_at_a_compressed_chunk_that_does_not_unpack() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = sled::Config::new().temporary(true).open().expect("db");
    let recs = chain(6);
    let mut bad = records_payload(&recs[3..]);
    assert_eq!(bad[4], layout::CHUNK_LZ4_VERSION);
    // A declared length the block does not decompress to (the frame's CRC is
    // computed over the damaged payload, so only the unpack can catch it).
    bad[8] ^= 0x01;
    let bytes = file(&[
        frame(9, KIND_RECORDS, &records_payload(&recs[..3])),
        frame(9, KIND_RECORDS, &bad),
    ]);
    std::fs::write(file_path(dir.path(), 0), bytes).expect("write");
    let r = replay(&db, dir.path(), genesis()).expect("replay");
    assert_eq!(r.records, 3);
    assert_eq!(records::last_seq(&db).expect("last"), 3);
}

#[test]
fn replay_stops_at_a_record_that_does_not_continue_the_chain() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = sled::Config::new().temporary(true).open().expect("db");
    let recs = chain(4);
    let mut forged = recs.clone();
    // Record 3 claims another predecessor (its own hash recomputed to match).
    forged[2].2 = [1u8; 32];
    forged[2].3 = layout::record_hash(3, forged[2].1, &forged[2].2, &forged[2].4);
    let bytes = file(&[
        frame(4, KIND_RECORDS, &records_payload(&forged[..2])),
        frame(4, KIND_RECORDS, &records_payload(&forged[2..])),
    ]);
    std::fs::write(file_path(dir.path(), 1), bytes).expect("write");
    let r = replay(&db, dir.path(), genesis()).expect("replay");
    assert_eq!(r.records, 2);
    assert_eq!(records::last_seq(&db).expect("last"), 2);
}

#[test]
fn replay_takes_the_older_file_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = sled::Config::new().temporary(true).open().expect("db");
    let recs = chain(4);
    // The writer filled journal.1 (gen 5), then switched to journal.0 (gen 6).
    let old = file(&[frame(5, KIND_RECORDS, &records_payload(&recs[..2]))]);
    let new = file(&[frame(6, KIND_RECORDS, &records_payload(&recs[2..]))]);
    std::fs::write(file_path(dir.path(), 1), old).expect("write");
    std::fs::write(file_path(dir.path(), 0), new).expect("write");
    let r = replay(&db, dir.path(), genesis()).expect("replay");
    assert_eq!((r.records, r.last_gen), (4, 6));
    assert_eq!(records::last_seq(&db).expect("last"), 4);
}

#[test]
fn frames_stop_at_a_torn_or_stale_frame() {
    let pad = |b: &mut Vec<u8>| b.resize(aligned(b.len()), 0xAA);
    let mut b = frame(7, KIND_RECORDS, b"one");
    pad(&mut b);
    b.extend(frame(7, KIND_CHECKPOINT, b"two"));
    pad(&mut b);
    let good = b.len();
    // A frame of an older round left behind after the newer ones.
    b.extend(frame(6, KIND_RECORDS, b"old"));
    let f = frames(&b);
    assert_eq!(f.len(), 2);
    assert_eq!(f[1], (7, KIND_CHECKPOINT, &b"two"[..]));
    // A torn (cut short) or corrupted frame ends the journal as well.
    let mut torn = b[..good].to_vec();
    torn.extend_from_slice(&frame(7, KIND_RECORDS, b"three")[..10]);
    assert_eq!(frames(&torn).len(), 2);
    let mut flipped = b[..good].to_vec();
    flipped[FRAME_HEADER + 1] ^= 1;
    assert!(frames(&flipped).is_empty());
    let mut flipped = b[..good].to_vec();
    flipped[ALIGN + FRAME_HEADER] ^= 1;
    assert_eq!(frames(&flipped).len(), 1);
    assert!(frames(&[0u8; 64]).is_empty());
}
