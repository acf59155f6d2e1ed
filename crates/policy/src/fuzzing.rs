//! Entry point shared by the `policy_yaml` fuzz target (`fuzz/fuzz_targets/`) and the
//! corpus replay test (`tests/fuzz_corpus.rs`). Not an API: hidden from the docs.
//!
//! Must never panic on any input: a policy file is either compiled or refused with
//! diagnostics that point inside it.

use crate::{run_tests, PolicySet};

/// Load the input as one policy file; when it compiles, run its embedded tests (which
/// evaluates every test action against the rules).
pub fn policy_yaml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // An upper bound of the lines a YAML reader sees (it also breaks at CR, NEL, LS, PS).
    let lines = 1 + text
        .chars()
        .filter(|c| matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}'))
        .count();
    match PolicySet::from_sources(&[("fuzz.yaml".to_string(), text.to_string())]) {
        Ok(set) => {
            let report = run_tests(&set);
            assert_eq!(report.passed + report.failed, set.tests().len());
        }
        Err(errors) => {
            assert!(!errors.0.is_empty(), "refused without a diagnostic");
            for d in &errors.0 {
                // Positions are 1-based and inside the file (or 0 = the whole file).
                assert!(d.line <= lines, "diagnostic line {} of {lines}", d.line);
            }
        }
    }
}
