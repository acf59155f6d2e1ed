//! `warden report access` over the store of a real `warden serve` run (psql through a
//! postgres target, users in four roles, a hold approved through the API), checked
//! against counts made here independently from `warden audit export`.

mod cli_support;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::Duration;

use cli_support::{
    approve, curl, free_port, run, test_database, wait_pending_approval, write_config, Server,
};
use serde_json::Value;

/// One psql statement through the gateway as `user`; whether psql succeeded.
fn psql_as(addr: &str, db: &str, user: &str, pw: &str, sql: &str) -> bool {
    Command::new("psql")
        .arg(format!("postgresql://{user}@{addr}/{db}?sslmode=disable"))
        .args(["-qAtc", sql])
        .env("PGPASSWORD", pw)
        .env("PGCONNECT_TIMEOUT", "10")
        .output()
        .expect("psql")
        .status
        .success()
}

const POLICY: &str = "version: 1
rules:
  - name: no-drop
    when: { sql: { statements: [drop] } }
    action: deny
    sensitive: true
  - name: developers-no-grant
    when: { user: { roles: [developer] }, sql: { statements: [grant] } }
    action: deny
  - name: unbounded-delete
    when: { protocol: postgres, sql: { statements: [delete], without_where: true } }
    action: hold
    approval: { approvers: { roles: [dba] }, timeout: 2m }
  - name: etl-loads
    when: { user: { roles: [etl] }, sql: { statements: [insert] } }
    action: allow
";

/// Per role: [allowed, denied, held, failed_logins], counted from the export.
fn count_export(export: &str, roles_of: &BTreeMap<&str, Vec<&str>>) -> BTreeMap<String, [u64; 4]> {
    let mut out: BTreeMap<String, [u64; 4]> = BTreeMap::new();
    for line in export.lines() {
        let v: Value = serde_json::from_str(line).expect("export line");
        let ev = &v["event"];
        match ev["kind"].as_str() {
            Some("action_decided") => {
                let actor = if ev["actor"].is_object() {
                    &ev["actor"]
                } else {
                    &ev["action"]["user"]
                };
                let i = match ev["verdict"]["decision"].as_str() {
                    Some("allow") => 0,
                    Some("deny") => 1,
                    Some("hold") => 2,
                    other => panic!("decision {other:?}"),
                };
                for r in actor["roles"].as_array().expect("roles") {
                    out.entry(r.as_str().expect("role").to_string())
                        .or_default()[i] += 1;
                }
            }
            Some("auth_failed") => {
                let name = ev["actor"]["name"].as_str().unwrap_or("");
                let roles = roles_of
                    .get(name)
                    .cloned()
                    .unwrap_or_else(|| vec!["(unknown user)"]);
                for r in roles {
                    out.entry(r.to_string()).or_default()[3] += 1;
                }
            }
            _ => {}
        }
    }
    out
}

#[test]
fn access_report_matches_an_independent_count_of_the_export() {
    let Some(db) = test_database(
        "warden_report",
        "CREATE TABLE t(id int); INSERT INTO t VALUES (1),(2)",
    ) else {
        return;
    };

    let dir = tempfile::tempdir().expect("tempdir");
    let pw = |u: &str| format!("{u}-pw-7");
    let user = |name: &str, roles: &str, extra: &str| {
        let p = pw(name);
        format!(
            "  - {{ name: {name}, roles: [{roles}], password_hash: \"{}\", scram_sha256: \"{}\"{extra} }}\n",
            warden_gate::auth::password::hash_password(&p).expect("hash"),
            warden_gate::auth::ScramVerifier::generate(&p).to_text()
        )
    };
    let extra = format!(
        "users:\n{}{}{}{}targets:\n  - {{ name: db, protocol: postgres, listen: 127.0.0.1:0, upstream: 127.0.0.1:5432, upstream_user: postgres }}\n",
        user("alice", "developer", ""),
        user("bob", "dba", ""),
        user("dana", "admin", ""),
        user("loader", "etl", ", service: true"),
    );
    let port = free_port();
    let cfg = write_config(dir.path(), port, &extra);
    std::fs::write(dir.path().join("policies/main.yaml"), POLICY).expect("policy");
    let cfg_s = cfg.to_str().expect("utf8");
    let server = Server::start(&["serve", "--config", cfg_s]);
    let line = server.wait_stdout("target db (postgres) listening on", Duration::from_secs(30));
    let addr = line.rsplit(' ').next().expect("addr").to_string();

    assert!(psql_as(&addr, &db.0, "alice", &pw("alice"), "SELECT 1"));
    assert!(!psql_as(
        &addr,
        &db.0,
        "alice",
        &pw("alice"),
        "DROP TABLE t"
    ));
    assert!(!psql_as(
        &addr,
        &db.0,
        "alice",
        &pw("alice"),
        "GRANT SELECT ON t TO PUBLIC"
    ));
    assert!(!psql_as(&addr, &db.0, "alice", "wrong", "SELECT 1"));
    assert!(!psql_as(&addr, &db.0, "mallory", "guess", "SELECT 1"));
    assert!(psql_as(
        &addr,
        &db.0,
        "loader",
        &pw("loader"),
        "INSERT INTO t VALUES (3)"
    ));
    assert!(psql_as(
        &addr,
        &db.0,
        "loader",
        &pw("loader"),
        "GRANT SELECT ON t TO PUBLIC"
    ));
    // alice's unbounded DELETE is held; bob (dba) approves it through the API.
    let mut held = Command::new("psql")
        .arg(format!(
            "postgresql://alice@{addr}/{}?sslmode=disable",
            db.0
        ))
        .args(["-qAtc", "DELETE FROM t"])
        .env("PGPASSWORD", pw("alice"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("psql");
    let api = format!("http://127.0.0.1:{port}/api/v1/approvals");
    let bob = format!("bob:{}", pw("bob"));
    let id = wait_pending_approval(&api, &bob);
    approve(&api, &bob, &id, "ok");
    assert!(
        held.wait().expect("psql").success(),
        "the approved DELETE ran"
    );

    // The live API gives the same report as the CLI will (same code, live log).
    let (code, live) = curl(&[
        "-u",
        &format!("dana:{}", pw("dana")),
        &format!("http://127.0.0.1:{port}/api/v1/reports/access?since=1h"),
    ]);
    assert_eq!(code, "200", "{live}");
    let (code, _) = curl(&[
        "-u",
        &format!("alice:{}", pw("alice")),
        &format!("http://127.0.0.1:{port}/api/v1/reports/access"),
    ]);
    assert_eq!(code, "403", "a developer may not read the access report");
    let (code, body) = curl(&[
        "-u",
        &format!("dana:{}", pw("dana")),
        &format!("http://127.0.0.1:{port}/api/v1/reports/access?since=yesterday"),
    ]);
    assert_eq!(code, "400", "{body}");
    assert!(body.contains("since"), "{body}");
    let (code, _) = server.terminate();
    assert_eq!(code, Some(0));

    let store = dir.path().join("data/audit");
    let (code, export, err) = run(&["audit", "export", "--path", store.to_str().expect("utf8")]);
    assert_eq!(code, Some(0), "{err}");
    let roles_of: BTreeMap<&str, Vec<&str>> = [
        ("alice", vec!["developer"]),
        ("bob", vec!["dba"]),
        ("dana", vec!["admin"]),
        ("loader", vec!["etl"]),
    ]
    .into_iter()
    .collect();
    let expected = count_export(&export, &roles_of);
    let (code, out, err) = run(&[
        "report", "access", "--config", cfg_s, "--since", "1h", "--format", "json",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let report: Value = serde_json::from_str(&out).expect("report json");
    let live: Value = serde_json::from_str(&live).expect("live json");
    assert_eq!(
        report["roles"], live["roles"],
        "the API and the CLI count the same records"
    );
    let mut got: BTreeMap<String, [u64; 4]> = BTreeMap::new();
    for r in report["roles"].as_array().expect("roles") {
        let n = |k: &str| r[k].as_u64().expect(k);
        let c = [n("allowed"), n("denied"), n("held"), n("failed_logins")];
        if c != [0; 4] {
            got.insert(r["role"].as_str().expect("role").to_string(), c);
        }
    }
    assert_eq!(got, expected, "report vs export");
    // What the run did, in the report's own words.
    assert_eq!(
        expected["developer"][0..3],
        [1, 2, 1],
        "alice: 1 allowed, 2 denied, 1 held"
    );
    assert_eq!(expected["developer"][3], 1, "alice's wrong password");
    assert_eq!(expected["(unknown user)"][3], 1, "mallory");
    let roles_used = |user: &str| -> BTreeMap<String, bool> {
        let u = report["users"]
            .as_array()
            .expect("users")
            .iter()
            .find(|u| u["user"] == user)
            .expect(user);
        u["roles"]
            .as_array()
            .expect("roles")
            .iter()
            .map(|r| {
                (
                    r["role"].as_str().expect("r").to_string(),
                    r["used"].as_bool().expect("used"),
                )
            })
            .collect()
    };
    assert!(
        roles_used("alice")["developer"],
        "developers-no-grant decided alice's GRANT"
    );
    assert!(roles_used("bob")["dba"], "bob approved as dba");
    assert!(roles_used("loader")["etl"], "etl-loads decided the INSERT");
    assert!(!roles_used("dana")["admin"]);
    let unused: Vec<(String, String)> = report["unused_privileges"]
        .as_array()
        .expect("unused")
        .iter()
        .map(|u| {
            (
                u["user"].as_str().expect("u").into(),
                u["role"].as_str().expect("r").into(),
            )
        })
        .collect();
    assert_eq!(unused, vec![("dana".to_string(), "admin".to_string())]);
    let idle: Vec<&str> = report["idle_roles"]
        .as_array()
        .expect("idle")
        .iter()
        .map(|r| r["role"].as_str().expect("role"))
        .collect();
    assert_eq!(
        idle,
        vec!["admin"],
        "dana, the only admin, did nothing in the window"
    );
    // Sensitive: alice's DROP (sensitive rule) and GRANT (privilege change); not the
    // service account's GRANT.
    let sensitive: Vec<(String, String)> = report["sensitive_actions"]
        .as_array()
        .expect("sensitive")
        .iter()
        .map(|a| {
            (
                a["user"].as_str().expect("u").into(),
                a["statement"].as_str().expect("s").into(),
            )
        })
        .collect();
    assert_eq!(
        sensitive,
        vec![
            ("alice".to_string(), "DROP TABLE t".to_string()),
            (
                "alice".to_string(),
                "GRANT SELECT ON t TO PUBLIC".to_string()
            )
        ]
    );
    let (code, csv, _) = run(&["report", "access", "--config", cfg_s, "--format", "csv"]);
    assert_eq!(code, Some(0));
    assert!(
        csv.starts_with("section,role,user,target,allowed,denied,held,failed_logins,detail\n"),
        "{csv}"
    );
    assert!(csv.contains("\nrole,developer,,,1,2,1,1,"), "{csv}");
    assert!(csv.contains("\nunused_privilege,admin,dana,,"), "{csv}");
    let (code, text, _) = run(&["report", "access", "--config", cfg_s]);
    assert_eq!(code, Some(0));
    assert!(text.contains("dana holds admin"), "{text}");
    let (code, _, err) = run(&["report", "access", "--config", cfg_s, "--since", "soon"]);
    assert_eq!(code, Some(2), "a bad window is a usage error: {err}");
    assert!(err.contains("--since"), "{err}");
}
