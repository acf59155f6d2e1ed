//! The fleet-wide audit query (`GET /api/v1/audit?fleet=true`) end to end: two real
//! `warden serve` replicas ship their chains to one PostgreSQL database; either one's API
//! answers with both replicas' records in one time order (newest first), each naming its
//! replica, filtered like a local query and paged with the `next` cursor without a gap
//! or a repeat. A gateway without `fleet:` refuses the question instead of answering
//! from its own chain.

mod cli_support;

use std::process::Command;
use std::time::{Duration, Instant};

use cli_support::{admin_query, curl, fleet, test_database};

const PW: &str = "fleet-query-pw-1";

struct Replica {
    _server: cli_support::Server,
    id: String,
    web: String,
    pg: String,
}

fn start(root: &std::path::Path, id: &str, fleet_db: &str) -> Replica {
    let spec = fleet::ReplicaSpec {
        policy: "version: 1\nrules:\n  - name: no-drop\n    when: { sql: { statements: [drop] } }\n    action: deny\n",
        password: PW,
        users: &[("vera", "viewer")],
        fleet_keys: &[format!("replica_id: {id}"), "ship_every: 100ms".to_string()],
        extra: "",
    };
    let r = fleet::start_replica(root, id, fleet_db, &spec);
    Replica {
        _server: r.server,
        id: id.to_string(),
        web: format!("http://127.0.0.1:{}", r.web_port),
        pg: r.pg,
    }
}

/// `sql` as alice through the replica's postgres target.
fn psql(r: &Replica, db: &str, sql: &str) {
    let out = Command::new("psql")
        .arg(format!("postgresql://alice@{}/{db}?sslmode=disable", r.pg))
        .args(["-w", "-qAtc", sql])
        .env("PGPASSWORD", PW)
        .output()
        .expect("psql");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// GET `path` on the replica's API as vera (viewer): status and JSON.
fn get(r: &Replica, path: &str) -> (String, serde_json::Value) {
    let (code, body) = curl(&["-u", &format!("vera:{PW}"), &format!("{}{path}", r.web)]);
    let v = serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body));
    (code, v)
}

/// Waits until the replica's whole chain (its /healthz head) is in the shared table.
fn wait_shipped(fleet_db: &str, r: &Replica) {
    let started = Instant::now();
    loop {
        let (_, health) = get(r, "/healthz");
        let head = health["audit"]["seq"].as_u64().expect("seq");
        let shipped: u64 = admin_query(
            fleet_db,
            &format!(
                "SELECT coalesce(max(seq), 0) FROM warden_audit_records WHERE replica_id = '{}'",
                r.id
            ),
        )
        .parse()
        .expect("number");
        if shipped >= head {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{} not shipped",
            r.id
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn records(v: &serde_json::Value) -> Vec<serde_json::Value> {
    v["records"].as_array().expect("records").clone()
}

/// (replica, seq) of each record: a record's identity in the fleet.
fn ids(recs: &[serde_json::Value]) -> Vec<(String, u64)> {
    recs.iter()
        .map(|r| {
            (
                r["replica"].as_str().expect("replica").to_string(),
                r["seq"].as_u64().expect("seq"),
            )
        })
        .collect()
}

#[test]
fn both_replicas_records_in_one_time_order_filtered_and_paged() {
    let Some(data) = test_database("warden_fleet_query_data", "SELECT 1") else {
        return;
    };
    let Some(shared) = test_database("warden_fleet_query_shared", "SELECT 1") else {
        return;
    };
    let root = tempfile::tempdir().expect("tempdir");
    let tag = std::process::id();
    let a = start(root.path(), &format!("fq-a-{tag}"), &shared.0);
    let b = start(root.path(), &format!("fq-b-{tag}"), &shared.0);
    psql(&a, &data.0, "SELECT 'first-on-a'");
    psql(&b, &data.0, "SELECT 'then-on-b'");
    psql(&a, &data.0, "SELECT 'last-on-a'");
    wait_shipped(&shared.0, &a);
    wait_shipped(&shared.0, &b);

    // Replica a answers for the whole fleet, newest first.
    let (code, all) = get(&a, "/api/v1/audit?fleet=true&limit=1000");
    assert_eq!(code, "200", "{all}");
    let all = records(&all);
    let at = |needle: &str| {
        all.iter()
            .position(|r| r["event"]["action"]["raw"].as_str() == Some(needle))
            .unwrap_or_else(|| panic!("{needle} not in the fleet query"))
    };
    let (first, then, last) = (
        at("SELECT 'first-on-a'"),
        at("SELECT 'then-on-b'"),
        at("SELECT 'last-on-a'"),
    );
    assert!(
        last < then && then < first,
        "not newest first: {last} {then} {first}"
    );
    assert_eq!(all[then]["replica"], b.id.as_str());
    assert_eq!(all[first]["replica"], a.id.as_str());
    let times: Vec<&str> = all
        .iter()
        .map(|r| r["time"].as_str().expect("time"))
        .collect();
    let parsed: Vec<time::OffsetDateTime> = times
        .iter()
        .map(|t| {
            time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                .expect("rfc3339")
        })
        .collect();
    assert!(
        parsed.windows(2).all(|w| w[0] >= w[1]),
        "time order: {times:?}"
    );
    // The local query of a does not see b's records.
    let (code, local) = get(&a, "/api/v1/audit?limit=1000");
    assert_eq!(code, "200");
    assert!(!local.to_string().contains("then-on-b"), "{local}");

    // Filters as in a local query.
    let (code, found) = get(&a, "/api/v1/audit?fleet=true&q=then-on-b");
    assert_eq!(code, "200", "{found}");
    let found = records(&found);
    assert!(!found.is_empty());
    assert!(found
        .iter()
        .all(|r| r["replica"] == b.id.as_str() && r.to_string().contains("then-on-b")));
    let (_, vera) = get(&b, "/api/v1/audit?fleet=true&user=nobody-here");
    assert!(records(&vera).is_empty(), "{vera}");

    // Pages of 2 with the cursor cover the same records, in the same order, once each.
    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..all.len() + 1 {
        let path = match &cursor {
            None => "/api/v1/audit?fleet=true&limit=2".to_string(),
            Some(c) => format!("/api/v1/audit?fleet=true&limit=2&cursor={c}"),
        };
        let (code, page) = get(&b, &path);
        assert_eq!(code, "200", "{page}");
        paged.extend(records(&page));
        match page["next"].as_str() {
            Some(c) => cursor = Some(c.replace(':', "%3A")),
            None => break,
        }
    }
    // Records appended after `all` was read come first in the pages: skip them, then the
    // pages must be exactly `all`.
    let all_ids = ids(&all);
    let paged_ids = ids(&paged);
    let tail: Vec<_> = paged_ids
        .iter()
        .skip_while(|id| !all_ids.contains(id))
        .cloned()
        .collect();
    assert_eq!(tail, all_ids, "paging lost or repeated records");

    // Questions it cannot answer are refused with the reason.
    let (code, bad) = get(&a, "/api/v1/audit?fleet=true&cursor=yesterday");
    assert_eq!(code, "400", "{bad}");
    assert!(bad.to_string().contains("not a fleet cursor"), "{bad}");
    let (code, bad) = get(&a, "/api/v1/audit?fleet=true&after=5");
    assert_eq!(code, "400", "{bad}");
    let (code, bad) = get(&a, "/api/v1/audit?cursor=1%3A2%3Ax");
    assert_eq!(code, "400", "{bad}");
}

#[test]
fn a_gateway_without_fleet_refuses_a_fleet_query() {
    let dir = tempfile::tempdir().expect("tempdir");
    let web = cli_support::free_port();
    let hash = cli_support::cheap_password_hash(PW);
    let cfg = cli_support::write_config(
        dir.path(),
        web,
        &format!("users:\n  - {{ name: vera, roles: [viewer], password_hash: \"{hash}\" }}\n"),
    );
    let server = cli_support::Server::start(&["serve", "--config", cfg.to_str().expect("utf8")]);
    server.wait_stdout("console listening on", Duration::from_secs(60));
    let (code, body) = curl(&[
        "-u",
        &format!("vera:{PW}"),
        &format!("http://127.0.0.1:{web}/api/v1/audit?fleet=true"),
    ]);
    assert_eq!(code, "400", "{body}");
    assert!(body.contains("needs fleet mode"), "{body}");
}
