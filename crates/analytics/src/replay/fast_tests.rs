//! Differential tests: the fast line reader (`fast`, through `line::parse`) must give
//! exactly what the serde reference (`line::parse_serde`) gives — the same observation
//! or the same error — on export lines, loosely written lines and mutated ones.
//!
//! Test code only; never a timing (speed is measured in the benches).

use proptest::prelude::*;
use serde_json::{json, Value};

use super::fast;
use super::line::{parse, parse_serde};
use super::scan::string_stop;

/// An export line as `warden audit export` writes it.
fn export_line() -> String {
    json!({"seq": 41, "time": "2026-01-05T07:55:42.638138Z", "time_ns": 1_767_599_742_638_138_000u64,
        "prev_hash": "aa85", "hash": "28a1",
        "event": {"kind": "action_decided",
            "actor": {"name": "rupert", "roles": ["analyst", "dba"], "client_addr": "10.1.1.27:44020"},
            "target": "warehouse", "protocol": "postgres", "session": "s-21",
            "action": {"protocol": "postgres", "user": {"name": "rupert", "roles": ["analyst"]},
                "target": {"name": "warehouse", "labels": {"env": "production"}}, "session": "s-21",
                "raw": "GRANT SELECT ON payroll TO eve",
                "facts": {"kind": "sql", "statements": [{"kind": "grant", "objects": ["payroll"]}], "unparsed": false}},
            "verdict": {"decision": "deny", "rules": [{"id": "r1", "effect": "deny"}]}}})
    .to_string()
}

fn same(text: &str) {
    let fast = parse(text.as_bytes(), 9);
    let reference = parse_serde(text.as_bytes(), 9);
    assert_eq!(fast, reference, "line: {text}");
}

#[test]
fn reads_the_export_shape_itself() {
    let line = export_line();
    assert!(
        fast::scan(&line).is_some(),
        "the export shape must not fall back"
    );
    same(&line);
    let o = parse(line.as_bytes(), 9).unwrap();
    assert_eq!(o.user.as_deref(), Some("rupert"));
    assert_eq!(o.roles, vec!["analyst", "dba"]);
    assert_eq!(o.privilege.as_deref(), Some("GRANT"));
    let completed = r#"{"seq":3475,"time_ns":1767599742638138000,"event":{"kind":"action_completed","actor":{"name":"r","roles":[],"client_addr":"10.1.1.27:1"},"target":"w","protocol":"postgres","outcome":{"status":"SELECT 3","rows":3,"bytes":120,"duration_ms":357,"error":null},"detail":"decided"}}"#;
    assert!(fast::scan(completed).is_some());
    same(completed);
}

#[test]
fn event_time_in_nanoseconds_is_exact() {
    // 2^60 + 1: an f64 would round it to a multiple of 256.
    let ns = (1u64 << 60) + 1;
    for line in [
        format!(r#"{{"seq":1,"time_ns":{ns},"event":{{"kind":"auth_failed"}}}}"#),
        format!(r#"{{"seq":1,"time_ns":"{ns}","event":{{"kind":"auth_failed"}}}}"#),
    ] {
        same(&line);
        assert_eq!(parse(line.as_bytes(), 1).unwrap().time, ns as i64, "{line}");
    }
}

#[test]
fn keys_out_of_the_export_order_read_the_same() {
    let line = r#"{"event":{"detail":"d","outcome":{"bytes":5,"status":"SELECT 1","rows":1},"protocol":"postgres","target":"w","actor":{"client_addr":"10.0.0.1:5","roles":["a"],"name":"r"},"kind":"action_completed"},"time_ns":7,"seq":2}"#;
    assert!(fast::scan(line).is_some());
    same(line);
    let o = parse(line.as_bytes(), 1).unwrap();
    assert_eq!(
        (o.user.as_deref(), o.rows, o.bytes, o.seq),
        (Some("r"), 1, 5, 2)
    );
}

#[test]
fn declines_what_serde_must_judge() {
    for line in [
        r#"{"seq":1,"time_ns":5,"event":{"kind":"auth_failed","actor":{"name":"a\"b"}}}"#,
        r#"{"seq":1,"time_ns":5,"event":{"kind":"auth_failed"},"event":{"kind":"x"}}"#,
        r#"{"seq":1.5,"time_ns":5,"event":{"kind":"auth_failed"}}"#,
        r#"{"seq":1,"time_ns":5,"event":{"kind":"auth_failed","actor":"alice"}}"#,
        r#"{"seq":1,"time_ns":5,"event":{"kind":"auth_failed"}} x"#,
        r#"{"seq":1,"time_ns":5,"event":{"kind":"auth_failed","x":[1,2,}}"#,
        r#"{"seq":1,"time_ns":5,"event":{"kind":"auth_failed","x":"bad \q escape"}}"#,
        r#"{"seq":01,"time_ns":5,"event":{"kind":"auth_failed"}}"#,
    ] {
        assert!(fast::scan(line).is_none(), "{line}");
        same(line);
    }
}

#[test]
fn bad_lines_give_serdes_error() {
    for line in [
        "{",
        "not json",
        r#"{"event":{"kind":"x"}}"#,
        r#"{"time_ns":1}"#,
        "[1,2]",
    ] {
        let err = parse(line.as_bytes(), 3).unwrap_err();
        assert_eq!(Err(err), parse_serde(line.as_bytes(), 3));
    }
}

/// Strings that need escaping, look like numbers, are empty or are not ASCII.
fn a_string() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-z_]{0,12}",
        1 => Just("say \"hi\"\\ \n\t\u{1}".to_string()),
        1 => Just("naïve ✓".to_string()),
        1 => "[0-9]{1,4}",
        1 => prop::sample::select(vec!["auth_failed", "authenticated", "action_decided",
            "action_completed", "policy_reloaded", "sql", "kubernetes", "grant", "select",
            "deny", "hold", "allow", "500", "ERROR", "10.0.0.1:22", "2026-01-05T07:55:42Z",
            "users added: bob; roles changed: eve", "GRANT ALL ON t TO x", "rolebindings", "create"])
            .prop_map(str::to_string),
    ]
}

fn a_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => a_string().prop_map(Value::from),
        1 => any::<u64>().prop_map(Value::from),
        1 => (0u64..5000).prop_map(Value::from),
        1 => any::<i32>().prop_map(Value::from),
        1 => (-1e6f64..1e6).prop_map(Value::from),
        1 => any::<bool>().prop_map(Value::from),
        1 => Just(Value::Null),
    ]
}

const KEYS: &[&str] = &[
    "seq",
    "time",
    "time_ns",
    "event",
    "kind",
    "actor",
    "name",
    "roles",
    "client_addr",
    "target",
    "protocol",
    "action",
    "user",
    "raw",
    "facts",
    "statements",
    "unparsed",
    "kube",
    "verb",
    "resource",
    "verdict",
    "decision",
    "outcome",
    "status",
    "rows",
    "bytes",
    "error",
    "detail",
    "session",
    "labels",
];

/// Any JSON value, keyed mostly with the names the reader looks for.
fn a_value() -> impl Strategy<Value = Value> {
    a_leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..7).prop_map(|kv| {
                Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }),
        ]
    })
}

/// Mostly well-formed lines: an export line with some of its values swapped.
fn a_line() -> impl Strategy<Value = String> {
    (
        prop::collection::vec((prop::sample::select(KEYS), a_value()), 0..5),
        any::<bool>(),
    )
        .prop_map(|(swaps, nested)| {
            let mut line: Value = serde_json::from_str(&export_line()).unwrap();
            for (key, value) in swaps {
                let at = if nested {
                    &mut line["event"]
                } else {
                    &mut line
                };
                if let Some(obj) = at.as_object_mut() {
                    obj.insert(key.to_string(), value);
                }
            }
            line.to_string()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn string_stop_finds_the_first_quote_backslash_or_control(
        bytes in prop::collection::vec(prop_oneof![
            8 => 0x20u8..0xff, 1 => Just(b'"'), 1 => Just(b'\\'), 1 => 0u8..0x20,
        ], 0..40),
    ) {
        let naive = bytes.iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20);
        prop_assert_eq!(string_stop(&bytes), naive);
    }

    #[test]
    fn fast_reader_equals_serde_on_generated_lines(line in a_line()) {
        same(&line);
    }

    #[test]
    fn fast_reader_equals_serde_on_generated_values(v in a_value()) {
        same(&v.to_string());
    }

    #[test]
    fn fast_reader_equals_serde_on_mutated_lines(
        line in a_line(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0u8..4, prop::sample::select(
            vec![b'"', b'\\', b'{', b'}', b'[', b']', b',', b':', b' ', b'0', b'-', b'.', b'e', b'n', b'u', 0x01]
        )), 1..4),
    ) {
        let mut bytes = line.into_bytes();
        for (at, op, byte) in edits {
            if bytes.is_empty() {
                break;
            }
            let i = at.index(bytes.len());
            match op {
                0 => { bytes.remove(i); }
                1 => bytes.insert(i, byte),
                2 => bytes[i] = byte,
                _ => bytes.truncate(i),
            }
        }
        let fast = parse(&bytes, 9);
        let reference = parse_serde(&bytes, 9);
        prop_assert_eq!(fast, reference);
    }
}
