//! Build a compiled [`Condition`] from a `when` / `unless` block, reporting every
//! mistake in it.

use warden_inspect::sql::StatementKind;
use warden_inspect::Protocol;

use super::reader::{join, Reader};
use crate::condition::{
    kind_bit, protocol_bit, Condition, HttpCond, KubeCond, SqlCond, SshCond, TargetCond, UserCond,
};
use crate::flags::ArgPattern;
use crate::objects::ObjectPatterns;
use crate::patterns::Patterns;
use warden_diagnostic::yaml::{Node, Value};
use warden_diagnostic::Pos;

const CONDITION_KEYS: &[&str] = &[
    "protocol",
    "target",
    "user",
    "sql",
    "http",
    "kubernetes",
    "ssh",
];
const PROTOCOLS: &[&str] = &["postgres", "mysql", "http", "kubernetes", "ssh"];
pub const KUBE_VERBS: &[&str] = &[
    "get",
    "list",
    "watch",
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
    "exec",
    "attach",
    "portforward",
    "proxy",
];
const HTTP_METHODS: &[&str] = &[
    "get", "head", "post", "put", "patch", "delete", "options", "trace", "connect",
];

/// Compile a list of globs. `separator`: `*` stops at `/` (paths).
fn globs(r: &mut Reader, list: &[(String, Pos)], path: &str, separator: bool) -> Option<Patterns> {
    globs_with(r, list, path, separator, false)
}

fn globs_with(
    r: &mut Reader,
    list: &[(String, Pos)],
    path: &str,
    separator: bool,
    case_insensitive: bool,
) -> Option<Patterns> {
    let pats: Vec<String> = list.iter().map(|x| x.0.clone()).collect();
    match Patterns::new(&pats, separator, case_insensitive) {
        Ok(p) => Some(p),
        Err((i, e)) => {
            let (p, pos) = list.get(i).cloned().unwrap_or_default();
            r.error(pos, path, format!("invalid pattern `{p}`: {e}"));
            None
        }
    }
}

fn glob_key(r: &mut Reader, node: Option<&Node>, path: &str, separator: bool) -> Option<Patterns> {
    let node = node?;
    let list = r.strings(node, path)?;
    globs(r, &list, path, separator)
}

fn plain_list(r: &mut Reader, node: Option<&Node>, path: &str) -> Vec<String> {
    node.and_then(|n| r.strings(n, path))
        .map(|l| l.into_iter().map(|(s, _)| s).collect())
        .unwrap_or_default()
}

fn word_list(r: &mut Reader, node: Option<&Node>, path: &str, words: &[&str]) -> Vec<String> {
    node.and_then(|n| r.words(n, path, words))
        .unwrap_or_default()
}

fn flag(r: &mut Reader, node: Option<&Node>, path: &str) -> Option<bool> {
    node.and_then(|n| r.boolean(n, path))
}

/// Build one condition block. `None` only when the block itself is not a mapping; a
/// block with bad keys still yields a (partial) condition so that all errors surface.
pub fn condition(r: &mut Reader, node: &Node, path: &str) -> Option<Condition> {
    let f = r.fields(node, path, CONDITION_KEYS)?;
    let mut c = Condition::default();
    if let Some(n) = f.get("protocol") {
        let p = join(path, "protocol");
        for w in r.words(n, &p, PROTOCOLS).unwrap_or_default() {
            if let Some(proto) = Protocol::parse(&w) {
                c.protocols |= protocol_bit(proto);
            }
        }
    }
    if let Some(n) = f.get("target") {
        c.target = target(r, n, &join(path, "target"));
    }
    if let Some(n) = f.get("user") {
        c.user = user(r, n, &join(path, "user"));
    }
    if let Some(n) = f.get("sql") {
        c.sql = sql(r, n, &join(path, "sql"));
    }
    if let Some(n) = f.get("http") {
        c.http = http(r, n, &join(path, "http"));
    }
    if let Some(n) = f.get("kubernetes") {
        c.kubernetes = kubernetes(r, n, &join(path, "kubernetes"));
    }
    if let Some(n) = f.get("ssh") {
        c.ssh = ssh(r, n, &join(path, "ssh"));
    }
    Some(c)
}

fn target(r: &mut Reader, node: &Node, path: &str) -> Option<TargetCond> {
    let f = r.fields(node, path, &["names", "labels"])?;
    let names = glob_key(r, f.get("names"), &join(path, "names"), false);
    let mut labels = Vec::new();
    if let Some(n) = f.get("labels") {
        let lp = join(path, "labels");
        if let Value::Map(entries) = &n.value {
            for (k, v) in entries {
                let Some(key) = k.as_str() else {
                    r.error(k.pos, &lp, "label names must be strings");
                    continue;
                };
                if let Some(values) = r.strings(v, &join(&lp, key)) {
                    labels.push((key.to_string(), values.into_iter().map(|x| x.0).collect()));
                }
            }
        } else {
            let what = format!(
                "expected a mapping of label: value, found {}",
                n.type_name()
            );
            r.error(n.pos, &lp, what);
        }
    }
    Some(TargetCond { names, labels })
}

/// What `when.user.alerts` may name: any open alert (`*`), or a detector.
const ALERT_WORDS: &[&str] = &[
    "*",
    "failed-login-burst",
    "password-spray",
    "first-access",
    "off-hours",
    "unusual-volume",
    "privilege-change",
    "denial-storm",
    "error-spike",
    "dormant-account",
    "rapid-repetition",
    "new-source",
    "config-drift",
];

fn user(r: &mut Reader, node: &Node, path: &str) -> Option<UserCond> {
    let f = r.fields(node, path, &["names", "roles", "alerts"])?;
    let alerts = f
        .get("alerts")
        .map(|n| word_list(r, Some(n), &join(path, "alerts"), ALERT_WORDS));
    Some(UserCond {
        names: glob_key(r, f.get("names"), &join(path, "names"), false),
        roles: plain_list(r, f.get("roles"), &join(path, "roles")),
        alerts,
    })
}

fn sql(r: &mut Reader, node: &Node, path: &str) -> Option<SqlCond> {
    let keys = [
        "statements",
        "only_statements",
        "objects",
        "without_where",
        "opaque",
        "unparsed",
    ];
    let f = r.fields(node, path, &keys)?;
    let statements = f.get("statements").and_then(|n| {
        let words = r.words(n, &join(path, "statements"), StatementKind::WORDS)?;
        Some(statement_mask(&words))
    });
    let only_statements = f.get("only_statements").and_then(|n| {
        let words = r.words(n, &join(path, "only_statements"), StatementKind::WORDS)?;
        Some(statement_mask(&words))
    });
    let objects = f.get("objects").and_then(|n| {
        let op = join(path, "objects");
        let list = r.strings(n, &op)?;
        let pats: Vec<String> = list.iter().map(|x| x.0.clone()).collect();
        match ObjectPatterns::new(&pats) {
            Ok(o) => Some(o),
            Err((i, e)) => {
                let pos = list.get(i).map(|x| x.1).unwrap_or(n.pos);
                r.error(pos, &op, format!("invalid pattern: {e}"));
                None
            }
        }
    });
    Some(SqlCond {
        statements,
        only_statements,
        objects,
        without_where: flag(r, f.get("without_where"), &join(path, "without_where")),
        opaque: flag(r, f.get("opaque"), &join(path, "opaque")),
        unparsed: flag(r, f.get("unparsed"), &join(path, "unparsed")),
    })
}

/// Every statement kind any of the words names. The kinds are enumerated from
/// `StatementKind::WORDS` (every kind's own name is a word), so a kind added to the
/// inspector is covered by umbrella words such as `write` without a change here.
fn statement_mask(words: &[String]) -> u64 {
    let mut mask = 0;
    for k in all_kinds() {
        if words.iter().any(|w| k.matches_word(w)) {
            mask |= kind_bit(k);
        }
    }
    mask
}

fn all_kinds() -> impl Iterator<Item = StatementKind> {
    StatementKind::WORDS
        .iter()
        .filter_map(|w| serde_json::from_value(serde_json::Value::String((*w).to_string())).ok())
}

fn http(r: &mut Reader, node: &Node, path: &str) -> Option<HttpCond> {
    let f = r.fields(node, path, &["methods", "paths", "unparsed"])?;
    let methods = word_list(r, f.get("methods"), &join(path, "methods"), HTTP_METHODS);
    Some(HttpCond {
        methods: methods
            .into_iter()
            .map(|m| m.to_ascii_uppercase())
            .collect(),
        paths: glob_key(r, f.get("paths"), &join(path, "paths"), true),
        unparsed: flag(r, f.get("unparsed"), &join(path, "unparsed")),
    })
}

fn kubernetes(r: &mut Reader, node: &Node, path: &str) -> Option<KubeCond> {
    let keys = [
        "verbs",
        "groups",
        "resources",
        "subresources",
        "namespaces",
        "names",
        "unparsed",
    ];
    let f = r.fields(node, path, &keys)?;
    Some(KubeCond {
        verbs: word_list(r, f.get("verbs"), &join(path, "verbs"), KUBE_VERBS),
        groups: plain_list(r, f.get("groups"), &join(path, "groups")),
        resources: plain_list(r, f.get("resources"), &join(path, "resources")),
        subresources: plain_list(r, f.get("subresources"), &join(path, "subresources")),
        namespaces: glob_key(r, f.get("namespaces"), &join(path, "namespaces"), false),
        names: glob_key(r, f.get("names"), &join(path, "names"), false),
        unparsed: flag(r, f.get("unparsed"), &join(path, "unparsed")),
    })
}

fn ssh(r: &mut Reader, node: &Node, path: &str) -> Option<SshCond> {
    let keys = [
        "programs",
        "only_programs",
        "args",
        "redirects",
        "writes",
        "interactive",
        "subsystems",
        "forwarding",
        "forward_to",
        "opaque",
        "unparsed",
    ];
    let f = r.fields(node, path, &keys)?;
    let mut args = Vec::new();
    if let Some(n) = f.get("args") {
        let ap = join(path, "args");
        for (a, pos) in r.strings(n, &ap).unwrap_or_default() {
            match ArgPattern::parse(&a) {
                Ok(p) => args.push(p),
                Err(e) => r.error(pos, &ap, format!("invalid pattern `{a}`: {e}")),
            }
        }
    }
    Some(SshCond {
        programs: glob_key(r, f.get("programs"), &join(path, "programs"), true),
        only_programs: glob_key(
            r,
            f.get("only_programs"),
            &join(path, "only_programs"),
            true,
        ),
        args,
        redirects: glob_key(r, f.get("redirects"), &join(path, "redirects"), true),
        writes: glob_key(r, f.get("writes"), &join(path, "writes"), true),
        interactive: flag(r, f.get("interactive"), &join(path, "interactive")),
        subsystems: plain_list(r, f.get("subsystems"), &join(path, "subsystems")),
        forwarding: flag(r, f.get("forwarding"), &join(path, "forwarding")),
        // Host names compare case-insensitively.
        forward_to: f.get("forward_to").and_then(|n| {
            let p = join(path, "forward_to");
            let list = r.strings(n, &p)?;
            globs_with(r, &list, &p, false, true)
        }),
        opaque: flag(r, f.get("opaque"), &join(path, "opaque")),
        unparsed: flag(r, f.get("unparsed"), &join(path, "unparsed")),
    })
}
