//! The one test command: the README shows `scripts/test`, `.ci/run` runs exactly it
//! (after fmt and clippy), and the script parses, documents itself and refuses unknown
//! arguments. Running its set-up is left to CI (it installs packages).

use std::path::PathBuf;
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The shell lines of a file, comments and blank lines dropped.
fn commands(text: &str) -> Vec<&str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

#[test]
fn the_readme_and_ci_run_the_same_test_command() {
    let readme = read("README.md");
    let blocks: Vec<&str> = readme
        .split("```sh\n")
        .skip(1)
        .filter_map(|b| b.split("```").next())
        .collect();
    assert!(
        blocks.iter().any(|b| b.trim() == "scripts/test"),
        "README shows `scripts/test`: {blocks:?}"
    );
    assert!(
        blocks.iter().any(|b| b.trim().ends_with("-- demo")),
        "README keeps `warden demo`: {blocks:?}"
    );

    let ci = read(".ci/run");
    let cmds = commands(&ci);
    let fmt = cmds
        .iter()
        .position(|l| *l == "cargo fmt --all -- --check")
        .expect("fmt in .ci/run");
    let clippy = cmds
        .iter()
        .position(|l| *l == "cargo clippy --workspace --all-targets -- -D warnings")
        .expect("clippy in .ci/run");
    let test = cmds
        .iter()
        .position(|l| *l == "scripts/test")
        .expect("scripts/test in .ci/run");
    assert!(
        fmt < clippy && clippy < test,
        "fmt, clippy, then the tests: {cmds:?}"
    );
    assert!(
        !ci.contains("apt-get") && !ci.contains("cargo test"),
        "the set-up and tests live in scripts/test only"
    );

    let script = read("scripts/test");
    for needle in [
        "cargo test --workspace --no-fail-fast",
        "policy test policies/",
        "apt-get install",
        "pg_isready",
        "mariadb-admin",
    ] {
        assert!(script.contains(needle), "scripts/test does {needle}");
    }
}

#[test]
fn the_script_parses_documents_itself_and_refuses_unknown_arguments() {
    let script = repo().join("scripts/test");
    let syntax = Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .expect("bash");
    assert!(
        syntax.status.success(),
        "{}",
        String::from_utf8_lossy(&syntax.stderr)
    );

    let help = Command::new(&script).arg("--help").output().expect("run");
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(help.status.success());
    assert!(
        text.contains("--setup-only") && !text.contains("set -euo"),
        "{text}"
    );

    let bad = Command::new(&script).arg("--bogus").output().expect("run");
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown argument '--bogus'"));
}
