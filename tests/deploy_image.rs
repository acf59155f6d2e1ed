//! The container image (deploy/Containerfile). No container engine runs on the test
//! machine, so this tests what can be tested without one: the Containerfile's layout
//! (stages, non-root user, volumes, health check, entrypoint, every file it copies)
//! against the entrypoint script and the Kubernetes config, and the entrypoint script
//! itself, run directly with the real `warden` binary, curl and PostgreSQL.

mod cli_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use cli_support::{free_port, lines, psql_admin, test_database, wait_line, Server, BIN, POLICY};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn entrypoint() -> PathBuf {
    repo().join("deploy/container/entrypoint.sh")
}

/// The Containerfile's instructions, continuation lines joined, comments dropped.
fn instructions() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(repo().join("deploy/Containerfile")).expect("Containerfile");
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || (line.is_empty() && current.is_empty()) {
            continue;
        }
        current.push_str(line.trim_end_matches('\\'));
        current.push(' ');
        if !line.ends_with('\\') {
            let (op, args) = current
                .trim()
                .split_once(' ')
                .unwrap_or((current.trim(), ""));
            out.push((op.to_uppercase(), args.trim().to_string()));
            current.clear();
        }
    }
    out
}

fn args_of(ins: &[(String, String)], op: &str) -> Vec<String> {
    ins.iter()
        .filter(|(o, _)| o == op)
        .map(|(_, a)| a.clone())
        .collect()
}

#[test]
fn the_containerfile_builds_in_one_stage_and_runs_unprivileged_in_another() {
    let ins = instructions();
    let froms = args_of(&ins, "FROM");
    assert_eq!(froms.len(), 2, "build + runtime: {froms:?}");
    assert!(
        froms[0].contains("rust:") && froms[0].ends_with("AS build"),
        "{froms:?}"
    );
    assert!(
        froms[1].contains("debian:") && froms[1].contains("-slim"),
        "slim runtime: {froms:?}"
    );
    let runs = args_of(&ins, "RUN").join("\n");
    assert!(
        runs.contains("cargo build --release --locked --bin warden"),
        "{runs}"
    );

    // Non-root, by number (Kubernetes' runAsNonRoot can only check a number).
    let user = args_of(&ins, "USER");
    let uid: u32 = user
        .last()
        .and_then(|u| u.split(':').next()?.parse().ok())
        .expect("numeric USER");
    assert_ne!(uid, 0);
    assert!(
        runs.contains(&format!("--uid {uid}")),
        "the user {uid} is created"
    );

    // The state folders are volumes, under the entrypoint's WARDEN_STATE_DIR, owned by it.
    let env = args_of(&ins, "ENV").join(" ");
    assert!(env.contains("WARDEN_STATE_DIR=/var/lib/warden"), "{env}");
    let volumes = args_of(&ins, "VOLUME").join(" ");
    for dir in ["/var/lib/warden/audit", "/var/lib/warden/data"] {
        assert!(
            volumes.contains(&format!("\"{dir}\"")),
            "VOLUME {dir}: {volumes}"
        );
        assert!(runs.contains(dir), "{dir} is created for the user");
    }
    // …and where the Kubernetes config puts the audit store and data_dir.
    let k8s = std::fs::read_to_string(repo().join("deploy/kubernetes/base/config/warden.yaml"))
        .expect("k8s config");
    assert!(
        k8s.contains("path: /var/lib/warden/audit")
            && k8s.contains("data_dir: /var/lib/warden/data"),
        "{k8s}"
    );
    assert!(
        k8s.contains("/usr/share/warden/policies"),
        "the shipped packs are where the image puts them"
    );

    // Entrypoint and health check: the script copied in is the one they call.
    let copies = args_of(&ins, "COPY");
    let script_dest = copies
        .iter()
        .find_map(|c| c.strip_prefix("deploy/container/entrypoint.sh "))
        .expect("COPY of the entrypoint");
    assert_eq!(
        args_of(&ins, "ENTRYPOINT"),
        vec![format!("[\"{script_dest}\"]")]
    );
    let health = args_of(&ins, "HEALTHCHECK").join(" ");
    assert!(
        health.contains(&format!("CMD [\"{script_dest}\", \"healthcheck\"]")),
        "{health}"
    );
    assert!(
        env.contains("WARDEN_HEALTH_URL=http://127.0.0.1:8080/healthz"),
        "{env}"
    );
    assert!(args_of(&ins, "EXPOSE").contains(&"8080".to_string()));
    assert!(
        runs.contains("curl"),
        "the health check's client is installed"
    );

    // Every file copied from the build context exists (the build would fail otherwise).
    for c in copies.iter().filter(|c| !c.starts_with("--from")) {
        let src = c.split_whitespace().next().expect("source");
        assert!(repo().join(src).exists(), "COPY source {src} exists");
    }
    // The context never carries the build output (gigabytes) into the build.
    let ignore = std::fs::read_to_string(repo().join("deploy/Containerfile.dockerignore"))
        .expect("ignore file");
    assert!(ignore.lines().any(|l| l.trim() == "target/"), "{ignore}");
    let mode = std::fs::metadata(entrypoint())
        .expect("script")
        .permissions();
    assert!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o111 != 0,
        "the entrypoint is executable"
    );
}

/// Run the entrypoint with `env` (WARDEN_BIN is the real binary) and `args`.
fn run_entrypoint(env: &[(&str, &str)], args: &[&str]) -> Output {
    Command::new(entrypoint())
        .args(args)
        .env("WARDEN_BIN", BIN)
        .envs(env.iter().copied())
        .output()
        .expect("run the entrypoint")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A config whose paths are all absolute (like the image's), state under `state`.
fn write_config(dir: &Path, web: u16, extra: &str) -> PathBuf {
    std::fs::create_dir_all(dir.join("policies")).expect("mkdir");
    std::fs::write(dir.join("policies/main.yaml"), POLICY).expect("policy");
    let d = dir.display();
    let cfg = format!(
        "web:\n  listen: 127.0.0.1:{web}\naudit:\n  path: {d}/state/audit\n  checkpoint_file: {d}/state/data/checkpoints.jsonl\n\
         data_dir: {d}/state/data\npolicies: [{d}/policies]\nshutdown_grace: 2s\n{extra}"
    );
    let path = dir.join("warden.yaml");
    std::fs::write(&path, cfg).expect("config");
    path
}

#[test]
fn the_entrypoint_serves_with_the_real_binary_and_the_healthcheck_follows_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let web = free_port();
    let cfg = write_config(dir.path(), web, "");
    let state = dir.path().join("state");
    let health = format!("http://127.0.0.1:{web}/healthz");
    let env = [
        ("WARDEN_CONFIG", cfg.to_str().expect("utf8")),
        ("WARDEN_STATE_DIR", state.to_str().expect("utf8")),
        ("WARDEN_HEALTH_URL", health.as_str()),
    ];
    let mut cmd = Command::new(entrypoint());
    cmd.env("WARDEN_BIN", BIN).envs(env.iter().copied());
    // Killed on drop if an assertion below fails.
    let mut server = Server::spawn(cmd);
    wait_line(
        &server.stdout,
        "console listening on",
        Duration::from_secs(30),
    )
    .expect("warden started through the entrypoint");
    assert!(
        state.join("audit").is_dir() && state.join("data").is_dir(),
        "state folders made"
    );
    let probe = run_entrypoint(&env, &["healthcheck"]);
    assert!(
        probe.status.success(),
        "healthcheck on a running warden: {}",
        text(&probe)
    );

    // exec: the entrypoint's process *is* warden, so SIGTERM is its graceful stop.
    let pid = server.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill")
        .success());
    let status = server.child.wait().expect("wait");
    assert_eq!(status.code(), Some(0), "a clean stop after SIGTERM");
    assert!(wait_line(&server.stdout, "warden: stopped", Duration::from_secs(5)).is_ok());
    let probe = run_entrypoint(&env, &["healthcheck"]);
    assert!(
        !probe.status.success(),
        "healthcheck on a stopped warden fails"
    );
}

#[test]
fn the_entrypoint_refuses_a_missing_config_and_an_unwritable_state_folder() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("nope/warden.yaml");
    let out = run_entrypoint(&[("WARDEN_CONFIG", missing.to_str().expect("utf8"))], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains(&format!(
            "no readable config at {}; mount your warden.yaml there",
            missing.display()
        )),
        "{}",
        text(&out)
    );

    // A state folder that cannot hold audit/ and data/ (here a file; in a pod, a volume
    // the user cannot write) stops the start with the folder named.
    let cfg = write_config(dir.path(), free_port(), "");
    let file = dir.path().join("not-a-folder");
    std::fs::write(&file, "").expect("file");
    let out = run_entrypoint(
        &[
            ("WARDEN_CONFIG", cfg.to_str().expect("utf8")),
            ("WARDEN_STATE_DIR", file.to_str().expect("utf8")),
        ],
        &["serve"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains(&format!(
            "{}/audit is not a writable folder",
            file.display()
        )),
        "{}",
        text(&out)
    );

    let out = run_entrypoint(
        &[("WARDEN_CONFIG", cfg.to_str().expect("utf8"))],
        &["serve", "--config", "x"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

#[test]
fn the_entrypoint_passes_other_commands_to_warden() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_config(dir.path(), free_port(), "");
    let out = run_entrypoint(&[], &["check", "--config", cfg.to_str().expect("utf8")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("ok (0 targets"), "{}", text(&out));
    let out = run_entrypoint(&[], &["--version"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("warden "),
        "{}",
        text(&out)
    );
}

#[test]
fn the_entrypoint_gives_each_fleet_replica_its_own_id() {
    let Some(db) = test_database("deploy_image_fleet", "SELECT 1") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let fleet = format!(
        "fleet:\n  url: postgresql://postgres@127.0.0.1:5432/{}?sslmode=disable\n  replica_id_env: WARDEN_REPLICA_ID\n",
        db.0
    );
    let cfg = write_config(dir.path(), free_port(), &fleet);
    let env = |id: &str| {
        vec![
            ("WARDEN_CONFIG", cfg.to_str().expect("utf8").to_string()),
            (
                "WARDEN_STATE_DIR",
                dir.path().join("state").to_str().expect("utf8").to_string(),
            ),
            ("WARDEN_REPLICA_ID", id.to_string()),
        ]
    };
    let bad = Command::new(entrypoint())
        .env("WARDEN_BIN", BIN)
        .envs(env("pod/1"))
        .output()
        .expect("run");
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
    assert!(
        text(&bad).contains("`pod/1`: use letters, digits"),
        "{}",
        text(&bad)
    );

    let mut child = Command::new(entrypoint())
        .env("WARDEN_BIN", BIN)
        .envs(env("warden-7"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let stdout = lines(child.stdout.take().expect("stdout"));
    let started = wait_line(&stdout, "console listening on", Duration::from_secs(30));
    let registered = psql_admin(
        &db.0,
        "SELECT 1 FROM warden_replicas WHERE replica_id = 'warden-7' HAVING count(*) = 1",
    ) && Command::new("psql")
        .args(["-h", "127.0.0.1", "-U", "postgres", "-d", &db.0, "-qAtc"])
        .arg("SELECT string_agg(replica_id, ',') FROM warden_replicas")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "warden-7");
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().expect("wait");
    started.expect("warden started in fleet mode through the entrypoint");
    assert!(
        registered,
        "the replica registered as warden-7, from WARDEN_REPLICA_ID"
    );
    assert_eq!(status.code(), Some(0));
}
