//! Read one postgres target's schema and privileges from the catalogs into a
//! [`Fingerprint`]: tables (and views), columns, indexes, roles, role memberships and
//! table grants. It logs in with the target's own upstream credentials through the
//! postgres front-end's upstream login (TLS, SCRAM, md5, as configured) and runs only
//! `SELECT`s on `pg_catalog`, in one read-only transaction.
//!
//! Must never write anything upstream, never print the upstream password, and never
//! hand back a partial fingerprint: any failed query fails the whole read.

use std::collections::BTreeMap;

use bytes::BytesMut;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use warden_config::TargetConfig;
use warden_frontend_postgres::codec::{self, Body};
use warden_frontend_postgres::upstream::{self, Upstream, UpstreamSpec};

/// What one fact is about, for attributing a change to an audited statement.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Subject {
    Table { schema: String, name: String },
    Roles(Vec<String>),
}

/// The kind of one fact; decides how its change reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FactKind {
    Table,
    Column,
    Index,
    Role,
    Membership,
    Grant,
}

/// One catalog fact: `key` names it (`table public.orders: column discount`), `value`
/// is what may change about it (the column's type).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fact {
    pub kind: FactKind,
    pub subject: Subject,
    pub value: String,
}

/// Every fact by key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fingerprint {
    pub facts: BTreeMap<String, Fact>,
}

const USER_SCHEMAS: &str = "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'";

fn queries() -> [(FactKind, String); 6] {
    [
        (FactKind::Table, format!(
            "SELECT n.nspname, c.relname, c.relkind::text FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r','p','v','m','f') AND {USER_SCHEMAS}"
        )),
        (FactKind::Column, format!(
            "SELECT n.nspname, c.relname, a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r','p','v','m','f') AND {USER_SCHEMAS}"
        )),
        (FactKind::Index, format!(
            "SELECT n.nspname, t.relname, i.relname, pg_catalog.pg_get_indexdef(i.oid) FROM pg_catalog.pg_index x JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid JOIN pg_catalog.pg_class t ON t.oid = x.indrelid JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace WHERE {USER_SCHEMAS}"
        )),
        (FactKind::Role, "SELECT r.rolname, concat_ws(', ', CASE WHEN r.rolcanlogin THEN 'login' END, CASE WHEN r.rolsuper THEN 'superuser' END, CASE WHEN r.rolcreaterole THEN 'createrole' END, CASE WHEN r.rolcreatedb THEN 'createdb' END, CASE WHEN r.rolreplication THEN 'replication' END, CASE WHEN r.rolbypassrls THEN 'bypassrls' END) FROM pg_catalog.pg_roles r WHERE r.rolname NOT LIKE 'pg\\_%'".to_string()),
        (FactKind::Membership, "SELECT m.rolname, r.rolname FROM pg_catalog.pg_auth_members am JOIN pg_catalog.pg_roles r ON r.oid = am.roleid JOIN pg_catalog.pg_roles m ON m.oid = am.member WHERE r.rolname NOT LIKE 'pg\\_%'".to_string()),
        (FactKind::Grant, format!(
            "SELECT n.nspname, c.relname, a.privilege_type, coalesce(g.rolname, 'PUBLIC') FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace CROSS JOIN LATERAL pg_catalog.aclexplode(c.relacl) a LEFT JOIN pg_catalog.pg_roles g ON g.oid = a.grantee WHERE c.relacl IS NOT NULL AND a.grantee <> c.relowner AND c.relkind IN ('r','p','v','m','f') AND {USER_SCHEMAS}"
        )),
    ]
}

fn table(schema: &str, name: &str) -> Subject {
    Subject::Table {
        schema: schema.to_string(),
        name: name.to_string(),
    }
}

fn relkind(k: &str) -> &'static str {
    match k {
        "r" => "table",
        "p" => "partitioned table",
        "v" => "view",
        "m" => "materialized view",
        "f" => "foreign table",
        _ => "relation",
    }
}

/// One row's fact, or `None` for a row of the wrong shape.
fn fact(kind: FactKind, row: &[String]) -> Option<(String, Fact)> {
    let f = |subject, value: &str| Fact {
        kind,
        subject,
        value: value.to_string(),
    };
    Some(match (kind, row) {
        (FactKind::Table, [s, t, k]) => (format!("table {s}.{t}"), f(table(s, t), relkind(k))),
        (FactKind::Column, [s, t, c, ty]) => {
            (format!("table {s}.{t}: column {c}"), f(table(s, t), ty))
        }
        (FactKind::Index, [s, t, i, def]) => {
            (format!("table {s}.{t}: index {i}"), f(table(s, t), def))
        }
        (FactKind::Role, [r, attrs]) => (
            format!("role {r}"),
            f(Subject::Roles(vec![r.clone()]), attrs),
        ),
        (FactKind::Membership, [m, r]) => (
            format!("role {m}: member of {r}"),
            f(Subject::Roles(vec![m.clone(), r.clone()]), ""),
        ),
        (FactKind::Grant, [s, t, p, g]) => {
            (format!("table {s}.{t}: {p} to {g}"), f(table(s, t), ""))
        }
        _ => return None,
    })
}

impl Fingerprint {
    /// SHA-256 over every fact, for the `upstream_fingerprinted` record.
    pub fn digest(&self) -> String {
        let mut h = Sha256::new();
        for (k, f) in &self.facts {
            h.update(k.as_bytes());
            h.update([0]);
            h.update(f.value.as_bytes());
            h.update([0]);
        }
        super::super::files::sha256_hex(&h.finalize())
    }

    /// `12 tables, 40 columns, ...` for the record.
    pub fn counts(&self) -> String {
        let n = |k: FactKind| self.facts.values().filter(|f| f.kind == k).count();
        format!(
            "{} tables, {} columns, {} indexes, {} roles, {} role memberships, {} table grants",
            n(FactKind::Table),
            n(FactKind::Column),
            n(FactKind::Index),
            n(FactKind::Role),
            n(FactKind::Membership),
            n(FactKind::Grant)
        )
    }
}

/// The login the front-end would make for this target, into `database`.
fn spec(target: &TargetConfig) -> Result<UpstreamSpec, String> {
    let tls = target
        .upstream_tls
        .as_ref()
        .map(|t| warden_frontend_postgres::tls::client_config(t, &target.upstream))
        .transpose()
        .map_err(|e| format!("upstream TLS: {e}"))?;
    Ok(UpstreamSpec {
        addr: target.upstream.clone(),
        user: target
            .upstream_user
            .clone()
            .unwrap_or_else(|| "postgres".into()),
        password: target
            .upstream_password
            .as_ref()
            .map(|s| s.expose().to_owned()),
        database: None,
        tls,
        connect_timeout: target.postgres.connect_timeout(),
    })
}

/// The database a target's drift poll reads.
pub fn database(target: &TargetConfig) -> String {
    let o = &target.postgres;
    o.drift
        .database
        .clone()
        .or_else(|| o.database.clone())
        .unwrap_or_else(|| "postgres".into())
}

/// Run one simple query; every row's columns as text (NULL as empty).
async fn rows(up: &mut Upstream, sql: &str) -> Result<Vec<Vec<String>>, String> {
    let mut out = BytesMut::new();
    codec::query(&mut out, sql);
    let io = up.reader.get_mut();
    io.write_all(&out).await.map_err(|e| e.to_string())?;
    io.flush().await.map_err(|e| e.to_string())?;
    let mut rows = Vec::new();
    let mut error = None;
    loop {
        let frame = up
            .reader
            .read_frame()
            .await
            .map_err(|e| e.to_string())?
            .ok_or("the server closed the connection")?;
        match frame.tag {
            b'D' => rows.push(data_row(frame.body).map_err(|e| e.to_string())?),
            b'E' => {
                let (code, message) = codec::parse_report(&frame.body);
                error = Some(format!(
                    "{} ({})",
                    message.unwrap_or_default(),
                    code.unwrap_or_default()
                ));
            }
            b'Z' => break,
            _ => {}
        }
    }
    match error {
        Some(e) => Err(e),
        None => Ok(rows),
    }
}

fn data_row(body: bytes::Bytes) -> Result<Vec<String>, warden_frontend_postgres::PgError> {
    let mut b = Body::new(body);
    let n = b.count16()?;
    let mut cols = Vec::with_capacity(n);
    for _ in 0..n {
        let len = b.i32()?;
        if len < 0 {
            cols.push(String::new());
        } else {
            cols.push(String::from_utf8_lossy(&b.bytes(len as usize)?).into_owned());
        }
    }
    Ok(cols)
}

/// Log in upstream and read the fingerprint.
pub async fn read(target: &TargetConfig) -> Result<Fingerprint, String> {
    let spec = spec(target)?;
    let db = database(target);
    let extra = [("application_name".to_string(), "warden-drift".to_string())];
    let mut up = upstream::connect(&spec, &db, &extra, 64 * 1024 * 1024)
        .await
        .map_err(|e| format!("{}: {e}", target.upstream))?;
    rows(&mut up, "BEGIN READ ONLY").await?;
    let mut fp = Fingerprint::default();
    for (kind, sql) in queries() {
        for row in rows(&mut up, &sql).await? {
            if let Some((key, fact)) = fact(kind, &row) {
                fp.facts.insert(key, fact);
            }
        }
    }
    rows(&mut up, "COMMIT").await?;
    // Terminate, politely; the connection closes either way when `up` is dropped.
    let _ = up.reader.get_mut().write_all(&[b'X', 0, 0, 0, 4]).await;
    Ok(fp)
}
