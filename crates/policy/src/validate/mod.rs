//! Validate one policy file into compiled rules, embedded tests and optional defaults,
//! reporting every mistake with its position, key and a suggestion where one helps.
//!
//! Rules are validated independently, so a mistake in one never hides mistakes in
//! another. Nothing here looks across files; the set (crate::set) checks name clashes.

mod condition;
mod reader;
mod tests_block;

use crate::condition::Condition;
use crate::rule::{default_approval, Defaults, Rule, RuleInfo};
use crate::test_spec::PolicyTest;
use crate::verdict::{ApprovalSpec, Decision, Mode};
use reader::{join, Reader};
use warden_diagnostic::yaml::{self, Node, Value};
use warden_diagnostic::{Diagnostics, Pos};

const FILE_KEYS: &[&str] = &["version", "description", "defaults", "rules", "tests"];
const RULE_KEYS: &[&str] = &[
    "name",
    "description",
    "when",
    "unless",
    "action",
    "approval",
    "message",
    "mode",
    "sensitive",
];
const DECISIONS: &[&str] = &["allow", "deny", "hold"];

/// Everything one file contributes to a set.
#[derive(Debug, Default)]
pub struct FileModel {
    pub rules: Vec<Rule>,
    pub tests: Vec<PolicyTest>,
    /// Positions of each test's `rules:` entries, for the set to check they exist.
    pub test_rule_refs: Vec<(String, Pos)>,
    pub defaults: Option<(Defaults, Pos)>,
}

/// Parse and validate one file. Diagnostics go to `diags`; the model holds whatever
/// was valid (callers must not use it when `diags` is non-empty).
pub fn file(name: &str, text: &str, diags: &mut Diagnostics) -> FileModel {
    let mut model = FileModel::default();
    let root = match yaml::parse(text) {
        Ok(Some(root)) => root,
        Ok(None) => return model,
        Err(e) => {
            diags.push(e.pos, "", e.message);
            return model;
        }
    };
    let mut r = Reader { diags };
    let Some(f) = r.fields(&root, "", FILE_KEYS) else {
        return model;
    };
    if let Some(v) = f.get("version") {
        if v.as_str() != Some("1") {
            r.error(v.pos, "version", "unsupported version; expected 1");
        }
    }
    if let Some(d) = f.get("description") {
        r.string(d, "description");
    }
    if let Some(d) = f.get("defaults") {
        model.defaults = defaults(&mut r, d).map(|x| (x, d.pos));
    }
    if let Some(rules) = f.get("rules") {
        match &rules.value {
            Value::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    if let Some(rule) = rule(&mut r, item, &format!("rules[{i}]"), name) {
                        model.rules.push(rule);
                    }
                }
            }
            Value::Null => {}
            _ => r.error(rules.pos, "rules", "expected a list of rules"),
        }
    }
    if let Some(tests) = f.get("tests") {
        tests_block::tests(&mut r, tests, name, &mut model);
    }
    model
}

fn defaults(r: &mut Reader, node: &Node) -> Option<Defaults> {
    let f = r.fields(node, "defaults", &["unparsed", "opaque"])?;
    let mut d = Defaults::default();
    if let Some(n) = f.get("unparsed") {
        d.unparsed = decision(r, n, "defaults.unparsed")?;
    }
    if let Some(n) = f.get("opaque") {
        d.opaque = decision(r, n, "defaults.opaque")?;
    }
    Some(d)
}

pub(crate) fn decision(r: &mut Reader, node: &Node, path: &str) -> Option<Decision> {
    Some(match r.word(node, path, DECISIONS)?.as_str() {
        "allow" => Decision::Allow,
        "deny" => Decision::Deny,
        _ => Decision::Hold,
    })
}

fn rule(r: &mut Reader, node: &Node, path: &str, file: &str) -> Option<Rule> {
    let f = r.fields(node, path, RULE_KEYS)?;
    let errors_before = r.diags.list.len();
    let name = match f.get("name") {
        Some(n) => r.string(n, &join(path, "name")).filter(|s| {
            let ok = !s.trim().is_empty();
            if !ok {
                r.diags
                    .push(n.pos, &join(path, "name"), "rule name must not be empty");
            }
            ok
        }),
        None => {
            r.error(f.pos, path, "missing key `name`");
            None
        }
    };
    let path = match &name {
        Some(n) => format!("{path}({n})"),
        None => path.to_string(),
    };
    let path = path.as_str();
    let when = match f.get("when") {
        Some(n) => condition::condition(r, n, &join(path, "when")),
        None => {
            r.error(
                f.pos,
                path,
                "missing key `when` (use `when: {}` to match every action)",
            );
            None
        }
    };
    let unless = f
        .get("unless")
        .and_then(|n| condition::condition(r, n, &join(path, "unless")));
    let action = match f.get("action") {
        Some(n) => decision(r, n, &join(path, "action")),
        None => {
            r.error(f.pos, path, "missing key `action` (allow, deny or hold)");
            None
        }
    };
    let mode = match f.get("mode") {
        Some(n) => match r
            .word(n, &join(path, "mode"), &["enforce", "dry_run"])
            .as_deref()
        {
            Some("dry_run") => Mode::DryRun,
            _ => Mode::Enforce,
        },
        None => Mode::Enforce,
    };
    let description = f
        .get("description")
        .and_then(|n| r.string(n, &join(path, "description")));
    let message = f
        .get("message")
        .and_then(|n| r.string(n, &join(path, "message")));
    let sensitive = f
        .get("sensitive")
        .and_then(|n| r.boolean(n, &join(path, "sensitive")))
        .unwrap_or(false);
    let approval = match f.get("approval") {
        Some(n) => {
            if action.is_some_and(|a| a != Decision::Hold) {
                r.error(
                    n.pos,
                    &join(path, "approval"),
                    "`approval` only applies to `action: hold`",
                );
            }
            approval(r, n, &join(path, "approval"))
        }
        None => None,
    };
    if r.diags.list.len() > errors_before {
        return None;
    }
    let action = action?;
    let approval = (action == Decision::Hold).then(|| approval.unwrap_or_else(default_approval));
    let when: Condition = when?;
    let roles = when
        .user
        .as_ref()
        .map(|u| u.roles.clone())
        .unwrap_or_default();
    Some(Rule {
        info: RuleInfo {
            name: name?,
            file: file.to_string(),
            line: f.pos.line,
            column: f.pos.column,
            action,
            mode,
            description,
            message,
            approval,
            sensitive,
            roles,
        },
        when,
        unless,
    })
}

fn approval(r: &mut Reader, node: &Node, path: &str) -> Option<ApprovalSpec> {
    let f = r.fields(node, path, &["approvers", "required", "timeout", "wait"])?;
    let mut spec = ApprovalSpec::default();
    if let Some(n) = f.get("approvers") {
        let ap = join(path, "approvers");
        let a = r.fields(n, &ap, &["roles", "users"])?;
        let list = |r: &mut Reader, key: &str| -> Vec<String> {
            a.get(key)
                .and_then(|n| r.strings(n, &join(&ap, key)))
                .map(|l| l.into_iter().map(|x| x.0).collect())
                .unwrap_or_default()
        };
        spec.approver_roles = list(r, "roles");
        spec.approver_users = list(r, "users");
    }
    if spec.approver_roles.is_empty() && spec.approver_users.is_empty() {
        spec.approver_roles = default_approval().approver_roles;
    }
    if let Some(n) = f.get("required") {
        spec.required = r.positive_u32(n, &join(path, "required"))?;
    }
    if let Some(n) = f.get("timeout") {
        spec.timeout = r.duration(n, &join(path, "timeout"))?;
    }
    if let Some(n) = f.get("wait") {
        spec.wait = r.boolean(n, &join(path, "wait"))?;
    }
    Some(spec)
}
