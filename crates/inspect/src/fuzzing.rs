//! Entry points shared by the `cargo fuzz` targets (`fuzz/fuzz_targets/`) and the
//! corpus replay tests (`tests/fuzz_corpus.rs`): one function per target, taking the raw
//! fuzzer input. Not an API: hidden from the docs, and stable only for those two users.
//!
//! Each entry must never panic on any input (that is what the fuzzer looks for) and
//! checks the invariants that make the facts safe to decide on: a rejected or
//! unrecognised input is reported as such, never as an ordinary harmless request.

use crate::{http, kube, shell, sql};

/// SQL inspection of the input as text, in both dialects.
pub fn sql_inspect(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for dialect in [sql::Dialect::Postgres, sql::Dialect::Mysql] {
        let facts = sql::inspect(&text, dialect);
        let _ = sql::literal_shape(&text);
        // Facts are audited and compared as JSON: they must serialise.
        serde_json::to_string(&facts).expect("SQL facts serialise");
    }
}

/// Shell lexing and analysis of the input as an exec command and as an interactive line.
pub fn shell_parse(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for facts in [
        shell::inspect_exec(&text),
        shell::inspect_interactive_line(&text),
    ] {
        serde_json::to_string(&facts).expect("SSH facts serialise");
    }
}

/// An HTTP request as the HTTP front-end reads it, then the Kubernetes resolver. The
/// input is `METHOD TARGET` on the first line, then `name: value` header lines.
pub fn kube_path(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.split('\n');
    let first = lines.next().unwrap_or("");
    let (method, target) = first.split_once(' ').unwrap_or((first, "/"));
    let headers: Vec<(&str, &str)> = lines.filter_map(|l| l.split_once(':')).collect();
    let Ok(facts) = http::inspect(method, target, headers.iter().copied()) else {
        return;
    };
    // A normalised path is stable: normalising it again changes nothing.
    if facts.path != "*" {
        let again = http::normalize_path(&http::encode_path(&facts.path));
        assert_eq!(again.as_deref(), Ok(facts.path.as_str()), "re-normalised");
    }
    let kube = kube::inspect(&facts.method, &facts.path, facts.query.as_deref());
    if kube.unparsed || kube.non_resource {
        return;
    }
    // A resource request always names its resource, and a name never holds a slash.
    assert!(
        !kube.resource.is_empty(),
        "resource request without resource"
    );
    for part in [&kube.namespace, &kube.name].into_iter().flatten() {
        assert!(!part.is_empty() && !part.contains('/'), "bad part {part:?}");
    }
}
