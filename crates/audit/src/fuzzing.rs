//! Entry point shared by the `audit_decode` fuzz target (`fuzz/fuzz_targets/`) and the
//! corpus replay test (`tests/fuzz_corpus.rs`). Not an API: hidden from the docs.
//!
//! Must never panic on any input: a journal file or a stored value edited on disk is
//! read as "corrupt" (or its valid prefix), never as a crash, and what decodes
//! re-encodes to the same bytes (a reader and the writer agree on one layout).

use crate::checkpoint::Checkpoint;
use crate::event::Event;
use crate::journal;
use crate::layout::{self, StoredRecord};

/// The first byte picks what the rest is read as: 0 a journal file (frames, then their
/// payloads), 1 a journal records payload, anything else a stored value.
pub fn audit_decode(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode {
        0 => journal_file(rest),
        1 => records_payload(rest),
        _ => stored_value(rest),
    }
}

fn journal_file(bytes: &[u8]) {
    for (_, kind, payload) in journal::frames(bytes) {
        match kind {
            journal::KIND_RECORDS => records_payload(payload),
            journal::KIND_CHECKPOINT => checkpoint(payload),
            _ => {}
        }
    }
}

fn records_payload(payload: &[u8]) {
    let (chunks, _) = journal::payload_chunks(payload);
    for chunk in chunks {
        stored_value(&chunk);
    }
}

fn checkpoint(json: &[u8]) {
    if let Ok(cp) = serde_json::from_slice::<Checkpoint>(json) {
        let _ = cp.head_bytes();
    }
}

fn stored_value(v: &[u8]) {
    let Ok(plain) = layout::unpack_value(7, v) else {
        return;
    };
    if plain.as_ref() != v {
        // A compressed chunk: compressing what it holds again reads back the same.
        let packed = layout::pack_chunk(&plain);
        let again = layout::unpack_value(7, &packed).expect("a packed chunk unpacks");
        assert_eq!(again.as_ref(), plain.as_ref(), "pack/unpack round trip");
    }
    let Ok(records) = layout::decode_value(7, &plain) else {
        return;
    };
    let encoded = match records.as_slice() {
        [one] if plain.first() != Some(&layout::CHUNK_VERSION) => one.encode(),
        _ => layout::encode_chunk(&records),
    };
    assert_eq!(
        encoded,
        plain.as_ref(),
        "decoded records re-encode differently"
    );
    for r in &records {
        record(r);
    }
}

fn record(r: &StoredRecord<'_>) {
    let _ = r.computed_hash();
    if let Ok(event) = serde_json::from_slice::<Event>(r.event) {
        // The hashed form of an event is its canonical JSON: always computable.
        layout::canonical_json(&event).expect("an event that decodes has a canonical form");
    }
}
