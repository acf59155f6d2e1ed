//! The fleet schema, versioned: `warden_schema_migrations` records each applied
//! version. All migrations run in one transaction under a transaction-level advisory
//! lock, so replicas starting together apply them once and the others wait, then see
//! them applied.
//!
//! A migration is never edited once released: a change is a new, higher version. This
//! module must never apply a migration outside the lock, and never start against a
//! schema newer than it knows (an older binary would misread it).

use tokio_postgres::Client;

use crate::FleetError;

/// `pg_advisory_xact_lock` key of the migrations ("WARDEN" + 1).
const LOCK_KEY: i64 = 0x5741_5244_454e_0001;

/// The schema version this binary needs.
pub const SCHEMA_VERSION: i32 = 3;

/// (version, name, SQL), in order.
pub const MIGRATIONS: &[(i32, &str, &str)] = &[
    (1, "replicas and approvals", V1),
    (2, "shipped audit records and the anchor chain", V2),
    (
        3,
        "fleet-wide alerts: one raise per detector and subject",
        V3,
    ),
];

const V1: &str = r#"
CREATE TABLE warden_replicas (
    replica_id   text PRIMARY KEY,
    incarnation  text NOT NULL,
    started_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now(),
    lease_until  timestamptz NOT NULL
);
CREATE TABLE warden_approvals (
    id                  text PRIMARY KEY,
    state               text NOT NULL CHECK (state IN
                          ('pending','approved','denied','expired','withdrawn','executed')),
    owner_replica       text NOT NULL,
    owner_incarnation   text NOT NULL,
    retry_mode          boolean NOT NULL,
    user_name           text NOT NULL,
    target              text NOT NULL,
    created_at          timestamptz NOT NULL,
    expires_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    version             bigint NOT NULL DEFAULT 1,
    claimed_by          text,
    claimed_incarnation text,
    claimed_at          timestamptz,
    outcome             text CHECK (outcome IN ('running','completed','failed','unknown')),
    outcome_detail      text,
    outcome_at          timestamptz,
    record              jsonb NOT NULL
);
CREATE INDEX warden_approvals_live ON warden_approvals (state) WHERE state IN ('pending','approved');
CREATE INDEX warden_approvals_updated ON warden_approvals (updated_at);
CREATE TABLE warden_approval_votes (
    request_id text NOT NULL REFERENCES warden_approvals (id) ON DELETE CASCADE,
    approver   text NOT NULL,
    decision   text NOT NULL CHECK (decision IN ('approve','deny')),
    reason     text,
    replica_id text NOT NULL,
    at         timestamptz NOT NULL DEFAULT clock_timestamp(),
    UNIQUE (request_id, approver)
);
"#;

/// Every replica's audit records (copied from its own chain) and the shared anchor
/// chain of signed heads (docs/audit-format.md#fleet-mode).
const V2: &str = r#"
CREATE TABLE warden_audit_records (
    replica_id text NOT NULL,
    seq        bigint NOT NULL CHECK (seq > 0),
    time_ns    bigint NOT NULL,
    prev_hash  bytea NOT NULL,
    hash       bytea NOT NULL,
    event      text NOT NULL,
    shipped_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (replica_id, seq)
);
CREATE INDEX warden_audit_records_time ON warden_audit_records (time_ns);
CREATE TABLE warden_audit_anchors (
    n           bigint PRIMARY KEY CHECK (n > 0),
    replica_id  text NOT NULL,
    seq         bigint NOT NULL,
    head        bytea NOT NULL,
    time_ns     bigint NOT NULL,
    key         bytea NOT NULL,
    sig         bytea NOT NULL,
    prev_anchor bytea NOT NULL,
    anchor_hash bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX warden_audit_anchors_replica ON warden_audit_anchors (replica_id, n);
"#;

/// One row per detector and subject (the analytics engine's suppression key): the
/// replica whose claim wins records the `alert_raised`, the others do not
/// (docs/fleet.md#analytics-alerts-and-lockouts).
const V3: &str = r#"
CREATE TABLE warden_alerts (
    alert_key  text PRIMARY KEY,
    alert_id   text NOT NULL,
    detector   text NOT NULL,
    replica_id text NOT NULL,
    raised_ns  bigint NOT NULL,
    until_ns   bigint NOT NULL,
    claimed_at timestamptz NOT NULL DEFAULT now()
);
"#;

/// Brings the schema to [`SCHEMA_VERSION`]; a no-op when it is there already.
pub(crate) async fn apply(client: &mut Client, replica: &str) -> Result<(), FleetError> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])
        .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS warden_schema_migrations (
             version    integer PRIMARY KEY,
             name       text NOT NULL,
             applied_at timestamptz NOT NULL DEFAULT now(),
             applied_by text NOT NULL
         )",
    )
    .await?;
    let current: i32 = tx
        .query_one(
            "SELECT coalesce(max(version), 0) FROM warden_schema_migrations",
            &[],
        )
        .await?
        .get(0);
    if current > SCHEMA_VERSION {
        return Err(FleetError::Db(format!(
            "the fleet schema is at version {current}, newer than this Warden knows ({SCHEMA_VERSION}); upgrade this replica"
        )));
    }
    for (version, name, sql) in MIGRATIONS.iter().filter(|m| m.0 > current) {
        tx.batch_execute(sql).await?;
        tx.execute(
            "INSERT INTO warden_schema_migrations (version, name, applied_by) VALUES ($1, $2, $3)",
            &[version, name, &replica],
        )
        .await?;
        tracing::info!(version, name, "fleet schema migration applied");
    }
    tx.commit().await?;
    Ok(())
}
