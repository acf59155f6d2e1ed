//! Fleet mode end to end: three `warden serve` processes (the real binary, loopback
//! ports, separate data folders) share their approvals in one PostgreSQL database that
//! the test creates and drops. A DELETE held on replica A is approved through replica
//! B's API, runs on A exactly once, and B and C show it executed; concurrent approvals
//! yield one decision; an unreachable fleet database refuses holds and recovers.

mod cli_support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cli_support::{
    admin_query as query, curl, fleet, run, set_accepting_connections, test_database,
    wait_pending_approval, Database, Server,
};

const PW: &str = "fleet-test-pw-1";

struct Replica {
    server: Server,
    /// The replica's audit store (`audit.path`).
    audit: std::path::PathBuf,
    api: String,
    pg: String,
}

fn start_replica(root: &std::path::Path, id: &str, fleet_db: &str) -> Replica {
    let spec = fleet::ReplicaSpec {
        policy: "version: 1\nrules:\n  - name: unbounded-delete\n    when: { protocol: postgres, sql: { statements: [delete], without_where: true } }\n    action: hold\n    approval: { approvers: { roles: [dba] }, required: 1, timeout: 2m }\n",
        password: PW,
        extra: "",
        users: &[("bob", "dba"), ("carol", "dba")],
        fleet_keys: &[format!("replica_id: {id}")],
    };
    let r = fleet::start_replica(root, id, fleet_db, &spec);
    Replica {
        audit: r.dir.join("data/audit"),
        api: format!("http://127.0.0.1:{}/api/v1/approvals", r.web_port),
        server: r.server,
        pg: r.pg,
    }
}

/// `psql` as alice through a replica's postgres target, running in the background.
fn psql(r: &Replica, db: &str, sql: &str) -> Child {
    Command::new("psql")
        .arg(format!("postgresql://alice@{}/{db}?sslmode=disable", r.pg))
        .args(["-qAtc", sql])
        .env("PGPASSWORD", PW)
        .env("PGCONNECT_TIMEOUT", "10")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("psql")
}

fn finish(mut child: Child, within: Duration) -> std::process::Output {
    let deadline = Instant::now() + within;
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("psql did not finish");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("output")
}

/// POST approve as `who`; the status code and body.
fn approve_as(api: &str, who: &str, id: &str) -> (String, String) {
    curl(&[
        "-u",
        &format!("{who}:{PW}"),
        "-X",
        "POST",
        "-H",
        "content-type: application/json",
        "-d",
        "{\"reason\":\"fleet test\"}",
        &format!("{api}/{id}/approve"),
    ])
}

/// Waits until `api` reports request `id` with `state` (bounded); returns its JSON.
fn wait_state(api: &str, id: &str, state: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (code, body) = curl(&["-u", &format!("bob:{PW}"), &format!("{api}/{id}")]);
        if code == "200" {
            let v: serde_json::Value = serde_json::from_str(&body).expect("json");
            if v["state"] == state {
                return v;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{api}/{id} never became {state}: {code} {body}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn wait_sql(db: &str, sql: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let got = query(db, sql);
        if got == want {
            return;
        }
        assert!(Instant::now() < deadline, "{sql}: {got:?}, wanted {want:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn setup(tag: &str) -> Option<(Database, Database)> {
    let data = test_database(
        &format!("warden_fleet_{tag}_data"),
        "CREATE TABLE accounts(id int); INSERT INTO accounts VALUES (1),(2),(3);
         CREATE TABLE delete_runs(n serial PRIMARY KEY, at timestamptz DEFAULT now());
         CREATE FUNCTION count_delete() RETURNS trigger LANGUAGE plpgsql AS
           $$ BEGIN INSERT INTO delete_runs DEFAULT VALUES; RETURN NULL; END $$;
         CREATE TRIGGER counted AFTER DELETE ON accounts
           FOR EACH STATEMENT EXECUTE FUNCTION count_delete();",
    )?;
    let fleet = test_database(&format!("warden_fleet_{tag}_shared"), "SELECT 1")?;
    Some((data, fleet))
}

#[test]
fn a_delete_held_on_a_is_approved_on_b_runs_once_on_a_and_one_decision_wins() {
    let Some((data, fleet)) = setup("three") else {
        return;
    };
    let root = tempfile::tempdir().expect("tempdir");
    let started = Instant::now();
    let [a, b, c] = ["a", "b", "c"].map(|id| start_replica(root.path(), id, &fleet.0));
    eprintln!("3 replicas up in {:?}", started.elapsed());
    assert_eq!(
        query(
            &fleet.0,
            "SELECT max(version) FROM warden_schema_migrations"
        ),
        "3"
    );
    assert_eq!(
        query(&fleet.0, "SELECT string_agg(replica_id, ',' ORDER BY replica_id) FROM warden_replicas WHERE lease_until > now()"),
        "a,b,c"
    );

    // Held on A, seen and approved on B.
    let client = psql(&a, &data.0, "DELETE FROM accounts");
    let id = wait_pending_approval(&b.api, &format!("bob:{PW}"));
    assert_eq!(
        query(&data.0, "SELECT count(*) FROM accounts"),
        "3",
        "nothing ran before approval"
    );
    let decided = Instant::now();
    let (code, body) = approve_as(&b.api, "bob", &id);
    assert_eq!(code, "200", "{body}");
    let out = finish(client, Duration::from_secs(30));
    eprintln!("approval on B to DELETE done on A: {:?}", decided.elapsed());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        query(&data.0, "SELECT count(*) FROM delete_runs"),
        "1",
        "ran exactly once"
    );
    assert_eq!(query(&data.0, "SELECT count(*) FROM accounts"), "0");

    // The shared record: owned, claimed and completed by A; one vote, cast on B.
    wait_sql(
        &fleet.0,
        &format!("SELECT state, owner_replica, claimed_by, outcome FROM warden_approvals WHERE id = '{id}'"),
        "executed|a|a|completed",
    );
    assert_eq!(
        query(&fleet.0, &format!("SELECT approver, decision, replica_id FROM warden_approval_votes WHERE request_id = '{id}'")),
        "bob|approve|b"
    );
    for r in [&a, &b, &c] {
        let v = wait_state(&r.api, &id, "executed");
        assert_eq!(v["fleet"]["owner"], "a", "{v}");
        assert_eq!(v["fleet"]["claimed_by"], "a", "{v}");
    }
    // Approving again, anywhere, changes nothing.
    let (code, _) = approve_as(&c.api, "carol", &id);
    assert_eq!(code, "409");

    // Two approvers on two replicas at the same moment: exactly one decision.
    query(&data.0, "INSERT INTO accounts VALUES (4),(5)");
    let client = psql(&a, &data.0, "DELETE FROM accounts");
    let pending_on = |r: &Replica| {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let (_, body) = curl(&[
                "-u",
                &format!("bob:{PW}"),
                &format!("{}?state=pending", r.api),
            ]);
            let v: serde_json::Value = serde_json::from_str(&body).expect("json");
            if let Some(id) = v["approvals"][0]["id"].as_str() {
                return id.to_string();
            }
            assert!(Instant::now() < deadline, "no pending request on {}", r.api);
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let second = pending_on(&b);
    assert_eq!(pending_on(&c), second);
    let (api_b, api_c, s1, s2) = (b.api.clone(), c.api.clone(), second.clone(), second.clone());
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
    let (b1, b2) = (barrier.clone(), barrier);
    let t1 = std::thread::spawn(move || {
        b1.wait();
        approve_as(&api_b, "bob", &s1)
    });
    let t2 = std::thread::spawn(move || {
        b2.wait();
        approve_as(&api_c, "carol", &s2)
    });
    let mut codes = vec![t1.join().expect("t1").0, t2.join().expect("t2").0];
    codes.sort();
    assert_eq!(codes, ["200", "409"], "exactly one approval decided");
    let out = finish(client, Duration::from_secs(30));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(query(&data.0, "SELECT count(*) FROM delete_runs"), "2");
    assert_eq!(
        query(
            &fleet.0,
            &format!("SELECT count(*) FROM warden_approval_votes WHERE request_id = '{second}'")
        ),
        "1"
    );
    wait_sql(
        &fleet.0,
        &format!("SELECT state, claimed_by, outcome FROM warden_approvals WHERE id = '{second}'"),
        "executed|a|completed",
    );

    // Each replica's own chain verifies and holds the steps it performed.
    let mut kinds = Vec::new();
    for r in [a, b, c] {
        let (code, _) = r.server.terminate();
        assert_eq!(code, Some(0));
        let path = r.audit.to_str().expect("utf8");
        let (code, out, err) = run(&["audit", "verify", "--path", path]);
        assert_eq!(code, Some(0), "{out}{err}");
        let (_, export, _) = run(&["audit", "export", "--path", path, "--q", &id]);
        let mut seen: Vec<String> = export
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|v| v["event"]["kind"].as_str().map(str::to_string))
            .collect();
        seen.dedup();
        kinds.push(seen);
    }
    let has = |i: usize, k: &str| kinds[i].iter().any(|x| x == k);
    assert!(
        has(0, "approval_requested") && has(0, "approval_executed"),
        "A: {:?}",
        kinds[0]
    );
    assert!(!has(0, "approval_approved"), "A: {:?}", kinds[0]);
    assert!(has(1, "approval_approved"), "B: {:?}", kinds[1]);
    assert!(!has(1, "approval_executed"), "B: {:?}", kinds[1]);
}

#[test]
fn an_unreachable_fleet_database_refuses_holds_with_a_clear_message_and_recovers() {
    let Some((data, fleet)) = setup("down") else {
        return;
    };
    let root = tempfile::tempdir().expect("tempdir");
    let a = start_replica(root.path(), "a", &fleet.0);

    // The fleet database refuses connections and the open ones are cut.
    set_accepting_connections(&fleet.0, false);
    let out = finish(
        psql(&a, &data.0, "DELETE FROM accounts"),
        Duration::from_secs(30),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "refused while the fleet database is away"
    );
    eprintln!("refused while away: {}", stderr.trim());
    assert!(
        stderr.contains("shared approvals database is unavailable"),
        "{stderr}"
    );
    assert_eq!(
        query(&data.0, "SELECT count(*) FROM accounts"),
        "3",
        "nothing ran"
    );

    // Back: the next hold works and is decided as usual.
    set_accepting_connections(&fleet.0, true);
    let client = psql(&a, &data.0, "DELETE FROM accounts");
    let id = wait_pending_approval(&a.api, &format!("bob:{PW}"));
    let (code, body) = approve_as(&a.api, "bob", &id);
    assert_eq!(code, "200", "{body}");
    let out = finish(client, Duration::from_secs(30));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(query(&data.0, "SELECT count(*) FROM delete_runs"), "1");
    let (code, _) = a.server.terminate();
    assert_eq!(code, Some(0));
}

#[test]
fn a_replica_killed_mid_action_leaves_an_unknown_outcome_and_its_waiting_requests_withdrawn() {
    let Some((data, fleet)) = setup("dead") else {
        return;
    };
    query(
        &data.0,
        "CREATE TABLE scratch(id int); INSERT INTO scratch VALUES (1)",
    );
    let root = tempfile::tempdir().expect("tempdir");
    let a = start_replica(root.path(), "a", &fleet.0);
    let b = start_replica(root.path(), "b", &fleet.0);

    // The approved DELETE will block on this lock while A runs it.
    let locker = Command::new("psql")
        .args(["-h", "127.0.0.1", "-U", "postgres", "-d", &data.0, "-qAtc"])
        .arg("BEGIN; LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(12); COMMIT;")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("locker");
    std::thread::sleep(Duration::from_millis(300));
    let running = psql(&a, &data.0, "DELETE FROM accounts");
    let first = wait_pending_approval(&b.api, &format!("bob:{PW}"));
    let (code, body) = approve_as(&b.api, "bob", &first);
    assert_eq!(code, "200", "{body}");
    wait_sql(
        &fleet.0,
        &format!("SELECT state, claimed_by, outcome FROM warden_approvals WHERE id = '{first}'"),
        "executed|a|running",
    );
    // A second request waits on A, undecided.
    let waiting = psql(&a, &data.0, "DELETE FROM scratch");
    wait_sql(
        &fleet.0,
        "SELECT count(*) FROM warden_approvals WHERE state = 'pending'",
        "1",
    );
    let second = query(
        &fleet.0,
        "SELECT id FROM warden_approvals WHERE state = 'pending'",
    );

    a.server.signal("-KILL");
    let killed = Instant::now();
    wait_sql(
        &fleet.0,
        &format!("SELECT outcome FROM warden_approvals WHERE id = '{first}'"),
        "unknown",
    );
    eprintln!(
        "outcome marked unknown {:?} after kill -9 (lease 3s)",
        killed.elapsed()
    );
    let v = wait_state(&b.api, &second, "withdrawn");
    assert!(
        v["ended_reason"]
            .as_str()
            .unwrap_or("")
            .contains("replica a"),
        "{v}"
    );
    let v = wait_state(&b.api, &first, "executed");
    assert_eq!(v["fleet"]["outcome"], "unknown", "{v}");

    let _ = finish(running, Duration::from_secs(30));
    let _ = finish(waiting, Duration::from_secs(30));
    let _ = finish(locker, Duration::from_secs(30));
    let runs = query(&data.0, "SELECT count(*) FROM delete_runs");
    assert!(runs == "0" || runs == "1", "at most once: {runs}");
    assert_eq!(
        query(&data.0, "SELECT count(*) FROM scratch"),
        "1",
        "the withdrawn request never ran"
    );

    // A restarts under the same id; nothing is replayed.
    drop(a);
    let a = start_replica(root.path(), "a", &fleet.0);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(query(&data.0, "SELECT count(*) FROM delete_runs"), runs);
    assert_eq!(
        query(
            &fleet.0,
            &format!("SELECT state, outcome FROM warden_approvals WHERE id = '{first}'")
        ),
        "executed|unknown"
    );
    for r in [a, b] {
        let (code, _) = r.server.terminate();
        assert_eq!(code, Some(0));
    }
}
