//! The shipped policy packs (`policies/`) load and pass their own embedded tests with the
//! real inspectors, so changes to inspection or evaluation that would change a shipped
//! verdict fail here (as well as in `warden policy test policies/` in CI).

use std::path::Path;

use warden_policy::{run_tests, PolicySet};

#[test]
fn shipped_packs_pass_their_embedded_tests() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies");
    let set = match PolicySet::load(&[dir]) {
        Ok(s) => s,
        Err(e) => panic!("shipped policies do not load:\n{e}"),
    };
    assert!(!set.tests().is_empty(), "the packs carry tests");
    let report = run_tests(&set);
    let failures: Vec<String> = report
        .results
        .iter()
        .filter(|r| !r.passed)
        .map(|r| format!("{}:{} {}: {:?}", r.file, r.line, r.name, r.failure))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
