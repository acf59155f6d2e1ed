//! The direct serializer must produce exactly the bytes of the `Value`-based reference.

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::Value;
use warden_inspect::http::HttpFacts;
use warden_inspect::kube::KubeFacts;
use warden_inspect::shell::{ShellCommand, SshFacts, SshRequest};
use warden_inspect::sql::{SqlFacts, SqlStatement, StatementKind};
use warden_inspect::{Action, Actor, Facts, Protocol, TargetRef};

use super::*;
use crate::event::{ApprovalRef, Event, EventKind, Outcome, VerdictSummary};

fn reference<T: Serialize>(v: &T) -> String {
    let value = serde_json::to_value(v).expect("to_value");
    let mut out = Vec::new();
    write_value(&value, &mut out).expect("write");
    String::from_utf8(out).expect("utf8")
}

fn direct<T: Serialize>(v: &T) -> String {
    String::from_utf8(to_vec(v).expect("to_vec")).expect("utf8")
}

#[test]
fn sorts_keys_and_drops_whitespace() {
    let v: Value = serde_json::from_str(r#"{ "b": [1, {"z": null, "a": "x\n\"y"}], "a": true }"#)
        .expect("json");
    let want = r#"{"a":true,"b":[1,{"a":"x\n\"y","z":null}]}"#;
    let mut out = Vec::new();
    write_value(&v, &mut out).expect("write");
    assert_eq!(String::from_utf8(out).expect("utf8"), want);
    assert_eq!(direct(&v), want);
}

#[derive(Serialize)]
enum Shapes {
    Unit,
    Newtype(u8),
    Tuple(i32, String),
    Struct { zeta: bool, alpha: Option<u8> },
}

#[derive(Serialize)]
struct Unordered {
    zulu: u64,
    alpha: Vec<Shapes>,
    #[serde(with = "serde_bytes_like")]
    mike: Vec<u8>,
    bravo: (char, f32, f64, f64, i128, u128),
    labels: BTreeMap<i64, bool>,
    flags: BTreeMap<bool, ()>,
}

mod serde_bytes_like {
    pub fn serialize<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(v)
    }
}

/// A map that repeats a key: `Value` keeps the last value.
struct Duplicates;

impl Serialize for Duplicates {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("b", &1)?;
        m.serialize_entry("a", &2)?;
        m.serialize_entry("b", &3)?;
        m.serialize_entry("c\u{1}\"", &4)?;
        m.end()
    }
}

#[test]
fn every_serde_shape_matches_the_reference() {
    let v = Unordered {
        zulu: u64::MAX,
        alpha: vec![
            Shapes::Unit,
            Shapes::Newtype(7),
            Shapes::Tuple(-3, "t\u{7f}\u{2028}é".into()),
            Shapes::Struct {
                zeta: true,
                alpha: None,
            },
        ],
        mike: vec![0, 1, 255],
        bravo: ('"', 0.1, f64::NAN, -1.5e300, -170_141_183, 9),
        labels: [(-1, true), (10, false), (2, true)].into(),
        flags: [(true, ()), (false, ())].into(),
    };
    assert_eq!(direct(&v), reference(&v));
    assert_eq!(direct(&Duplicates), reference(&Duplicates));
    assert_eq!(direct(&Duplicates), r#"{"a":2,"b":3,"c\u0001\"":4}"#);
    assert!(to_vec(&(i128::MAX,)).is_err());
    assert!(serde_json::to_value((i128::MAX,)).is_err());
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        any::<String>().prop_map(Value::String),
        "[a-z\"\\\\\u{0}-\u{1f}é€😀/]{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z_\"\u{0}-\u{7f}é😀]{0,6}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[ -~]{0,40}",
        "[a-z '\"\\\\\n\t\r\u{0}-\u{1f}é€😀]{0,24}",
    ]
}

fn opt_text() -> impl Strategy<Value = Option<String>> {
    prop::option::of(text())
}

fn actor() -> impl Strategy<Value = Actor> {
    (text(), prop::collection::vec(text(), 0..3), opt_text()).prop_map(
        |(name, roles, client_addr)| Actor {
            name,
            roles,
            client_addr,
            alerts: Vec::new(),
        },
    )
}

fn http_facts() -> impl Strategy<Value = HttpFacts> {
    (text(), opt_text(), text(), opt_text(), any::<bool>()).prop_map(
        |(method, wire_method, path, query, unparsed)| HttpFacts {
            method,
            wire_method,
            path,
            query,
            unparsed,
            ..HttpFacts::default()
        },
    )
}

fn facts() -> impl Strategy<Value = Facts> {
    let sql = (
        prop::collection::vec(
            (prop::collection::vec(text(), 0..3), any::<[bool; 4]>()),
            0..3,
        ),
        opt_text(),
    )
        .prop_map(|(stmts, parse_error)| {
            Facts::Sql(std::sync::Arc::new(SqlFacts {
                statements: stmts
                    .into_iter()
                    .map(|(objects, b)| SqlStatement {
                        kind: if b[0] {
                            StatementKind::Delete
                        } else {
                            StatementKind::Select
                        },
                        objects,
                        without_where: b[1],
                        opaque: b[2],
                        writes: b[3],
                        nested: if b[3] {
                            vec![StatementKind::Update]
                        } else {
                            vec![]
                        },
                    })
                    .collect(),
                unparsed: parse_error.is_some(),
                parse_error,
            }))
        });
    let kube =
        (http_facts(), text(), opt_text(), opt_text()).prop_map(|(http, verb, namespace, name)| {
            Facts::Kubernetes {
                http,
                kube: KubeFacts {
                    verb,
                    namespace,
                    name,
                    ..KubeFacts::default()
                },
            }
        });
    let ssh = (
        prop::collection::vec(prop::collection::vec(text(), 0..4), 0..3),
        opt_text(),
    )
        .prop_map(|(cmds, subsystem)| {
            Facts::Ssh(SshFacts {
                request: SshRequest::Exec,
                commands: cmds
                    .into_iter()
                    .map(|argv| ShellCommand {
                        program: argv.first().cloned().unwrap_or_default(),
                        argv,
                        ..ShellCommand::default()
                    })
                    .collect(),
                subsystem,
                ..SshFacts::default()
            })
        });
    prop_oneof![
        Just(Facts::None),
        http_facts().prop_map(Facts::Http),
        sql,
        kube,
        ssh
    ]
}

fn action() -> impl Strategy<Value = Action> {
    (
        actor(),
        text(),
        prop::collection::btree_map(text(), text(), 0..3),
        opt_text(),
        text(),
        facts(),
    )
        .prop_map(|(user, name, labels, session, raw, facts)| Action {
            protocol: Protocol::Postgres,
            user,
            target: TargetRef { name, labels },
            session,
            raw,
            facts,
        })
}

fn event() -> impl Strategy<Value = Event> {
    let verdict = (text(), prop::collection::vec(text(), 0..3), opt_text()).prop_map(
        |(decision, rules, message)| VerdictSummary {
            decision,
            dry_run: rules.iter().take(1).cloned().collect(),
            rules,
            message,
        },
    );
    let approval = (text(), prop::collection::vec(text(), 0..3), opt_text()).prop_map(
        |(id, approvers, reason)| ApprovalRef {
            id,
            approvers,
            reason,
        },
    );
    let outcome = (opt_text(), prop::option::of(any::<u64>()), opt_text()).prop_map(
        |(status, rows, error)| Outcome {
            status,
            rows,
            bytes: rows.map(|r| r / 3),
            error,
            duration_ms: rows.map(|r| r % 1000),
        },
    );
    (
        prop::option::of(actor()),
        opt_text(),
        opt_text(),
        prop::option::of(action()),
        prop::option::of(verdict),
        prop::option::of(approval),
        prop::option::of(outcome),
        opt_text(),
        any::<bool>(),
    )
        .prop_map(
            |(actor, target, session, action, verdict, approval, outcome, detail, ssh)| {
                let mut ev = Event::new(if ssh {
                    EventKind::SessionRecording
                } else {
                    EventKind::ActionDecided
                });
                ev.actor = actor;
                ev.target = target;
                ev.protocol = ssh.then_some(Protocol::Ssh);
                ev.session = session;
                ev.action = action;
                ev.verdict = verdict;
                ev.approval = approval;
                ev.outcome = outcome;
                ev.detail = detail;
                ev
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_json_value_matches_the_reference(v in json_value()) {
        prop_assert_eq!(direct(&v), reference(&v));
    }
}

#[test]
fn any_event_matches_the_reference() {
    // The event strategy is deep: unoptimised builds need more than the default stack.
    let run = || {
        let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(512));
        runner
            .run(&event(), |ev| {
                prop_assert_eq!(direct(&ev), reference(&ev));
                Ok(())
            })
            .map_err(|e| e.to_string())
    };
    let result = std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(run)
        .expect("spawn")
        .join()
        .expect("no panic");
    if let Err(e) = result {
        panic!("{e}");
    }
}
