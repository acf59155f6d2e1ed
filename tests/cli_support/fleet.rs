//! One `warden serve` replica of a fleet test: its own folder under the test's root, a
//! postgres target in front of the machine's PostgreSQL, user alice (developer, password
//! and SCRAM) plus the caller's users, and a `fleet:` section on the test's database.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{free_port, Server};

/// What differs between the fleet tests' replicas.
pub struct ReplicaSpec<'a> {
    /// The one policy file's YAML.
    pub policy: &'a str,
    /// Every user's password.
    pub password: &'a str,
    /// Further top-level sections of warden.yaml (e.g. `analytics:`), as YAML.
    pub extra: &'a str,
    /// Further users as (name, role), with the same password (argon2 only).
    pub users: &'a [(&'a str, &'a str)],
    /// `fleet:` keys besides url/heartbeat/lease/poll/connect_timeout (the replica id
    /// among them), each `key: value`.
    pub fleet_keys: &'a [String],
}

pub struct Replica {
    pub server: Server,
    /// `<root>/<id>`: the replica's folder (`warden.yaml`, `data/audit`, `policies/`).
    pub dir: PathBuf,
    pub config: PathBuf,
    pub web_port: u16,
    /// The postgres target's address.
    pub pg: String,
}

/// Writes `<root>/<id>/warden.yaml` and its policy, starts the replica and waits for its
/// postgres target.
pub fn start_replica(root: &Path, id: &str, fleet_db: &str, spec: &ReplicaSpec) -> Replica {
    let dir = root.join(id);
    std::fs::create_dir_all(dir.join("policies")).expect("mkdir");
    std::fs::write(dir.join("policies/main.yaml"), spec.policy).expect("policy");
    let hash = warden_gate::auth::password::hash_password(spec.password).expect("hash");
    let scram = warden_gate::auth::ScramVerifier::generate(spec.password).to_text();
    let web_port = free_port();
    let users: String = spec
        .users
        .iter()
        .map(|(name, role)| {
            format!("  - {{ name: {name}, roles: [{role}], password_hash: \"{hash}\" }}\n")
        })
        .collect();
    let fleet_keys: String = spec.fleet_keys.iter().map(|k| format!("  {k}\n")).collect();
    let cfg = format!(
        "web:\n  listen: 127.0.0.1:{web_port}\naudit:\n  path: ./data/audit\npolicies: [./policies]\nshutdown_grace: 2s\n\
users:\n  - {{ name: alice, roles: [developer], password_hash: \"{hash}\", scram_sha256: \"{scram}\" }}\n{users}\
targets:\n  - {{ name: db, protocol: postgres, listen: 127.0.0.1:0, upstream: 127.0.0.1:5432, upstream_user: postgres }}\n\
fleet:\n  url: postgresql://postgres@127.0.0.1:5432/{fleet_db}\n  heartbeat: 1s\n  lease: 3s\n  poll: 1s\n  connect_timeout: 3s\n{fleet_keys}{}",
        spec.extra
    );
    let config = dir.join("warden.yaml");
    std::fs::write(&config, cfg).expect("config");
    let server = Server::start(&["serve", "--config", config.to_str().expect("utf8")]);
    let line = server.wait_stdout("target db (postgres) listening on", Duration::from_secs(60));
    Replica {
        server,
        dir,
        config,
        web_port,
        pg: line.rsplit(' ').next().expect("addr").to_string(),
    }
}
