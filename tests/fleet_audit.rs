//! Audit in fleet mode, end to end: `warden serve` replicas (the real binary) ship their
//! own hash chains into one PostgreSQL database the test creates and drops, and anchor
//! their signed heads in the shared anchor chain; `warden audit verify --fleet` checks
//! it all and names a modified row or a cut-off tail. A replica killed with `kill -9`
//! and restarted ships everything its chain holds; an outage of the fleet database
//! delays shipping, which then resumes without a gap or a duplicate.

mod cli_support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use cli_support::{
    admin_query as query, curl, fleet, run, set_accepting_connections, test_database, Database,
    Server,
};

const PW: &str = "fleet-audit-pw-1";

struct Replica {
    server: Server,
    config: PathBuf,
    health: String,
    pg: String,
}

/// Writes `<root>/<id>/warden.yaml` (its replica id from `$WARDEN_TEST_REPLICA_<id>`:
/// `replica_id_env`) and starts it.
fn start_replica(root: &Path, id: &str, fleet_db: &str) -> Replica {
    // One variable per replica: parallel tests never change a value another reads.
    std::env::set_var(format!("WARDEN_TEST_REPLICA_{id}"), id);
    let spec = fleet::ReplicaSpec {
        policy: "version: 1\nrules:\n  - name: no-drop\n    when: { sql: { statements: [drop] } }\n    action: deny\n",
        password: PW,
        extra: "",
        users: &[],
        fleet_keys: &[
            format!("replica_id_env: WARDEN_TEST_REPLICA_{id}"),
            "ship_every: 100ms".to_string(),
            "anchor_every: 1s".to_string(),
        ],
    };
    let r = fleet::start_replica(root, id, fleet_db, &spec);
    Replica {
        health: format!("http://127.0.0.1:{}/healthz", r.web_port),
        server: r.server,
        config: r.config,
        pg: r.pg,
    }
}

/// `n` statements through the replica's postgres target, as alice, in one session.
fn load(r: &Replica, db: &str, n: usize) -> std::process::Child {
    let sql: String = (0..n).map(|i| format!("SELECT {i};\n")).collect();
    let mut child = Command::new("psql")
        .arg(format!("postgresql://alice@{}/{db}?sslmode=disable", r.pg))
        .args(["-qAt", "-f", "-"])
        .env("PGPASSWORD", PW)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("psql");
    let mut stdin = child.stdin.take().expect("stdin");
    // Fed from a thread: psql reads as it runs (and may die with a killed server).
    std::thread::spawn(move || {
        use std::io::Write;
        let _ = stdin.write_all(sql.as_bytes());
    });
    child
}

fn finish(child: std::process::Child) {
    let out = child.wait_with_output().expect("psql");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The replica's local audit head (GET /healthz).
fn head_seq(r: &Replica) -> u64 {
    let (code, body) = curl(&[&r.health]);
    assert_eq!(code, "200", "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    v["audit"]["seq"].as_u64().expect("seq")
}

fn shipped(db: &str, id: &str) -> u64 {
    query(
        db,
        &format!(
            "SELECT coalesce(max(seq), 0) FROM warden_audit_records WHERE replica_id = '{id}'"
        ),
    )
    .parse()
    .expect("number")
}

/// Waits until the replica's whole local chain is in the shared table; how long it took.
fn wait_shipped(db: &str, r: &Replica, id: &str) -> Duration {
    let started = Instant::now();
    loop {
        let head = head_seq(r);
        if shipped(db, id) == head {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "replica {id}: shipped {} of {head}",
            shipped(db, id)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `warden audit verify --fleet`: exit code and stdout.
fn verify_fleet(config: &Path) -> (Option<i32>, String) {
    let (code, out, err) = run(&[
        "audit",
        "verify",
        "--fleet",
        "--config",
        config.to_str().expect("utf8"),
    ]);
    eprintln!("verify --fleet: {code:?}\n{out}{err}");
    (code, out)
}

fn setup(tag: &str) -> Option<(Database, Database)> {
    let data = test_database(&format!("warden_fleet_audit_{tag}_data"), "SELECT 1")?;
    let fleet = test_database(&format!("warden_fleet_audit_{tag}_shared"), "SELECT 1")?;
    Some((data, fleet))
}

#[test]
fn three_replicas_ship_verify_and_a_modified_row_or_a_cut_tail_is_named() {
    let Some((data, fleet)) = setup("three") else {
        return;
    };
    let root = tempfile::tempdir().expect("tempdir");
    let replicas = ["a", "b", "c"].map(|id| start_replica(root.path(), id, &fleet.0));
    for r in &replicas {
        finish(load(r, &data.0, 20));
    }
    for (r, id) in replicas.iter().zip(["a", "b", "c"]) {
        let lag = wait_shipped(&fleet.0, r, id);
        eprintln!(
            "replica {id}: {} records shipped, caught up {lag:?} after its load",
            head_seq(r)
        );
    }
    let config = replicas[0].config.clone();
    for r in replicas {
        let (code, _) = r.server.terminate();
        assert_eq!(code, Some(0));
    }
    // The graceful stop anchored each replica's final head.
    for id in ["a", "b", "c"] {
        assert_eq!(
            query(
                &fleet.0,
                &format!("SELECT max(seq) FROM warden_audit_anchors WHERE replica_id = '{id}'")
            ),
            shipped(&fleet.0, id).to_string(),
            "replica {id}'s last anchor is its shipped head"
        );
    }
    let (code, out) = verify_fleet(&config);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("ok: 3 replicas"), "{out}");

    // The fleet export: every shipped record once, merged in time order.
    let (code, export, err) = run(&[
        "audit",
        "export",
        "--fleet",
        "--config",
        config.to_str().expect("utf8"),
    ]);
    assert_eq!(code, Some(0), "{err}");
    let lines: Vec<serde_json::Value> = export
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    let total: u64 = ["a", "b", "c"].iter().map(|id| shipped(&fleet.0, id)).sum();
    assert_eq!(lines.len() as u64, total);
    assert!(
        lines
            .windows(2)
            .all(|w| w[0]["time_ns"].as_i64() <= w[1]["time_ns"].as_i64()),
        "time-ordered"
    );
    for id in ["a", "b", "c"] {
        let seqs: Vec<u64> = lines
            .iter()
            .filter(|l| l["replica"] == id)
            .map(|l| l["seq"].as_u64().expect("seq"))
            .collect();
        assert_eq!(
            seqs,
            (1..=shipped(&fleet.0, id)).collect::<Vec<_>>(),
            "{id}"
        );
    }

    // A modified row is named.
    let original = query(
        &fleet.0,
        "SELECT event FROM warden_audit_records WHERE replica_id = 'b' AND seq = 5",
    );
    query(
        &fleet.0,
        "UPDATE warden_audit_records SET event = replace(event, 'alice', 'mallory') WHERE replica_id = 'b' AND seq = 5",
    );
    assert_ne!(
        query(
            &fleet.0,
            "SELECT event FROM warden_audit_records WHERE replica_id = 'b' AND seq = 5"
        ),
        original,
        "the test changed the row"
    );
    let (code, out) = verify_fleet(&config);
    assert_eq!(code, Some(3), "{out}");
    assert!(
        out.contains("FAILED: replica `b`, sequence 5: its hash does not match its contents"),
        "{out}"
    );
    assert!(!out.contains("replica `a`, sequence"), "{out}");
    query(
        &fleet.0,
        &format!(
            "UPDATE warden_audit_records SET event = '{}' WHERE replica_id = 'b' AND seq = 5",
            original.replace('\'', "''")
        ),
    );
    assert_eq!(verify_fleet(&config).0, Some(0), "restored");

    // A cut-off tail is named: the anchors reach beyond it.
    let tail = shipped(&fleet.0, "c");
    query(
        &fleet.0,
        &format!(
            "DELETE FROM warden_audit_records WHERE replica_id = 'c' AND seq > {}",
            tail - 3
        ),
    );
    let (code, out) = verify_fleet(&config);
    assert_eq!(code, Some(3), "{out}");
    assert!(
        out.contains(&format!(
            "FAILED: replica `c`, sequence {}: truncated: ",
            tail - 2
        )) && out.contains(&format!(
            "names sequence {tail} but the shipped chain ends at {}",
            tail - 3
        )),
        "{out}"
    );
}

#[test]
fn a_replica_killed_under_load_ships_its_whole_chain_after_restart() {
    let Some((data, fleet)) = setup("kill") else {
        return;
    };
    let root = tempfile::tempdir().expect("tempdir");
    let a = start_replica(root.path(), "a", &fleet.0);
    let mut client = load(&a, &data.0, 100_000);
    std::thread::sleep(Duration::from_millis(1000));
    // Written by now, and durable once the queued window (50 ms) has passed.
    let before = head_seq(&a);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        client.try_wait().expect("wait").is_none(),
        "still under load"
    );
    let at_kill = (head_seq(&a), shipped(&fleet.0, "a"));
    a.server.signal("-KILL");
    let _ = finish_killed(client);
    drop(a);
    eprintln!(
        "killed under load at local head ~{}, {} shipped then",
        at_kill.0, at_kill.1
    );

    let shipped_before = shipped(&fleet.0, "a");
    let restarted = Instant::now();
    let a = start_replica(root.path(), "a", &fleet.0);
    let head = head_seq(&a);
    assert!(
        head >= before,
        "the restarted chain holds what was acknowledged: {head} < {before}"
    );
    wait_shipped(&fleet.0, &a, "a");
    eprintln!(
        "after restart: local head {head}, a backlog of {} shipped {:?} after the restart began (lease wait included)",
        head - shipped_before,
        restarted.elapsed()
    );
    let config = a.config.clone();
    let audit = config.parent().expect("dir").join("data/audit");
    let (code, _) = a.server.terminate();
    assert_eq!(code, Some(0));
    let (code, out) = verify_fleet(&config);
    assert_eq!(code, Some(0), "{out}");

    // Every record of the local chain is in PostgreSQL, with its hash, exactly once.
    let (code, export, err) = run(&["audit", "export", "--path", audit.to_str().expect("utf8")]);
    assert_eq!(code, Some(0), "{err}");
    let local: Vec<String> = export
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json");
            format!("{}|{}", v["seq"], v["hash"].as_str().expect("hash"))
        })
        .collect();
    let remote: Vec<String> = query(
        &fleet.0,
        "SELECT seq || '|' || encode(hash, 'hex') FROM warden_audit_records WHERE replica_id = 'a' ORDER BY seq",
    )
    .lines()
    .map(str::to_string)
    .collect();
    assert!(local.len() as u64 >= before, "{} < {before}", local.len());
    assert_eq!(local, remote);
}

/// A psql whose server was killed: its output, whatever the status.
fn finish_killed(child: std::process::Child) -> std::process::Output {
    child.wait_with_output().expect("psql")
}

#[test]
fn an_outage_of_the_fleet_database_delays_shipping_which_resumes_without_duplicates() {
    let Some((data, fleet)) = setup("down") else {
        return;
    };
    let root = tempfile::tempdir().expect("tempdir");
    let a = start_replica(root.path(), "a", &fleet.0);
    finish(load(&a, &data.0, 10));
    wait_shipped(&fleet.0, &a, "a");
    let before = shipped(&fleet.0, "a");

    set_accepting_connections(&fleet.0, false);
    // Statements needing no approval go on; their records wait in the local chain.
    finish(load(&a, &data.0, 50));
    std::thread::sleep(Duration::from_secs(2));
    let during = head_seq(&a);
    assert!(during > before + 50, "{during} <= {before} + 50");
    set_accepting_connections(&fleet.0, true);
    let lag = wait_shipped(&fleet.0, &a, "a");
    eprintln!(
        "{} records shipped {lag:?} after the database came back",
        during - before
    );
    assert_eq!(
        query(
            &fleet.0,
            "SELECT count(*) = max(seq) AND min(seq) = 1 FROM warden_audit_records WHERE replica_id = 'a'"
        ),
        "t",
        "no gap, no duplicate"
    );
    let config = a.config.clone();
    let (code, _) = a.server.terminate();
    assert_eq!(code, Some(0));
    assert_eq!(verify_fleet(&config).0, Some(0));
}
