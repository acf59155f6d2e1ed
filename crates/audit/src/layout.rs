//! The on-disk format, byte by byte (docs/audit-format.md is the prose version).
//!
//! Public so that tests, the CLI and third-party verifiers share one definition. This
//! module must never change meaning for an existing format version: a new encoding gets
//! a new version byte and a new domain string.

use std::borrow::Cow;

use sha2::{Digest, Sha256};

use crate::canonical;
use crate::error::AuditError;

/// Domain separation prefix of a record hash.
pub const RECORD_DOMAIN: &[u8] = b"warden-audit-record/v1\n";
/// Format version byte that starts every stored record value.
pub const RECORD_VERSION: u8 = 1;
/// The previous hash of record 1.
pub const GENESIS: [u8; 32] = [0u8; 32];
/// Key prefix of records: `b'r'` + the sequence number (u64 big-endian) of the first
/// record in the value (a single record, or a chunk: [`decode_value`]).
pub const RECORD_PREFIX: u8 = b'r';
/// Key prefix of signed checkpoints: `b'c'` + seq (u64 big-endian).
pub const CHECKPOINT_PREFIX: u8 = b'c';
/// Key prefix of the secondary indexes.
pub const INDEX_PREFIX: u8 = b'i';
/// Meta key holding the format name.
pub const META_FORMAT: &[u8] = b"m/format";
/// Meta key holding the public key that signs checkpoints (32 bytes).
pub const META_PUBKEY: &[u8] = b"m/pubkey";
/// Meta key holding `checkpoint_every` (u64 big-endian).
pub const META_CHECKPOINT_EVERY: &[u8] = b"m/checkpoint_every";
/// Value of [`META_FORMAT`].
pub const FORMAT_NAME: &[u8] = b"warden-audit/1";

/// Format version byte that starts a chunk value: several consecutive records stored
/// under the key of the first (one sled insert per chunk instead of per record).
pub const CHUNK_VERSION: u8 = 2;
/// The writer closes a chunk once its records reach this many bytes (a larger record
/// gets a chunk of its own). Kept far below sled's blob threshold (a quarter of its
/// 512 KiB segment) even for a full 17-entry leaf, so chunks never become blob files.
pub const CHUNK_TARGET_BYTES: usize = 4096;

/// Format version byte that starts a compressed chunk: [`CHUNK_LZ4_VERSION`] ||
/// length of the chunk value (u32 BE) || the [`CHUNK_VERSION`] value compressed as one
/// LZ4 block. The writer journals and stores chunks this way when that is smaller (typical
/// records compress to about a fifth; sled rewrites every value several times, so
/// this cuts most of what reaches the disk per append); readers [`unpack_value`]
/// before [`decode_value`].
pub const CHUNK_LZ4_VERSION: u8 = 3;

/// Length of the fixed part of a stored record value.
pub const HEADER_LEN: usize = 1 + 8 + 8 + 32 + 32;

/// Which secondary index an index key belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IndexKind {
    User,
    Target,
    Verdict,
}

impl IndexKind {
    fn byte(self) -> u8 {
        match self {
            IndexKind::User => b'u',
            IndexKind::Target => b't',
            IndexKind::Verdict => b'v',
        }
    }
}

/// `b'r'` + seq.
pub fn record_key(seq: u64) -> [u8; 9] {
    prefixed(RECORD_PREFIX, seq)
}

/// `b'c'` + seq.
pub fn checkpoint_key(seq: u64) -> [u8; 9] {
    prefixed(CHECKPOINT_PREFIX, seq)
}

fn prefixed(p: u8, seq: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = p;
    k[1..].copy_from_slice(&seq.to_be_bytes());
    k
}

/// The sequence number of a `r`/`c` key.
pub fn key_seq(key: &[u8]) -> Option<u64> {
    let b: [u8; 8] = key.get(1..9)?.try_into().ok()?;
    (key.len() == 9).then(|| u64::from_be_bytes(b))
}

/// `b'i'` + kind + u16 length (BE) + value: all index entries for one value share it.
pub fn index_prefix(kind: IndexKind, value: &str) -> Vec<u8> {
    let v = value.as_bytes();
    let len = u16::try_from(v.len()).unwrap_or(u16::MAX);
    let v = &v[..usize::from(len)];
    let mut k = Vec::with_capacity(4 + v.len() + 8);
    k.push(INDEX_PREFIX);
    k.push(kind.byte());
    k.extend_from_slice(&len.to_be_bytes());
    k.extend_from_slice(v);
    k
}

/// Index key: [`index_prefix`] + seq (u64 BE), where seq is the first sequence number
/// of the entry's posting list (see [`posting_seqs`]).
pub fn index_key(kind: IndexKind, value: &str, seq: u64) -> Vec<u8> {
    let mut k = index_prefix(kind, value);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// Most sequence numbers in one index entry's posting list (keeps values small).
pub const POSTING_MAX: usize = 1024;

/// Value of an index entry: its sequence numbers, ascending, each u64 BE. The first
/// one equals the key's seq; all are below the next entry's key seq for that value.
pub fn encode_posting(seqs: &[u64]) -> Vec<u8> {
    let mut v = Vec::with_capacity(seqs.len() * 8);
    for s in seqs {
        v.extend_from_slice(&s.to_be_bytes());
    }
    v
}

/// The sequence numbers of an index entry whose key ends in `key_seq`. An empty value
/// (stores written before posting lists) stands for `key_seq` alone. `None` when the
/// value is not a whole number of u64s.
pub fn posting_seqs(key_seq: u64, value: &[u8]) -> Option<Vec<u64>> {
    if value.is_empty() {
        return Some(vec![key_seq]);
    }
    if !value.len().is_multiple_of(8) {
        return None;
    }
    Some(
        value
            .chunks_exact(8)
            .map(|c| {
                let mut a = [0u8; 8];
                a.copy_from_slice(c);
                u64::from_be_bytes(a)
            })
            .collect(),
    )
}

/// SHA-256(RECORD_DOMAIN || seq u64 BE || time_ns i64 BE || prev 32 bytes ||
/// len(event) u32 BE || event), where `event` is the canonical JSON of the event.
pub fn record_hash(seq: u64, time_ns: i64, prev: &[u8; 32], event: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(RECORD_DOMAIN);
    h.update(seq.to_be_bytes());
    h.update(time_ns.to_be_bytes());
    h.update(prev);
    h.update((event.len() as u32).to_be_bytes());
    h.update(event);
    h.finalize().into()
}

/// One stored record, borrowed from its sled value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredRecord<'a> {
    pub seq: u64,
    pub time_ns: i64,
    pub prev: [u8; 32],
    pub hash: [u8; 32],
    /// Canonical JSON of the event, exactly as hashed.
    pub event: &'a [u8],
}

impl<'a> StoredRecord<'a> {
    /// Value layout: version (1) || seq (8, BE) || time_ns (8, BE) || prev (32) ||
    /// hash (32) || canonical event JSON (rest).
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(HEADER_LEN + self.event.len());
        self.encode_into(&mut v);
        v
    }

    /// [`StoredRecord::encode`] appended to `v`.
    pub fn encode_into(&self, v: &mut Vec<u8>) {
        v.push(RECORD_VERSION);
        v.extend_from_slice(&self.seq.to_be_bytes());
        v.extend_from_slice(&self.time_ns.to_be_bytes());
        v.extend_from_slice(&self.prev);
        v.extend_from_slice(&self.hash);
        v.extend_from_slice(self.event);
    }

    /// Decode a stored value; `key_seq` only names the record in the error.
    pub fn decode(key_seq: u64, v: &'a [u8]) -> Result<StoredRecord<'a>, AuditError> {
        let corrupt = |what: &str| AuditError::Corrupt {
            seq: key_seq,
            what: what.to_string(),
        };
        if v.len() < HEADER_LEN {
            return Err(corrupt("stored value is shorter than a record header"));
        }
        if v[0] != RECORD_VERSION {
            return Err(corrupt(&format!("unknown record version {}", v[0])));
        }
        let arr8 = |r: std::ops::Range<usize>| -> [u8; 8] {
            let mut a = [0u8; 8];
            a.copy_from_slice(&v[r]);
            a
        };
        let arr32 = |r: std::ops::Range<usize>| -> [u8; 32] {
            let mut a = [0u8; 32];
            a.copy_from_slice(&v[r]);
            a
        };
        Ok(StoredRecord {
            seq: u64::from_be_bytes(arr8(1..9)),
            time_ns: i64::from_be_bytes(arr8(9..17)),
            prev: arr32(17..49),
            hash: arr32(49..81),
            event: &v[HEADER_LEN..],
        })
    }

    /// Recompute the hash from the stored fields.
    pub fn computed_hash(&self) -> [u8; 32] {
        record_hash(self.seq, self.time_ns, &self.prev, self.event)
    }
}

/// A chunk value: [`CHUNK_VERSION`] || count (u32 BE) || for each record, in sequence
/// order: length (u32 BE) || the record's version-1 value ([`StoredRecord::encode`]).
pub fn encode_chunk(records: &[StoredRecord<'_>]) -> Vec<u8> {
    let body: usize = records.iter().map(|r| 4 + HEADER_LEN + r.event.len()).sum();
    let mut v = Vec::with_capacity(5 + body);
    v.push(CHUNK_VERSION);
    v.extend_from_slice(&(records.len() as u32).to_be_bytes());
    for r in records {
        v.extend_from_slice(&((HEADER_LEN + r.event.len()) as u32).to_be_bytes());
        r.encode_into(&mut v);
    }
    v
}

/// The stored form of a chunk value (`encode_chunk` output, or the journal's copy of
/// one): a [`CHUNK_LZ4_VERSION`] value when that is smaller, else the value as it is.
pub fn pack_chunk(chunk: &[u8]) -> Cow<'_, [u8]> {
    let Ok(len) = u32::try_from(chunk.len()) else {
        return Cow::Borrowed(chunk);
    };
    let block = lz4_flex::block::compress(chunk);
    if 5 + block.len() >= chunk.len() {
        return Cow::Borrowed(chunk);
    }
    let mut v = Vec::with_capacity(5 + block.len());
    v.push(CHUNK_LZ4_VERSION);
    v.extend_from_slice(&len.to_be_bytes());
    v.extend_from_slice(&block);
    Cow::Owned(v)
}

/// The value stored under `'r' + key_seq` in the form [`decode_value`] reads: a
/// compressed chunk decompressed, anything else as it is. The declared length is
/// checked against the most an LZ4 block can expand (255 to 1), so an edited length
/// cannot make a reader allocate more than that.
pub fn unpack_value(key_seq: u64, v: &[u8]) -> Result<Cow<'_, [u8]>, AuditError> {
    if v.first() != Some(&CHUNK_LZ4_VERSION) {
        return Ok(Cow::Borrowed(v));
    }
    let corrupt = |what: String| AuditError::Corrupt { seq: key_seq, what };
    let len = v
        .get(1..5)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(u32::from_be_bytes)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| corrupt("compressed chunk header is cut short".into()))?;
    let block = &v[5..];
    if len > block.len().saturating_mul(255).saturating_add(16) {
        return Err(corrupt(format!(
            "compressed chunk declares {len} bytes, more than its {} compressed bytes can hold",
            block.len()
        )));
    }
    let plain = lz4_flex::block::decompress(block, len)
        .map_err(|e| corrupt(format!("compressed chunk does not decompress: {e}")))?;
    if plain.len() != len || plain.first() != Some(&CHUNK_VERSION) {
        return Err(corrupt(
            "compressed chunk does not decompress to the chunk it declares".into(),
        ));
    }
    Ok(Cow::Owned(plain))
}

/// The records of one value stored under `'r' + key_seq`: a single version-1 record
/// (the layout before chunks) or a chunk (a compressed one [`unpack_value`]d first). The i-th record's place in the chain is
/// `key_seq + i`; its own `seq` field should say the same (verify checks it).
pub fn decode_value(key_seq: u64, v: &[u8]) -> Result<Vec<StoredRecord<'_>>, AuditError> {
    let corrupt = |what: &str| AuditError::Corrupt {
        seq: key_seq,
        what: what.to_string(),
    };
    match v.first() {
        Some(&RECORD_VERSION) => Ok(vec![StoredRecord::decode(key_seq, v)?]),
        Some(&CHUNK_VERSION) => {
            let u32_at = |at: usize| -> Option<usize> {
                let b: [u8; 4] = v.get(at..at + 4)?.try_into().ok()?;
                usize::try_from(u32::from_be_bytes(b)).ok()
            };
            let count = u32_at(1).ok_or_else(|| corrupt("chunk header is cut short"))?;
            if count == 0 {
                return Err(corrupt("chunk holds no records"));
            }
            let mut out = Vec::with_capacity(count.min(4096));
            let mut at = 5;
            for i in 0..count {
                let seq = key_seq.saturating_add(i as u64);
                let len = u32_at(at).ok_or_else(|| corrupt("chunk is cut short"))?;
                let body = v
                    .get(at + 4..at + 4 + len)
                    .ok_or_else(|| corrupt("chunk is cut short"))?;
                out.push(StoredRecord::decode(seq, body)?);
                at += 4 + len;
            }
            if at != v.len() {
                return Err(corrupt("chunk has trailing bytes"));
            }
            Ok(out)
        }
        Some(&CHUNK_LZ4_VERSION) => Err(corrupt(
            "compressed chunk read without unpack_value (a reader bug)",
        )),
        Some(other) => Err(corrupt(&format!("unknown record version {other}"))),
        None => Err(corrupt("stored value is empty")),
    }
}

/// The canonical JSON of a value (sorted keys, no whitespace), as hashed.
pub fn canonical_json<T: serde::Serialize>(v: &T) -> Result<Vec<u8>, AuditError> {
    Ok(canonical::to_vec(v)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn chunk_of(events: &[Vec<u8>]) -> Vec<u8> {
        let recs: Vec<StoredRecord<'_>> = events
            .iter()
            .enumerate()
            .map(|(i, e)| StoredRecord {
                seq: 10 + i as u64,
                time_ns: 7,
                prev: [1; 32],
                hash: [2; 32],
                event: e,
            })
            .collect();
        encode_chunk(&recs)
    }

    proptest! {
        /// Whatever the events, packing then unpacking gives the chunk back, and a
        /// packed chunk is never larger than the plain one.
        #[test]
        fn pack_then_unpack_is_the_chunk(events in proptest::collection::vec(
            proptest::collection::vec(any::<u8>(), 0..600), 1..8)) {
            let chunk = chunk_of(&events);
            let packed = pack_chunk(&chunk);
            prop_assert!(packed.len() <= chunk.len());
            let plain = unpack_value(10, &packed).expect("unpack");
            prop_assert_eq!(&plain[..], &chunk[..]);
        }
    }

    #[test]
    fn repetitive_chunks_are_compressed_and_random_ones_are_not() {
        let json = br#"{"actor":{"name":"alice","roles":["dev"]},"kind":"action_decided"}"#;
        let chunk = chunk_of(&vec![json.to_vec(); 6]);
        let packed = pack_chunk(&chunk);
        assert_eq!(packed[0], CHUNK_LZ4_VERSION);
        assert!(
            packed.len() * 2 < chunk.len(),
            "{} of {}",
            packed.len(),
            chunk.len()
        );
        assert_eq!(
            decode_value(10, &unpack_value(10, &packed).expect("unpack"))
                .expect("decode")
                .len(),
            6
        );

        let noise: Vec<u8> = (0..600).map(|_| rand::random::<u8>()).collect();
        let chunk = encode_chunk(&[StoredRecord {
            seq: 10,
            time_ns: 7,
            prev: rand::random(),
            hash: rand::random(),
            event: &noise,
        }]);
        assert!(matches!(pack_chunk(&chunk), Cow::Borrowed(_)));
    }

    #[test]
    fn decode_refuses_a_packed_chunk_that_was_not_unpacked() {
        let json = br#"{"kind":"action_decided","target":"prod-db"}"#;
        let packed = pack_chunk(&chunk_of(&vec![json.to_vec(); 8])).into_owned();
        let e = decode_value(10, &packed).expect_err("packed");
        assert!(e.to_string().contains("unpack_value"), "{e}");
    }
}
