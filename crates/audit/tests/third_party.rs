//! An independent verifier written from docs/audit-format.md alone: it re-encodes each
//! exported event canonically, recomputes the record hash with `sha2`, checks the links,
//! and checks the checkpoint file's signatures with `ed25519-dalek`. If this test and
//! the crate disagree, the document is wrong.

mod common;

use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use serde_json::Value;
use sha2::{Digest, Sha256};
use warden_audit::{AuditLog, Durability, Query};

/// Sorted keys, no whitespace; strings and numbers as serde_json writes them.
fn canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(k).expect("key"));
                out.push(':');
                canonical(&m[*k], out);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(x, out);
            }
            out.push(']');
        }
        other => out.push_str(&serde_json::to_string(other).expect("scalar")),
    }
}

fn unhex32(s: &str) -> [u8; 32] {
    hex::decode(s).expect("hex").try_into().expect("32 bytes")
}

#[test]
fn export_and_checkpoints_verify_with_an_independent_implementation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = common::config(dir.path());
    cfg.checkpoint_every = 100;
    let log = AuditLog::open(cfg.clone()).expect("open");
    for i in 0..250u64 {
        let mut ev = common::decided(i, "zoë", "prod-db", "allow");
        ev.detail = Some(format!(
            "quote \" backslash \\ newline \n tab \t ctrl \u{1} #{i}"
        ));
        log.append_blocking(ev, Durability::Queued).expect("append");
    }
    log.shutdown().expect("shutdown");
    let mut buf = Vec::new();
    let n = log.export(&Query::default(), &mut buf).expect("export");
    assert_eq!(n, 250);

    let mut prev = [0u8; 32];
    let mut hashes = vec![prev];
    for (i, line) in String::from_utf8(buf).expect("utf8").lines().enumerate() {
        let v: Value = serde_json::from_str(line).expect("json line");
        let seq = v["seq"].as_u64().expect("seq");
        assert_eq!(seq, i as u64 + 1);
        let time_ns = v["time_ns"].as_i64().expect("time_ns");
        assert_eq!(unhex32(v["prev_hash"].as_str().expect("prev")), prev);
        let mut event = String::new();
        canonical(&v["event"], &mut event);
        let mut h = Sha256::new();
        h.update(b"warden-audit-record/v1\n");
        h.update(seq.to_be_bytes());
        h.update(time_ns.to_be_bytes());
        h.update(prev);
        h.update((event.len() as u32).to_be_bytes());
        h.update(event.as_bytes());
        let hash: [u8; 32] = h.finalize().into();
        assert_eq!(
            hex::encode(hash),
            v["hash"].as_str().expect("hash"),
            "record {seq}"
        );
        prev = hash;
        hashes.push(hash);
    }

    let pub_hex = std::fs::read_to_string(dir.path().join("audit.key.pub")).expect("pub key");
    let key = VerifyingKey::from_bytes(&unhex32(pub_hex.trim())).expect("key");
    let file = std::fs::read_to_string(cfg.checkpoint_file.expect("file")).expect("read");
    let mut seen = 0;
    let mut last_seq = 0;
    for line in file.lines() {
        let cp: Value = serde_json::from_str(line).expect("checkpoint line");
        let seq = cp["seq"].as_u64().expect("seq");
        let head = unhex32(cp["head"].as_str().expect("head"));
        assert_eq!(
            head, hashes[seq as usize],
            "checkpoint {seq} seals the chain"
        );
        let mut msg = b"warden-audit-checkpoint/v1\n".to_vec();
        msg.extend_from_slice(&seq.to_be_bytes());
        msg.extend_from_slice(&head);
        msg.extend_from_slice(&cp["time_ns"].as_i64().expect("time_ns").to_be_bytes());
        let sig: [u8; 64] = hex::decode(cp["sig"].as_str().expect("sig"))
            .expect("hex")
            .try_into()
            .expect("64 bytes");
        key.verify(&msg, &Signature::from_bytes(&sig))
            .expect("checkpoint signature verifies");
        seen += 1;
        last_seq = seq;
    }
    // Genesis, after the batches that cross 100 unsealed records, and at shutdown
    // (batches may be large, so at least genesis and the final head).
    assert!(seen >= 2, "only {seen} checkpoints in the file");
    assert_eq!(last_seq, 250, "the final checkpoint seals the head");
}
