//! The crate boundaries of docs/architecture.md, checked from `cargo metadata`: a
//! dependency that breaks one fails here, not in review.

use std::collections::BTreeMap;
use std::process::Command;

/// Each workspace crate's normal (non-dev) dependencies on other workspace crates.
fn workspace_deps() -> BTreeMap<String, Vec<String>> {
    let out = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata json");
    let mut deps = BTreeMap::new();
    for pkg in meta["packages"].as_array().expect("packages") {
        let name = pkg["name"].as_str().expect("name").to_string();
        let normal: Vec<String> = pkg["dependencies"]
            .as_array()
            .expect("dependencies")
            .iter()
            .filter(|d| d["kind"].is_null())
            .map(|d| d["name"].as_str().expect("dep name").to_string())
            .collect();
        deps.insert(name, normal);
    }
    deps
}

#[test]
fn front_ends_depend_on_no_other_front_end_nor_web_nor_app() {
    let deps = workspace_deps();
    let front_ends: Vec<&String> = deps
        .keys()
        .filter(|n| n.starts_with("warden-frontend-"))
        .collect();
    for expected in [
        "warden-frontend-postgres",
        "warden-frontend-mysql",
        "warden-frontend-http",
        "warden-frontend-ssh",
    ] {
        assert!(deps.contains_key(expected), "{expected} is missing");
        assert!(
            deps["warden-app"].iter().any(|d| d == expected),
            "the app's registry does not name {expected}"
        );
    }
    for fe in front_ends {
        for d in &deps[fe] {
            assert!(
                !(d.starts_with("warden-frontend-") || d == "warden-web" || d == "warden-app"),
                "{fe} depends on {d}"
            );
        }
    }
}

#[test]
fn config_has_no_runtime_and_gate_names_no_storage_engine_or_front_end() {
    let deps = workspace_deps();
    for d in &deps["warden-config"] {
        assert!(
            !["tokio", "sled", "warden-gate", "warden-app"].contains(&d.as_str())
                && !d.starts_with("warden-frontend-"),
            "warden-config depends on {d}"
        );
    }
    for d in &deps["warden-gate"] {
        assert!(
            d != "sled" && !d.starts_with("warden-frontend-") && d != "warden-app",
            "warden-gate depends on {d}"
        );
    }
}

#[test]
fn only_the_app_names_every_front_end_and_only_storage_crates_name_sled() {
    let deps = workspace_deps();
    for (name, list) in &deps {
        let front_ends = list
            .iter()
            .filter(|d| d.starts_with("warden-frontend-"))
            .count();
        if name != "warden-app" {
            assert_eq!(front_ends, 0, "{name} names a front-end");
        }
        let allowed_sled = ["warden-audit", "warden-approval", "warden-app"];
        if list.iter().any(|d| d == "sled") {
            assert!(allowed_sled.contains(&name.as_str()), "{name} names sled");
        }
    }
}
