//! A compiled, immutable policy set: every rule of every file, the defaults, and the
//! embedded tests. Built all-or-nothing: any diagnostic in any file fails the load.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use warden_inspect::{Action, Protocol};

use crate::condition::protocol_bit;
use crate::errors::PolicyErrors;
use crate::evaluate;
use crate::prefilter::Candidate;
use crate::rule::{Defaults, Rule, RuleInfo, DEFAULT_OPAQUE, DEFAULT_UNPARSED};
use crate::test_spec::PolicyTest;
use crate::validate;
use crate::verdict::Verdict;
use warden_diagnostic::{suggest, Diagnostic, Diagnostics, Pos};

/// A validated, compiled policy set. Cheap to share behind an `Arc`.
#[derive(Debug, Clone)]
pub struct PolicySet {
    rules: Vec<Rule>,
    tests: Vec<PolicyTest>,
    defaults: Defaults,
    /// For each protocol (by `Protocol as usize`), the rules that could match it.
    by_protocol: [Vec<Candidate>; 5],
}

impl PolicySet {
    /// Defaults only: unparsed and opaque actions held, everything else allowed.
    pub fn empty() -> PolicySet {
        PolicySet::build(Vec::new(), Vec::new(), Defaults::default())
    }

    /// Load files and folders (`*.yaml` / `*.yml` inside folders, recursively, sorted).
    pub fn load(paths: &[impl AsRef<Path>]) -> Result<PolicySet, PolicyErrors> {
        let mut sources = Vec::new();
        let mut errors = Vec::new();
        for p in paths {
            let p = p.as_ref();
            let mut files = Vec::new();
            if p.is_dir() {
                if let Err(e) = collect_dir(p, &mut files) {
                    errors.push(io_diag(p, &e));
                }
                files.sort();
            } else {
                files.push(p.to_path_buf());
            }
            for f in files {
                match std::fs::read_to_string(&f) {
                    Ok(text) => sources.push((f.display().to_string(), text)),
                    Err(e) => errors.push(io_diag(&f, &e)),
                }
            }
        }
        if !errors.is_empty() {
            return Err(PolicyErrors(errors));
        }
        PolicySet::from_sources(&sources)
    }

    /// Validate and compile in-memory sources `(file name, text)`.
    pub fn from_sources(sources: &[(String, String)]) -> Result<PolicySet, PolicyErrors> {
        let mut all = Vec::new();
        let mut rules: Vec<Rule> = Vec::new();
        let mut tests = Vec::new();
        let mut defaults: Option<(Defaults, String, Pos)> = None;
        let mut refs = Vec::new();
        let mut seen: HashMap<String, (String, usize, usize)> = HashMap::new();
        for (name, text) in sources {
            let mut diags = Diagnostics::new(name);
            let model = validate::file(name, text, &mut diags);
            for rule in model.rules {
                let i = &rule.info;
                if let Some((f, l, c)) = seen.get(&i.name) {
                    diags.push(
                        Pos {
                            line: i.line,
                            column: i.column,
                        },
                        &format!("rules({}).name", i.name),
                        format!("duplicate rule name; also defined at {f}:{l}:{c}"),
                    );
                    continue;
                }
                seen.insert(i.name.clone(), (i.file.clone(), i.line, i.column));
                rules.push(rule);
            }
            if let Some((d, pos)) = model.defaults {
                match &defaults {
                    Some((_, f, p)) => diags.push(
                        pos,
                        "defaults",
                        format!(
                            "defaults are already set at {f}:{}:{}; only one file may set them",
                            p.line, p.column
                        ),
                    ),
                    None => defaults = Some((d, name.clone(), pos)),
                }
            }
            tests.extend(model.tests);
            refs.push((name.clone(), model.test_rule_refs));
            diags.list.sort_by_key(|d| (d.line, d.column));
            all.extend(diags.list);
        }
        let names: Vec<&str> = seen.keys().map(String::as_str).collect();
        for (file, list) in refs {
            let mut diags = Diagnostics::new(&file);
            for (rule, pos) in list {
                let builtin = rule == DEFAULT_UNPARSED || rule == DEFAULT_OPAQUE;
                if !builtin && !seen.contains_key(&rule) {
                    let hint = suggest(&rule, &names);
                    diags.push_suggest(pos, "tests.rules", format!("no rule named `{rule}`"), hint);
                }
            }
            all.extend(diags.list);
        }
        if !all.is_empty() {
            return Err(PolicyErrors(all));
        }
        let defaults = defaults.map(|d| d.0).unwrap_or_default();
        Ok(PolicySet::build(rules, tests, defaults))
    }

    fn build(rules: Vec<Rule>, tests: Vec<PolicyTest>, defaults: Defaults) -> PolicySet {
        let mut by_protocol: [Vec<Candidate>; 5] = Default::default();
        for (p, list) in Protocol::ALL.iter().zip(by_protocol.iter_mut()) {
            for (i, rule) in rules.iter().enumerate() {
                if could_match(rule, *p) {
                    list.push(Candidate::new(i as u32, rule));
                }
            }
        }
        PolicySet {
            rules,
            tests,
            defaults,
            by_protocol,
        }
    }

    /// Decide one action. Never panics, never does I/O.
    pub fn evaluate(&self, action: &Action) -> Verdict {
        let candidates = &self.by_protocol[action.protocol as usize];
        evaluate::evaluate(&self.rules, candidates, self.defaults, action)
    }

    /// Every rule, in set order (file order, then position).
    pub fn rules(&self) -> impl Iterator<Item = &RuleInfo> {
        self.rules.iter().map(|r| &r.info)
    }

    /// Every embedded test, in file order.
    pub fn tests(&self) -> &[PolicyTest] {
        &self.tests
    }

    pub fn defaults(&self) -> Defaults {
        self.defaults
    }
}

/// Whether a rule's `when` block could ever match an action of protocol `p`.
fn could_match(rule: &Rule, p: Protocol) -> bool {
    let w = &rule.when;
    if w.protocols != 0 && w.protocols & protocol_bit(p) == 0 {
        return false;
    }
    let sql = matches!(p, Protocol::Postgres | Protocol::Mysql);
    !(w.sql.is_some() && !sql
        || w.http.is_some() && !matches!(p, Protocol::Http | Protocol::Kubernetes)
        || w.kubernetes.is_some() && p != Protocol::Kubernetes
        || w.ssh.is_some() && p != Protocol::Ssh)
}

fn collect_dir(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_dir(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
    Ok(())
}

fn io_diag(path: &Path, e: &std::io::Error) -> Diagnostic {
    Diagnostic {
        file: path.display().to_string(),
        line: 0,
        column: 0,
        key: String::new(),
        message: format!("cannot read: {e}"),
        suggestion: None,
    }
}
