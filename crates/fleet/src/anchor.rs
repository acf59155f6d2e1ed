//! The shared anchor chain: every replica appends its signed shipped head (an audit
//! checkpoint: ed25519 over seq, head hash and time) to `warden_audit_anchors`, and
//! each anchor hashes the one before it. Appends are serialised with a transaction
//! advisory lock, so the chain is one line across all replicas.
//!
//! An anchor names a head that is already shipped (it is written after the records it
//! seals commit): a shipped chain ending before an anchored head has lost its tail.
//! This module must never append an anchor outside the lock, nor one whose signature
//! it did not make with the replica's audit key.

use ed25519_dalek::SigningKey;
use sha2::{Digest, Sha256};
use tokio_postgres::Client;
use warden_audit::Checkpoint;

use crate::FleetError;

/// `pg_advisory_xact_lock` key of the anchor chain ("WARDEN" + 2).
const LOCK_KEY: i64 = 0x5741_5244_454e_0002;

/// Domain separation prefix of an anchor's hash.
pub const ANCHOR_DOMAIN: &[u8] = b"warden-fleet-anchor/v1\n";

/// One row of `warden_audit_anchors`, as read back.
#[derive(Debug, Clone)]
pub struct Anchor {
    pub n: u64,
    pub replica_id: String,
    pub seq: u64,
    pub head: [u8; 32],
    pub time_ns: i64,
    pub key: Vec<u8>,
    pub sig: Vec<u8>,
    pub prev_anchor: Vec<u8>,
    pub anchor_hash: Vec<u8>,
}

/// SHA-256(ANCHOR_DOMAIN || n u64 BE || prev_anchor 32 || len(replica_id) u32 BE ||
/// replica_id || seq u64 BE || head 32 || time_ns i64 BE || key 32 || sig 64).
#[allow(clippy::too_many_arguments)]
pub fn anchor_hash(
    n: u64,
    prev_anchor: &[u8],
    replica_id: &str,
    seq: u64,
    head: &[u8; 32],
    time_ns: i64,
    key: &[u8],
    sig: &[u8],
) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(ANCHOR_DOMAIN);
    h.update(n.to_be_bytes());
    h.update(prev_anchor);
    h.update((replica_id.len() as u32).to_be_bytes());
    h.update(replica_id.as_bytes());
    h.update(seq.to_be_bytes());
    h.update(head);
    h.update(time_ns.to_be_bytes());
    h.update(key);
    h.update(sig);
    h.finalize().into()
}

impl Anchor {
    /// The hash this anchor must carry, recomputed from its fields.
    pub fn computed_hash(&self) -> [u8; 32] {
        anchor_hash(
            self.n,
            &self.prev_anchor,
            &self.replica_id,
            self.seq,
            &self.head,
            self.time_ns,
            &self.key,
            &self.sig,
        )
    }

    /// The signed head as an audit checkpoint (for [`Checkpoint::check`]).
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            seq: self.seq,
            head: hex::encode(self.head),
            time: warden_audit::record::time_from_ns(self.time_ns),
            time_ns: self.time_ns,
            key: hex::encode(&self.key),
            sig: hex::encode(&self.sig),
        }
    }
}

/// Signs `(seq, head)` with `key` and appends it to the anchor chain; the anchor's
/// position `n`.
pub(crate) async fn append(
    client: &mut Client,
    replica_id: &str,
    key: &SigningKey,
    seq: u64,
    head: &[u8; 32],
) -> Result<u64, FleetError> {
    let cp = Checkpoint::sign(key, seq, head, warden_audit::record::now_ns());
    let sig = hex::decode(&cp.sig).map_err(|e| FleetError::Db(e.to_string()))?;
    let public = key.verifying_key().to_bytes();
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])
        .await?;
    let last = tx
        .query_opt(
            "SELECT n, anchor_hash FROM warden_audit_anchors ORDER BY n DESC LIMIT 1",
            &[],
        )
        .await?;
    let (prev_n, prev_hash): (i64, Vec<u8>) = match last {
        Some(row) => (row.get(0), row.get(1)),
        None => (0, vec![0u8; 32]),
    };
    let n = prev_n as u64 + 1;
    let hash = anchor_hash(
        n, &prev_hash, replica_id, seq, head, cp.time_ns, &public, &sig,
    );
    tx.execute(
        "INSERT INTO warden_audit_anchors
             (n, replica_id, seq, head, time_ns, key, sig, prev_anchor, anchor_hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        &[
            &(n as i64),
            &replica_id,
            &(seq as i64),
            &head.as_slice(),
            &cp.time_ns,
            &public.as_slice(),
            &sig,
            &prev_hash,
            &hash.as_slice(),
        ],
    )
    .await?;
    tx.commit().await?;
    Ok(n)
}
