//! TLS to the fleet database (`fleet.tls`), end to end with the real binary against the
//! machine's PostgreSQL, which serves TLS with its own certificate (Debian's
//! `ssl-cert-snakeoil`, issued to `localhost`): a replica trusting that certificate joins
//! over TLS (every connection it holds is encrypted, as PostgreSQL itself reports); one
//! trusting another authority, or checking another name, refuses to start and says why.

mod cli_support;

use std::path::Path;
use std::time::{Duration, Instant};

use cli_support::{admin_query, fleet, test_database, Server};

/// The certificate the machine's PostgreSQL presents (its `ssl_cert_file`).
fn server_cert() -> String {
    let on = admin_query("postgres", "SHOW ssl");
    assert_eq!(
        on, "on",
        "the machine's PostgreSQL must serve TLS (ssl = on)"
    );
    admin_query("postgres", "SHOW ssl_cert_file")
}

const POLICY: &str = "version: 1\nrules:\n  - name: no-drop\n    when: { sql: { statements: [drop] } }\n    action: deny\n";

fn spec<'a>(keys: &'a [String]) -> fleet::ReplicaSpec<'a> {
    fleet::ReplicaSpec {
        policy: POLICY,
        password: "fleet-tls-pw-1",
        users: &[],
        fleet_keys: keys,
        extra: "",
    }
}

#[test]
fn a_replica_trusting_the_servers_certificate_joins_over_tls() {
    let Some(db) = test_database("warden_fleet_tls_ok", "SELECT 1") else {
        return;
    };
    let root = tempfile::tempdir().expect("tempdir");
    let id = format!("tls-ok-{}", std::process::id());
    let keys = [
        format!("replica_id: {id}"),
        format!("tls: {{ ca: {}, server_name: localhost }}", server_cert()),
    ];
    let r = fleet::start_replica(root.path(), "a", &db.0, &spec(&keys));
    // Joined: its lease is in the shared table.
    let replicas = admin_query(
        &db.0,
        &format!("SELECT count(*) FROM warden_replicas WHERE replica_id = '{id}'"),
    );
    assert_eq!(replicas, "1");
    // Every connection of this replica to the fleet database is TLS.
    let conns = admin_query(
        "postgres",
        &format!(
            "SELECT count(*) FILTER (WHERE s.ssl), count(*) FROM pg_stat_activity a \
             JOIN pg_stat_ssl s USING (pid) WHERE a.datname = '{}' AND a.application_name = 'warden {id}'",
            db.0
        ),
    );
    let (tls, all) = conns.split_once('|').expect("two counts");
    assert!(all.parse::<u32>().expect("count") >= 1, "{conns}");
    assert_eq!(tls, all, "plain connections among them: {conns}");
    let (code, _) = r.server.terminate();
    assert_eq!(code, Some(0));
}

/// Starts a replica that must not get in, and returns what it printed on stderr.
fn refused(root: &Path, db: &str, keys: &[String]) -> String {
    let dir = root.join("r");
    std::fs::create_dir_all(dir.join("policies")).expect("mkdir");
    std::fs::write(dir.join("policies/main.yaml"), POLICY).expect("policy");
    let keys: String = keys.iter().map(|k| format!("  {k}\n")).collect();
    let cfg = format!(
        "web:\n  listen: 127.0.0.1:{}\naudit:\n  path: ./data/audit\npolicies: [./policies]\n\
fleet:\n  url: postgresql://postgres@127.0.0.1:5432/{db}\n  connect_timeout: 3s\n{keys}",
        cli_support::free_port()
    );
    let config = dir.join("warden.yaml");
    std::fs::write(&config, cfg).expect("config");
    let mut server = Server::start(&["serve", "--config", config.to_str().expect("utf8")]);
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = server.child.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "the replica did not give up");
        std::thread::sleep(Duration::from_millis(100));
    };
    let err: Vec<String> = server.stderr.try_iter().collect();
    let err = err.join("\n");
    assert_eq!(status.code(), Some(1), "{err}");
    assert_eq!(
        admin_query(
            db,
            "SELECT count(*) FROM pg_tables WHERE tablename = 'warden_replicas'"
        ),
        "0",
        "nothing was written over an unverified connection"
    );
    err
}

#[test]
fn another_authority_or_another_name_is_refused_with_the_reason() {
    let Some(db) = test_database("warden_fleet_tls_bad", "SELECT 1") else {
        return;
    };
    let root = tempfile::tempdir().expect("tempdir");
    // A CA that did not sign the server's certificate.
    let other = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("ca");
    let other_ca = root.path().join("other-ca.pem");
    std::fs::write(&other_ca, other.cert.pem()).expect("write");
    let err = refused(
        root.path(),
        &db.0,
        &[
            "replica_id: tls-bad-ca".to_string(),
            format!(
                "tls: {{ ca: {}, server_name: localhost }}",
                other_ca.display()
            ),
        ],
    );
    assert!(err.contains("fleet database"), "{err}");
    assert!(err.contains("UnknownIssuer"), "{err}");
    // The right CA, but the certificate is not issued to the address connected to.
    let err = refused(
        root.path(),
        &db.0,
        &[
            "replica_id: tls-bad-name".to_string(),
            format!("tls: {{ ca: {} }}", server_cert()),
        ],
    );
    assert!(err.contains("fleet database"), "{err}");
    assert!(err.contains("certificate not valid for name"), "{err}");
}
