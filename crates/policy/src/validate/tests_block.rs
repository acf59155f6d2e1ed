//! The `tests:` block of a policy file: each entry names an action (as text the real
//! inspectors will read) and the decision expected for it.

use std::collections::BTreeMap;

use warden_inspect::{Actor, Protocol, TargetRef};

use super::reader::{join, Reader};
use super::{decision, FileModel};
use crate::test_spec::{PolicyTest, SshTestRequest, TestAction, TestPayload};
use warden_diagnostic::yaml::{Node, Value};

const TEST_KEYS: &[&str] = &["name", "action", "expect", "rules"];
const ACTION_KEYS: &[&str] = &[
    "protocol",
    "target",
    "user",
    "sql",
    "http",
    "kubernetes",
    "ssh",
];
const PROTOCOLS: &[&str] = &["postgres", "mysql", "http", "kubernetes", "ssh"];

pub fn tests(r: &mut Reader, node: &Node, file: &str, model: &mut FileModel) {
    let items = match &node.value {
        Value::Seq(items) => items,
        Value::Null => return,
        _ => {
            r.error(node.pos, "tests", "expected a list of tests");
            return;
        }
    };
    for (i, item) in items.iter().enumerate() {
        let path = format!("tests[{i}]");
        let before = r.diags.list.len();
        let Some(f) = r.fields(item, &path, TEST_KEYS) else {
            continue;
        };
        let name = match f.get("name") {
            Some(n) => r.string(n, &join(&path, "name")),
            None => {
                r.error(f.pos, &path, "missing key `name`");
                None
            }
        };
        let action = match f.get("action") {
            Some(n) => action(r, n, &join(&path, "action")),
            None => {
                r.error(f.pos, &path, "missing key `action`");
                None
            }
        };
        let expect = match f.get("expect") {
            Some(n) => decision(r, n, &join(&path, "expect")),
            None => {
                r.error(f.pos, &path, "missing key `expect` (allow, deny or hold)");
                None
            }
        };
        let mut rules = Vec::new();
        if let Some(n) = f.get("rules") {
            for (rule, pos) in r.strings(n, &join(&path, "rules")).unwrap_or_default() {
                model.test_rule_refs.push((rule.clone(), pos));
                rules.push(rule);
            }
        }
        if r.diags.list.len() > before {
            continue;
        }
        if let (Some(name), Some(action), Some(expect)) = (name, action, expect) {
            model.tests.push(PolicyTest {
                name,
                file: file.to_string(),
                line: f.pos.line,
                action,
                expect,
                rules,
            });
        }
    }
}

fn action(r: &mut Reader, node: &Node, path: &str) -> Option<TestAction> {
    let f = r.fields(node, path, ACTION_KEYS)?;
    let protocol = match f.get("protocol") {
        Some(n) => r
            .word(n, &join(path, "protocol"), PROTOCOLS)
            .and_then(|w| Protocol::parse(&w)),
        None => {
            r.error(f.pos, path, "missing key `protocol`");
            None
        }
    };
    let target = f
        .get("target")
        .and_then(|n| target(r, n, &join(path, "target")));
    let user = f.get("user").and_then(|n| user(r, n, &join(path, "user")));
    let mut payloads = Vec::new();
    for key in ["sql", "http", "kubernetes", "ssh"] {
        if let Some(n) = f.get(key) {
            payloads.push((key, n));
        }
    }
    if payloads.len() > 1 {
        r.error(f.pos, path, "give only one of sql, http, kubernetes, ssh");
        return None;
    }
    let protocol = protocol?;
    let payload = match payloads.first() {
        None => TestPayload::None,
        Some((key, n)) => {
            let kp = join(path, key);
            let fits = match *key {
                "sql" => matches!(protocol, Protocol::Postgres | Protocol::Mysql),
                "http" => protocol == Protocol::Http,
                "kubernetes" => protocol == Protocol::Kubernetes,
                _ => protocol == Protocol::Ssh,
            };
            if !fits {
                r.error(
                    n.pos,
                    &kp,
                    format!("`{key}` does not fit protocol {protocol}"),
                );
                return None;
            }
            match *key {
                "sql" => TestPayload::Sql(r.string(n, &kp)?),
                "http" => {
                    let (method, path) = request(r, n, &kp)?;
                    TestPayload::Http { method, path }
                }
                "kubernetes" => {
                    let (method, path) = request(r, n, &kp)?;
                    TestPayload::Kubernetes { method, path }
                }
                _ => TestPayload::Ssh(ssh(r, n, &kp)?),
            }
        }
    };
    Some(TestAction {
        protocol,
        target: target.unwrap_or_default(),
        user: user.unwrap_or_default(),
        payload,
    })
}

fn request(r: &mut Reader, node: &Node, path: &str) -> Option<(String, String)> {
    let f = r.fields(node, path, &["method", "path"])?;
    let method = match f.get("method") {
        Some(n) => r.string(n, &join(path, "method"))?.to_ascii_uppercase(),
        None => "GET".to_string(),
    };
    let Some(p) = f.get("path") else {
        r.error(f.pos, path, "missing key `path`");
        return None;
    };
    Some((method, r.string(p, &join(path, "path"))?))
}

fn ssh(r: &mut Reader, node: &Node, path: &str) -> Option<SshTestRequest> {
    if let Value::Scalar { text, .. } = &node.value {
        return Some(SshTestRequest::Exec(text.clone()));
    }
    let f = r.fields(node, path, &["command", "request", "subsystem", "to"])?;
    if let Some(c) = f.get("command") {
        return Some(SshTestRequest::Exec(r.string(c, &join(path, "command"))?));
    }
    let Some(req) = f.get("request") else {
        r.error(
            f.pos,
            path,
            "give `command: ...` or `request: shell|subsystem|forwarding`",
        );
        return None;
    };
    let words = ["exec", "shell", "subsystem", "forwarding"];
    match r.word(req, &join(path, "request"), &words)?.as_str() {
        "shell" => Some(SshTestRequest::Shell),
        "forwarding" => {
            let Some(to) = f.get("to") else {
                return Some(SshTestRequest::Forwarding(None));
            };
            let key = join(path, "to");
            let to = r.string(to, &key)?;
            let valid = to
                .rsplit_once(':')
                .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok());
            if !valid {
                r.error(f.pos, &key, format!("`{to}` is not `host:port`"));
                return None;
            }
            Some(SshTestRequest::Forwarding(Some(to)))
        }
        "subsystem" => {
            let Some(s) = f.get("subsystem") else {
                r.error(f.pos, path, "missing key `subsystem` (e.g. sftp)");
                return None;
            };
            Some(SshTestRequest::Subsystem(
                r.string(s, &join(path, "subsystem"))?,
            ))
        }
        _ => {
            r.error(
                req.pos,
                &join(path, "request"),
                "`request: exec` needs `command:`",
            );
            None
        }
    }
}

fn target(r: &mut Reader, node: &Node, path: &str) -> Option<TargetRef> {
    let f = r.fields(node, path, &["name", "labels"])?;
    let name = f
        .get("name")
        .and_then(|n| r.string(n, &join(path, "name")))
        .unwrap_or_default();
    let mut labels = BTreeMap::new();
    if let Some(n) = f.get("labels") {
        let lp = join(path, "labels");
        let Value::Map(entries) = &n.value else {
            r.error(n.pos, &lp, "expected a mapping of label: value");
            return None;
        };
        for (k, v) in entries {
            let (Some(k), Some(v)) = (k.as_str(), v.as_str()) else {
                r.error(k.pos, &lp, "labels are string: string");
                continue;
            };
            labels.insert(k.to_string(), v.to_string());
        }
    }
    Some(TargetRef { name, labels })
}

fn user(r: &mut Reader, node: &Node, path: &str) -> Option<Actor> {
    let f = r.fields(node, path, &["name", "roles", "alerts"])?;
    let name = f
        .get("name")
        .and_then(|n| r.string(n, &join(path, "name")))
        .unwrap_or_default();
    let roles = f
        .get("roles")
        .and_then(|n| r.strings(n, &join(path, "roles")))
        .map(|l| l.into_iter().map(|x| x.0).collect())
        .unwrap_or_default();
    // The detectors of the user's open alerts, as the Gate fills them in.
    let alerts = f
        .get("alerts")
        .and_then(|n| r.strings(n, &join(path, "alerts")))
        .map(|l| l.into_iter().map(|x| x.0).collect())
        .unwrap_or_default();
    Some(Actor {
        name,
        roles,
        client_addr: None,
        alerts,
    })
}
