//! The `fleet:` section of warden.yaml: typed with defaults, every mistake reported with
//! its position, the password never shown.

use std::path::Path;
use std::time::Duration;

use warden_config::{Config, ConfigErrors};

fn parse(text: &str) -> Result<Config, ConfigErrors> {
    Config::parse(text, "warden.yaml", Path::new("/etc/warden"))
}

#[test]
fn absent_fleet_means_embedded() {
    assert!(parse("").expect("valid").fleet.is_none());
}

#[test]
fn fleet_section_is_typed_with_defaults() {
    std::env::set_var("WARDEN_FLEET_TEST_PW", "s3cret");
    let cfg = parse(
        "fleet:\n  url: postgresql://warden@db:5432/warden\n  password_env: WARDEN_FLEET_TEST_PW\n  replica_id: a-1\n  lease: 20s\n",
    )
    .expect("valid");
    let f = cfg.fleet.clone().expect("fleet");
    assert_eq!(f.replica_id, "a-1");
    assert_eq!(f.heartbeat, Duration::from_secs(2));
    assert_eq!(f.lease, Duration::from_secs(20));
    assert_eq!(f.poll, Duration::from_secs(5));
    assert_eq!(f.ship_every, Duration::from_millis(250));
    assert_eq!(f.anchor_every, Duration::from_secs(10));
    assert_eq!(f.password.as_ref().expect("pw").expose(), "s3cret");
    assert!(!format!("{:?}", cfg.fleet).contains("s3cret"));
}

#[test]
fn every_fleet_mistake_is_reported_with_its_position() {
    let text = "fleet:\n  url: mysql://x\n  replica_id: \"a b\"\n  heartbeat: 5s\n  lease: 6s\n  pol: 1s\n";
    let errs = parse(text).expect_err("invalid").0;
    let keys: Vec<(&str, usize)> = errs.iter().map(|e| (e.key.as_str(), e.line)).collect();
    assert!(keys.contains(&("fleet.url", 2)), "{keys:?}");
    assert!(keys.contains(&("fleet.replica_id", 3)), "{keys:?}");
    assert!(keys.contains(&("fleet.lease", 5)), "{keys:?}");
    assert!(keys.contains(&("fleet.pol", 6)), "{keys:?}");
    let unknown = errs.iter().find(|e| e.key == "fleet.pol").expect("pol");
    assert_eq!(unknown.suggestion.as_deref(), Some("poll"), "{unknown:?}");
}

#[test]
fn url_and_replica_id_are_required() {
    let errs = parse("fleet:\n  lease: 30s\n").expect_err("invalid").0;
    let text = errs
        .iter()
        .map(|e| e.message.clone())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(text.contains("`url` is required"), "{text}");
    assert!(
        text.contains("`replica_id` (or `replica_id_env`) is required"),
        "{text}"
    );
}

#[test]
fn replica_id_env_reads_the_id_from_the_environment() {
    std::env::set_var("WARDEN_FLEET_TEST_ID", "warden-2");
    let cfg = parse(
        "fleet:
  url: postgresql://w@db/w
  replica_id_env: WARDEN_FLEET_TEST_ID
",
    )
    .expect("valid");
    assert_eq!(cfg.fleet.expect("fleet").replica_id, "warden-2");

    let errs = parse(
        "fleet:
  url: postgresql://w@db/w
  replica_id_env: WARDEN_FLEET_TEST_UNSET
",
    )
    .expect_err("unset")
    .0;
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0].key, "fleet.replica_id_env");
    assert!(
        errs[0]
            .message
            .contains("`WARDEN_FLEET_TEST_UNSET` is not set"),
        "{errs:?}"
    );

    std::env::set_var("WARDEN_FLEET_TEST_BAD_ID", "pod/1");
    let errs = parse(
        "fleet:
  url: postgresql://w@db/w
  replica_id_env: WARDEN_FLEET_TEST_BAD_ID
",
    )
    .expect_err("bad id")
    .0;
    assert!(errs[0].message.contains("`pod/1`: use letters"), "{errs:?}");

    let errs = parse(
        "fleet:
  url: postgresql://w@db/w
  replica_id: a
  replica_id_env: WARDEN_FLEET_TEST_ID
",
    )
    .expect_err("both")
    .0;
    assert!(errs[0].message.contains("not both"), "{errs:?}");
}

#[test]
fn tls_needs_a_ca_and_is_never_contradicted_by_the_url() {
    let messages = |text: &str| -> String {
        parse(text)
            .expect_err("invalid")
            .0
            .iter()
            .map(|e| format!("{}: {}", e.key, e.message))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let text = messages("fleet:\n  url: postgresql://w@db/w?sslmode=require\n  replica_id: a\n");
    assert!(
        text.contains("fleet.url: sslmode=require needs `tls:`"),
        "{text}"
    );
    let text = messages(
        "fleet:\n  url: postgresql://w@db/w\n  replica_id: a\n  tls: { server_name: db }\n",
    );
    assert!(text.contains("fleet.tls: `ca` is required"), "{text}");
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, "not checked here").expect("ca");
    let ca = ca.display();
    let text = messages(&format!(
        "fleet:\n  url: postgresql://w@db/w?sslmode=disable\n  replica_id: a\n  tls: {{ ca: {ca} }}\n"
    ));
    assert!(text.contains("contradicts `tls:`"), "{text}");
    let errs = parse(&format!(
        "fleet:\n  url: postgresql://w@db/w\n  replica_id: a\n  tls: {{ cafile: {ca} }}\n"
    ))
    .expect_err("unknown key")
    .0;
    let unknown = errs
        .iter()
        .find(|e| e.key == "fleet.tls.cafile")
        .expect("cafile");
    assert_eq!(unknown.suggestion.as_deref(), Some("ca"), "{errs:?}");
}

#[test]
fn tls_with_a_ca_is_typed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, "pem").expect("ca");
    for mode in ["", "?sslmode=require", "?sslmode=verify-full"] {
        let cfg = parse(&format!(
            "fleet:\n  url: postgresql://w@127.0.0.1/w{mode}\n  replica_id: a\n  tls: {{ ca: {}, server_name: db.internal }}\n",
            ca.display()
        ))
        .expect("valid");
        let tls = cfg.fleet.expect("fleet").tls.expect("tls");
        assert_eq!(tls.ca.as_deref(), Some(ca.as_path()));
        assert_eq!(tls.server_name.as_deref(), Some("db.internal"));
        assert!(tls.client.is_none());
    }
    assert!(
        parse("fleet:\n  url: postgresql://w@db/w\n  replica_id: a\n")
            .expect("valid")
            .fleet
            .expect("fleet")
            .tls
            .is_none()
    );
}
