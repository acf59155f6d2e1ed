//! Config loading: valid files, and every mistake reported at once with its position.

use std::path::Path;

use super::*;

const GOOD: &str = r#"
web:
  listen: 127.0.0.1:18080
  public_url: http://warden.example:18080/
audit:
  path: ./data/audit
policies: []
users:
  - name: alice
    roles: [developer]
    password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$2Tn3DvGp2iq2mTtFX9xKWyAcRYtWgBeWyH3Xv5V0mYQ"
    tokens: ["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"]
targets:
  - name: prod-db
    protocol: postgres
    listen: 127.0.0.1:16432
    upstream: 127.0.0.1:5432
    labels: { env: production }
    upstream_user: app
    upstream_password_env: WARDEN_T6_TEST_PW
"#;

fn parse(text: &str) -> Result<Config, ConfigErrors> {
    Config::parse(text, "warden.yaml", Path::new("/etc/warden"))
}

#[test]
fn valid_config_is_typed() {
    std::env::set_var("WARDEN_T6_TEST_PW", "hunter2");
    let cfg = parse(GOOD).expect("valid");
    assert_eq!(cfg.web.public_url, "http://warden.example:18080");
    assert_eq!(cfg.audit.path, Path::new("/etc/warden/./data/audit"));
    assert_eq!(
        cfg.audit.signing_key,
        Path::new("/etc/warden/data/audit.key")
    );
    let t = cfg.target("prod-db").expect("target");
    assert_eq!(t.protocol, Protocol::Postgres);
    assert_eq!(
        t.upstream_password.as_ref().map(Secret::expose),
        Some("hunter2")
    );
    assert!(
        !format!("{cfg:?}").contains("hunter2"),
        "secrets never in Debug"
    );
    assert_eq!(cfg.users[0].token_hashes.len(), 1);
    assert_eq!(cfg.shutdown_grace, Duration::from_secs(10));
}

#[test]
fn every_error_at_once_with_positions() {
    let text = "web:\n  listn: 127.0.0.1:1\ntargets:\n  - name: a\n    protocol: postgress\n    listen: nowhere\n    upstream: x:1\n  - name: a\n    protocol: http\n    listen: 127.0.0.1:9\n    upstream: ''\n    colour: red\nusers:\n  - name: bob\n    password_hash: plain\nsurprise: 1\n";
    let errs = parse(text).expect_err("invalid").0;
    let shown: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
    let all = shown.join("\n");
    for needle in [
        "warden.yaml:2:3: web.listn: unknown key `listn` (did you mean `listen`?)",
        "warden.yaml:5:5: targets[0].protocol: unknown protocol `postgress`",
        "(did you mean `postgres`?)",
        "warden.yaml:6:5: targets[0].listen: `nowhere` is not an address",
        "warden.yaml:8:5: targets[1].name: duplicate target name `a`",
        "warden.yaml:11:5: targets[1].upstream: must not be empty",
        "warden.yaml:12:5: targets[1].colour: unknown key `colour`",
        "warden.yaml:15:5: users[0].password_hash: not an argon2 PHC string",
        "warden.yaml:16:1: surprise: unknown key `surprise`",
    ] {
        assert!(all.contains(needle), "missing {needle:?} in\n{all}");
    }
    assert_eq!(errs.len(), 8, "{all}");
}

#[test]
fn duplicate_listen_and_secret_sources() {
    let text = "web: { listen: 127.0.0.1:7000 }\ntargets:\n  - { name: a, protocol: ssh, listen: 127.0.0.1:7000, upstream: h:22 }\n  - name: b\n    protocol: http\n    listen: 127.0.0.1:7001\n    upstream: http://h\n    upstream_password_env: WARDEN_T6_SURELY_UNSET\n  - name: c\n    protocol: http\n    listen: 127.0.0.1:7001\n    upstream: http://h\n    upstream_password_env: X\n    upstream_password_file: y\n";
    let all = parse(text).expect_err("invalid").to_string();
    assert!(
        all.contains("targets[0].listen: address 127.0.0.1:7000 is already used by web.listen"),
        "{all}"
    );
    assert!(
        all.contains("environment variable `WARDEN_T6_SURELY_UNSET` is not set"),
        "{all}"
    );
    assert!(
        all.contains("targets[2].listen: address 127.0.0.1:7001 is already used by targets[1]"),
        "{all}"
    );
    assert!(all.contains("not both"), "{all}");
}

#[test]
fn syntax_error_has_position() {
    let errs = parse("web:\n  listen: [unclosed\n").expect_err("invalid").0;
    assert_eq!(errs.len(), 1);
    assert!(errs[0].line >= 2, "{:?}", errs[0]);
    assert!(errs[0].message.contains("invalid YAML"));
}

#[test]
fn type_errors_name_the_key() {
    let all = parse("targets:\n  - name: a\n    protocol: ssh\n    listen: 127.0.0.1:1\n    upstream: h:22\n    labels: [x]\n    max_connections: lots\n")
        .expect_err("invalid")
        .to_string();
    assert!(all.contains("targets[0].labels"), "{all}");
}

#[test]
fn empty_file_gets_defaults() {
    let cfg = parse("").expect("empty is valid");
    assert_eq!(cfg.web.listen.to_string(), "127.0.0.1:8080");
    assert!(cfg.targets.is_empty());
}

#[test]
fn durations() {
    assert_eq!(parse_duration("30s"), Some(Duration::from_secs(30)));
    assert_eq!(parse_duration("5m"), Some(Duration::from_secs(300)));
    assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
    assert_eq!(parse_duration("7"), Some(Duration::from_secs(7)));
    assert_eq!(parse_duration("soon"), None);
}

#[test]
fn mysql_targets_and_port_zero() {
    let text = "targets:\n  - { name: m, protocol: mysql, listen: 127.0.0.1:0, upstream: h:3306, mysql: { max_packet_bytes: 1024 } }\n  - { name: h, protocol: http, listen: 127.0.0.1:0, upstream: http://h }\nusers:\n  - { name: al, mysql_native_password: '*14E65567ABDB5135D0CFD9A70B3032C179A49EE7' }\n";
    let cfg = Config::parse(text, "warden.yaml", Path::new(".")).expect("mysql is supported");
    let m = cfg.target("m").expect("target");
    assert_eq!(m.protocol, warden_inspect::Protocol::Mysql);
    assert_eq!(m.mysql.max_packet_bytes, 1024);
    assert!(cfg.users[0].mysql_native.is_some());
    let bad = "users:\n  - { name: al, mysql_native_password: 'secret' }\n";
    let all = parse(bad).expect_err("not a verifier").to_string();
    assert!(all.contains("users[0].mysql_native_password"), "{all}");
}

#[test]
fn mysql_rsa_key_is_anchored_at_the_config_folder_and_must_exist() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("rsa.pem"), "key").expect("write");
    let text = "targets:\n  - { name: m, protocol: mysql, listen: 127.0.0.1:0, upstream: h:3306, mysql: { rsa_private_key: rsa.pem } }\n";
    let cfg = Config::parse(text, "warden.yaml", dir.path()).expect("valid");
    let m = cfg.target("m").expect("target");
    assert_eq!(
        m.mysql.rsa_private_key.as_deref(),
        Some(&*dir.path().join("rsa.pem"))
    );
    let missing = text.replace("rsa.pem", "/nonexistent/rsa.pem");
    let errs = parse(&missing).expect_err("missing file").to_string();
    assert!(errs.contains("targets[0].mysql.rsa_private_key"), "{errs}");
}

#[test]
fn ssh_paths_are_anchored_at_the_config_folder() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("keys")).expect("mkdir");
    std::fs::write(dir.path().join("keys/upstream"), "key").expect("write");
    std::fs::write(dir.path().join("known_hosts"), "").expect("write");
    let text = "targets:\n  - name: web-1\n    protocol: ssh\n    listen: 127.0.0.1:2222\n    upstream: 127.0.0.1:22\n    ssh:\n      host_key: ssh/web-1\n      known_hosts: known_hosts\n      upstream_key_file: keys/upstream\n";
    let cfg = Config::parse(text, "warden.yaml", dir.path()).expect("valid");
    let ssh = &cfg.target("web-1").expect("target").ssh;
    assert_eq!(
        ssh.host_key.as_deref(),
        Some(&*dir.path().join("ssh/web-1"))
    );
    assert_eq!(
        ssh.known_hosts.as_deref(),
        Some(&*dir.path().join("known_hosts"))
    );
    assert_eq!(
        ssh.upstream_key_file.as_deref(),
        Some(&*dir.path().join("keys/upstream"))
    );
}

#[test]
fn missing_ssh_files_are_reported_with_their_key() {
    let text = "targets:\n  - name: web-1\n    protocol: ssh\n    listen: 127.0.0.1:2222\n    upstream: 127.0.0.1:22\n    ssh:\n      known_hosts: /nonexistent/known_hosts\n      upstream_key_file: /nonexistent/key\n";
    let errs = parse(text).expect_err("missing files").to_string();
    assert!(errs.contains("ssh.known_hosts"), "{errs}");
    assert!(errs.contains("ssh.upstream_key_file"), "{errs}");
    assert!(errs.contains("no such file: /nonexistent/key"), "{errs}");
}

#[test]
fn analytics_settings_are_read_and_every_mistake_is_placed() {
    let ok = parse(
        "analytics:\n  time_zone: \"+01:00\"\n  detectors:\n    failed-login-burst: { threshold: 6, window: 5m, lock: 15m }\n",
    )
    .expect("valid analytics section");
    assert_eq!(ok.analytics.time_zone, "+01:00");
    assert!(ok.analytics.detectors.contains_key("failed-login-burst"));
    assert!(
        parse("{}").expect("valid").analytics.enabled,
        "on by default"
    );

    let text = "analytics:\n  baseline: forever\n  detectors:\n    off-hours: { window: soon }\n    failed-login-bust: { threshold: 3 }\n";
    let all = parse(text).expect_err("invalid").to_string();
    assert!(all.contains("warden.yaml:2:3: analytics.baseline"), "{all}");
    assert!(
        all.contains("warden.yaml:4:18: analytics.detectors.off-hours.window"),
        "{all}"
    );
    assert!(
        all.contains("warden.yaml:5:5: analytics.detectors.failed-login-bust"),
        "{all}"
    );
}

#[test]
fn audit_cache_has_a_default_a_setting_and_bounds() {
    let base = "targets: []\n";
    assert_eq!(parse(base).expect("valid").audit.cache_mb, 64);
    let set = parse("audit:\n  cache_mb: 16\ntargets: []\n").expect("valid");
    assert_eq!(set.audit.cache_mb, 16);
    for bad in ["0", "65537"] {
        let errs = parse(&format!("audit:\n  cache_mb: {bad}\ntargets: []\n"))
            .expect_err("out of range")
            .0;
        let all: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        assert!(
            all.iter()
                .any(|e| e.contains("audit.cache_mb") && e.contains("give 1 to 65536")),
            "{all:?}"
        );
    }
}
