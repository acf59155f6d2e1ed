//! Fleet verification: every replica's shipped chain in `warden_audit_records` (hash of
//! each record, links, sequences from 1 without gaps) and the shared anchor chain in
//! `warden_audit_anchors` (links, signatures, one key per replica), then each anchor
//! against the shipped chain it names: an anchored head the chain does not reach is a
//! truncation, an anchored head that differs is a rewrite.
//!
//! Read-only, and it takes no lease: it must never write to the database and never
//! report a chain as intact that it did not walk to its end.

use std::collections::BTreeMap;

use ed25519_dalek::VerifyingKey;
use serde::Serialize;
use tokio_postgres::Client;
use warden_audit::layout::record_hash;

use crate::anchor::Anchor;
use crate::FleetError;

/// Rows read per round trip.
const PAGE: i64 = 10_000;

/// One thing wrong, with where.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    pub replica_id: String,
    /// The record sequence (or, for the anchor chain itself, the anchor's position `n`).
    pub seq: u64,
    pub what: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "replica `{}`, sequence {}: {}",
            self.replica_id, self.seq, self.what
        )
    }
}

/// One replica's shipped chain.
#[derive(Debug, Clone, Serialize)]
pub struct ReplicaChain {
    pub replica_id: String,
    /// Records walked.
    pub records: u64,
    /// The last record of the chain intact from sequence 1.
    pub intact_to: u64,
    /// The highest anchored sequence.
    pub anchored: u64,
    /// Hex public key of its anchors.
    pub key: Option<String>,
}

/// What [`verify`] found.
#[derive(Debug, Clone, Serialize)]
pub struct FleetReport {
    pub ok: bool,
    pub replicas: Vec<ReplicaChain>,
    pub anchors: u64,
    pub problems: Vec<Problem>,
}

/// Walks every shipped chain and the anchor chain in the database behind `client`.
pub async fn verify(client: &Client) -> Result<FleetReport, FleetError> {
    let mut problems = Vec::new();
    let anchors = read_anchors(client).await?;
    let by_replica = check_anchor_chain(&anchors, &mut problems);
    let mut ids: Vec<String> = client
        .query("SELECT DISTINCT replica_id FROM warden_audit_records", &[])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    ids.extend(by_replica.keys().cloned());
    ids.sort();
    ids.dedup();
    let mut replicas = Vec::new();
    for id in ids {
        let anchored = by_replica.get(&id);
        let mut chain = walk_replica(client, &id, anchored, &mut problems).await?;
        if let Some(a) = anchored {
            chain.anchored = a.heads.keys().next_back().copied().unwrap_or(0);
            chain.key = Some(hex::encode(&a.key));
            check_truncation(&chain, a, &mut problems);
        }
        replicas.push(chain);
    }
    Ok(FleetReport {
        ok: problems.is_empty(),
        replicas,
        anchors: anchors.len() as u64,
        problems,
    })
}

/// One replica's anchors: its key and the heads it anchored (seq → (head, anchor n)).
struct Anchored {
    key: Vec<u8>,
    heads: BTreeMap<u64, ([u8; 32], u64)>,
}

async fn read_anchors(client: &Client) -> Result<Vec<Anchor>, FleetError> {
    let rows = client
        .query(
            "SELECT n, replica_id, seq, head, time_ns, key, sig, prev_anchor, anchor_hash
               FROM warden_audit_anchors ORDER BY n",
            &[],
        )
        .await?;
    rows.iter()
        .map(|r| {
            let head: Vec<u8> = r.get(3);
            Ok(Anchor {
                n: r.get::<_, i64>(0) as u64,
                replica_id: r.get(1),
                seq: r.get::<_, i64>(2) as u64,
                head: head.try_into().map_err(|_| {
                    FleetError::Db(format!(
                        "anchor {} has a malformed head",
                        r.get::<_, i64>(0)
                    ))
                })?,
                time_ns: r.get(4),
                key: r.get(5),
                sig: r.get(6),
                prev_anchor: r.get(7),
                anchor_hash: r.get(8),
            })
        })
        .collect()
}

/// Links, hashes and signatures of the anchor chain; the anchors grouped by replica
/// (up to the first broken anchor: nothing after it is trusted).
fn check_anchor_chain(
    anchors: &[Anchor],
    problems: &mut Vec<Problem>,
) -> BTreeMap<String, Anchored> {
    let mut out: BTreeMap<String, Anchored> = BTreeMap::new();
    let mut prev = vec![0u8; 32];
    for (i, a) in anchors.iter().enumerate() {
        let bad = |what: String| Problem {
            replica_id: a.replica_id.clone(),
            seq: a.n,
            what: format!("anchor {}: {what}", a.n),
        };
        let problem = if a.n != i as u64 + 1 {
            Some(bad(format!(
                "expected anchor {} here (anchors deleted?)",
                i + 1
            )))
        } else if a.prev_anchor != prev {
            Some(bad("does not link to the previous anchor".into()))
        } else if a.computed_hash().as_slice() != a.anchor_hash.as_slice() {
            Some(bad("its hash does not match its fields (modified)".into()))
        } else {
            signature_problem(a).map(bad)
        };
        if let Some(p) = problem {
            problems.push(p);
            break;
        }
        prev = a.anchor_hash.clone();
        let entry = out.entry(a.replica_id.clone()).or_insert_with(|| Anchored {
            key: a.key.clone(),
            heads: BTreeMap::new(),
        });
        if entry.key != a.key {
            problems.push(bad(format!(
                "signed by key {}, not by the replica's earlier key {}",
                hex::encode(&a.key),
                hex::encode(&entry.key)
            )));
            break;
        }
        if let Some((&last, _)) = entry.heads.iter().next_back() {
            if a.seq < last {
                problems.push(bad(format!(
                    "anchors sequence {} after sequence {last}: the replica's chain went back (a replaced or truncated store)",
                    a.seq
                )));
            }
        }
        entry.heads.insert(a.seq, (a.head, a.n));
    }
    out
}

fn signature_problem(a: &Anchor) -> Option<String> {
    let key: [u8; 32] = match a.key.as_slice().try_into() {
        Ok(k) => k,
        Err(_) => return Some("malformed key".into()),
    };
    match VerifyingKey::from_bytes(&key) {
        Ok(k) => a.checkpoint().check(&k).err(),
        Err(_) => Some("malformed key".into()),
    }
}

/// Walks one replica's records from sequence 1, checking each anchored head on the
/// way; stops at its first problem.
async fn walk_replica(
    client: &Client,
    id: &str,
    anchored: Option<&Anchored>,
    problems: &mut Vec<Problem>,
) -> Result<ReplicaChain, FleetError> {
    let mut chain = ReplicaChain {
        replica_id: id.to_string(),
        records: 0,
        intact_to: 0,
        anchored: 0,
        key: None,
    };
    let mut prev = [0u8; 32];
    'pages: loop {
        let rows = client
            .query(
                "SELECT seq, time_ns, prev_hash, hash, event FROM warden_audit_records
                  WHERE replica_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
                &[&id, &(chain.intact_to as i64), &PAGE],
            )
            .await?;
        if rows.is_empty() {
            break;
        }
        for r in &rows {
            let seq = r.get::<_, i64>(0) as u64;
            let (time_ns, stored_prev, hash, event): (i64, Vec<u8>, Vec<u8>, String) =
                (r.get(1), r.get(2), r.get(3), r.get(4));
            chain.records += 1;
            let what = if seq != chain.intact_to + 1 {
                Some(format!(
                    "missing: the shipped chain jumps from sequence {} to {seq}",
                    chain.intact_to
                ))
            } else if stored_prev.as_slice() != prev.as_slice() {
                Some("its previous hash does not link to the record before it".into())
            } else if record_hash(seq, time_ns, &prev, event.as_bytes()).as_slice()
                != hash.as_slice()
            {
                Some("its hash does not match its contents (the row was modified)".into())
            } else {
                anchored
                    .and_then(|a| a.heads.get(&seq))
                    .filter(|(head, _)| head.as_slice() != hash.as_slice())
                    .map(|(_, n)| {
                        format!("differs from the head anchor {n} signed (the chain was rewritten)")
                    })
            };
            if let Some(what) = what {
                problems.push(Problem {
                    replica_id: id.to_string(),
                    seq: if seq == chain.intact_to + 1 {
                        seq
                    } else {
                        chain.intact_to + 1
                    },
                    what,
                });
                break 'pages;
            }
            prev = hash.try_into().unwrap_or([0u8; 32]);
            chain.intact_to = seq;
        }
    }
    Ok(chain)
}

/// The highest anchored head must be within the intact chain: otherwise its tail is
/// gone (reported only when the chain itself walked clean).
fn check_truncation(chain: &ReplicaChain, anchored: &Anchored, problems: &mut Vec<Problem>) {
    let Some((&top, &(_, top_n))) = anchored.heads.iter().next_back() else {
        return;
    };
    let broken_here = problems.iter().any(|p| p.replica_id == chain.replica_id);
    if top > chain.intact_to && !broken_here {
        problems.push(Problem {
            replica_id: chain.replica_id.clone(),
            seq: chain.intact_to + 1,
            what: format!(
                "truncated: anchor {top_n} names sequence {top} but the shipped chain ends at {}",
                chain.intact_to
            ),
        });
    }
}
