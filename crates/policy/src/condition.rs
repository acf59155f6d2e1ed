//! Compiled `when` / `unless` blocks and how they match an [`Action`].
//!
//! A block matches when every key it has holds; a list means "any of". A key about a
//! protocol the action does not speak (e.g. `sql:` on an SSH action) simply does not
//! match. Matching is pure and allocation-free on the hot path; it must never panic on
//! any action a client can produce.

use warden_inspect::http::HttpFacts;
use warden_inspect::kube::KubeFacts;
use warden_inspect::shell::SshFacts;
use warden_inspect::sql::{SqlFacts, SqlStatement, StatementKind};
use warden_inspect::{Action, Facts, Protocol};

use crate::flags::ArgPattern;
use crate::objects::ObjectPatterns;
use crate::patterns::Patterns;

/// One compiled `when` or `unless` block.
#[derive(Debug, Clone, Default)]
pub struct Condition {
    /// Bit per [`Protocol`]; 0 = any protocol.
    pub protocols: u8,
    pub target: Option<TargetCond>,
    pub user: Option<UserCond>,
    pub sql: Option<SqlCond>,
    pub http: Option<HttpCond>,
    pub kubernetes: Option<KubeCond>,
    pub ssh: Option<SshCond>,
}

#[derive(Debug, Clone, Default)]
pub struct TargetCond {
    pub names: Option<Patterns>,
    /// Every label must be present with one of the listed values.
    pub labels: Vec<(String, Vec<String>)>,
}

#[derive(Debug, Clone, Default)]
pub struct UserCond {
    pub names: Option<Patterns>,
    pub roles: Vec<String>,
    /// Detectors of open alerts, one of which the user must have (`*`: any open alert);
    /// `None` when the rule does not ask.
    pub alerts: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default)]
pub struct SqlCond {
    /// Bit per [`StatementKind`] named by `statements` (umbrella words expanded); None = any.
    pub statements: Option<u64>,
    /// Allow-list form: every statement (and every nested kind) is one of these, and
    /// there is at least one statement. Unparsed SQL never satisfies it.
    pub only_statements: Option<u64>,
    pub objects: Option<ObjectPatterns>,
    pub without_where: Option<bool>,
    pub opaque: Option<bool>,
    pub unparsed: Option<bool>,
}

#[derive(Debug, Clone, Default)]
pub struct HttpCond {
    /// Upper case.
    pub methods: Vec<String>,
    pub paths: Option<Patterns>,
    pub unparsed: Option<bool>,
}

#[derive(Debug, Clone, Default)]
pub struct KubeCond {
    pub verbs: Vec<String>,
    pub groups: Vec<String>,
    pub resources: Vec<String>,
    pub subresources: Vec<String>,
    pub namespaces: Option<Patterns>,
    pub names: Option<Patterns>,
    pub unparsed: Option<bool>,
}

#[derive(Debug, Clone, Default)]
pub struct SshCond {
    pub programs: Option<Patterns>,
    /// Allow-list form: every simple command runs one of these programs, and there is
    /// at least one command. Opaque or unparsed lines never satisfy it.
    pub only_programs: Option<Patterns>,
    pub args: Vec<ArgPattern>,
    /// Globs over the targets of output redirections (`> /etc/hosts`, `>>`, `&>`).
    pub redirects: Option<Patterns>,
    /// Globs over the paths a command writes (redirections and what well-known
    /// programs write through their arguments; see `ShellCommand::writes`).
    pub writes: Option<Patterns>,
    pub interactive: Option<bool>,
    pub subsystems: Vec<String>,
    pub forwarding: Option<bool>,
    /// Globs over a port forwarding's `host:port` (`db.internal:5432`, `*.internal:*`);
    /// requests without an address (agent, X11) never match.
    pub forward_to: Option<Patterns>,
    pub opaque: Option<bool>,
    pub unparsed: Option<bool>,
}

/// The bit of one protocol in [`Condition::protocols`].
pub fn protocol_bit(p: Protocol) -> u8 {
    1 << (p as u8)
}

/// The bit of one statement kind in [`SqlCond::statements`].
pub fn kind_bit(k: StatementKind) -> u64 {
    1 << (k as u64)
}

fn bool_holds(want: Option<bool>, have: bool) -> bool {
    want.is_none_or(|w| w == have)
}

fn any_eq(list: &[String], value: &str) -> bool {
    list.is_empty() || list.iter().any(|x| x == value)
}

impl Condition {
    /// True when every key of this block holds for `action`.
    pub fn matches(&self, action: &Action) -> bool {
        if self.protocols != 0 && self.protocols & protocol_bit(action.protocol) == 0 {
            return false;
        }
        if let Some(t) = &self.target {
            if !t.matches(action) {
                return false;
            }
        }
        if let Some(u) = &self.user {
            if !u.matches(action) {
                return false;
            }
        }
        if let Some(s) = &self.sql {
            let Facts::Sql(facts) = &action.facts else {
                return false;
            };
            if !s.matches(facts, action.protocol) {
                return false;
            }
        }
        if let Some(h) = &self.http {
            let http = match &action.facts {
                Facts::Http(h) => h,
                Facts::Kubernetes { http, .. } => http,
                _ => return false,
            };
            if !h.matches(http) {
                return false;
            }
        }
        if let Some(k) = &self.kubernetes {
            let Facts::Kubernetes { kube, .. } = &action.facts else {
                return false;
            };
            if !k.matches(kube) {
                return false;
            }
        }
        if let Some(s) = &self.ssh {
            let Facts::Ssh(facts) = &action.facts else {
                return false;
            };
            if !s.matches(facts) {
                return false;
            }
        }
        true
    }

    /// Whether this block explicitly asks for unparsed input (`unparsed: true` anywhere).
    pub fn names_unparsed(&self) -> bool {
        self.sql.as_ref().is_some_and(|s| s.unparsed == Some(true))
            || self.http.as_ref().is_some_and(|s| s.unparsed == Some(true))
            || self
                .kubernetes
                .as_ref()
                .is_some_and(|s| s.unparsed == Some(true))
            || self.ssh.as_ref().is_some_and(|s| s.unparsed == Some(true))
    }

    /// Whether this block explicitly asks for opaque input (`opaque: true` anywhere).
    pub fn names_opaque(&self) -> bool {
        self.sql.as_ref().is_some_and(|s| s.opaque == Some(true))
            || self.ssh.as_ref().is_some_and(|s| s.opaque == Some(true))
    }
}

impl TargetCond {
    fn matches(&self, action: &Action) -> bool {
        if let Some(names) = &self.names {
            if !names.is_match(&action.target.name) {
                return false;
            }
        }
        self.labels.iter().all(|(k, values)| {
            action
                .target
                .labels
                .get(k)
                .is_some_and(|v| values.iter().any(|want| want == v))
        })
    }
}

impl UserCond {
    fn matches(&self, action: &Action) -> bool {
        if let Some(names) = &self.names {
            if !names.is_match(&action.user.name) {
                return false;
            }
        }
        if let Some(wanted) = &self.alerts {
            let open = &action.user.alerts;
            let any = wanted.iter().any(|w| w == "*") && !open.is_empty();
            if !any && !open.iter().any(|a| wanted.contains(a)) {
                return false;
            }
        }
        self.roles.is_empty() || action.user.roles.iter().any(|r| self.roles.contains(r))
    }
}

impl SqlCond {
    fn per_statement(&self) -> bool {
        self.statements.is_some()
            || self.objects.is_some()
            || self.without_where.is_some()
            || self.opaque.is_some()
    }

    fn matches(&self, facts: &SqlFacts, protocol: Protocol) -> bool {
        if !bool_holds(self.unparsed, facts.unparsed) {
            return false;
        }
        if let Some(mask) = self.only_statements {
            let all = !facts.unparsed
                && !facts.statements.is_empty()
                && facts.statements.iter().all(|st| {
                    mask & kind_bit(st.kind) != 0
                        && st.nested.iter().all(|k| mask & kind_bit(*k) != 0)
                });
            if !all {
                return false;
            }
        }
        if !self.per_statement() {
            return true;
        }
        // The statement-level keys must all hold for one and the same statement.
        facts
            .statements
            .iter()
            .any(|st| self.statement_matches(st, protocol))
    }

    fn statement_matches(&self, st: &SqlStatement, protocol: Protocol) -> bool {
        if let Some(mask) = self.statements {
            let hit =
                mask & kind_bit(st.kind) != 0 || st.nested.iter().any(|k| mask & kind_bit(*k) != 0);
            if !hit {
                return false;
            }
        }
        if !bool_holds(self.without_where, st.without_where) || !bool_holds(self.opaque, st.opaque)
        {
            return false;
        }
        match &self.objects {
            Some(objects) => st.objects.iter().any(|o| objects.matches(o, protocol)),
            None => true,
        }
    }
}

impl HttpCond {
    fn matches(&self, h: &HttpFacts) -> bool {
        if !bool_holds(self.unparsed, h.unparsed) {
            return false;
        }
        if !self.methods.is_empty()
            && !self
                .methods
                .iter()
                .any(|m| m.eq_ignore_ascii_case(&h.method))
        {
            return false;
        }
        self.paths.as_ref().is_none_or(|p| p.is_match(&h.path))
    }
}

impl KubeCond {
    fn matches(&self, k: &KubeFacts) -> bool {
        if !bool_holds(self.unparsed, k.unparsed) {
            return false;
        }
        if !any_eq(&self.verbs, &k.verb)
            || !any_eq(&self.groups, &k.group)
            || !any_eq(&self.resources, &k.resource)
        {
            return false;
        }
        if !self.subresources.is_empty()
            && !k
                .subresource
                .as_deref()
                .is_some_and(|s| self.subresources.iter().any(|x| x == s))
        {
            return false;
        }
        if let Some(ns) = &self.namespaces {
            if !k.namespace.as_deref().is_some_and(|n| ns.is_match(n)) {
                return false;
            }
        }
        if let Some(names) = &self.names {
            if !k.name.as_deref().is_some_and(|n| names.is_match(n)) {
                return false;
            }
        }
        true
    }
}

impl SshCond {
    fn matches(&self, s: &SshFacts) -> bool {
        if !bool_holds(self.unparsed, s.unparsed)
            || !bool_holds(self.interactive, s.interactive)
            || !bool_holds(self.forwarding, s.forwarding)
            || !bool_holds(self.opaque, s.opaque)
        {
            return false;
        }
        if let Some(to) = &self.forward_to {
            if !s.forward_to.as_deref().is_some_and(|a| to.is_match(a)) {
                return false;
            }
        }
        if !self.subsystems.is_empty()
            && !s
                .subsystem
                .as_deref()
                .is_some_and(|x| self.subsystems.iter().any(|w| w == x))
        {
            return false;
        }
        if let Some(only) = &self.only_programs {
            let all = !s.opaque
                && !s.unparsed
                && !s.commands.is_empty()
                && s.commands.iter().all(|c| only.is_match(&c.program));
            if !all {
                return false;
            }
        }
        if self.programs.is_none()
            && self.args.is_empty()
            && self.redirects.is_none()
            && self.writes.is_none()
        {
            return true;
        }
        // `programs`, `args`, `redirects` and `writes` must hold for one and the same
        // command.
        s.commands.iter().any(|cmd| {
            let program_ok = self
                .programs
                .as_ref()
                .is_none_or(|p| p.is_match(&cmd.program));
            let redirect_ok = self.redirects.as_ref().is_none_or(|g| {
                cmd.redirects
                    .iter()
                    .filter_map(|r| output_target(r))
                    .any(|t| g.is_match(t))
            });
            let writes_ok = self
                .writes
                .as_ref()
                .is_none_or(|g| cmd.writes.iter().any(|w| g.is_match(w)));
            program_ok
                && redirect_ok
                && writes_ok
                && (self.args.is_empty() || self.args.iter().any(|a| a.matches(cmd)))
        })
    }
}

/// The file an output redirection writes to (shared with the shell inspector).
pub use warden_inspect::shell::output_target;

#[cfg(test)]
mod tests {
    use super::output_target;

    #[test]
    fn output_targets() {
        assert_eq!(output_target(">/etc/hosts"), Some("/etc/hosts"));
        assert_eq!(output_target("2>> /var/log/x"), Some("/var/log/x"));
        assert_eq!(output_target("&>out"), Some("out"));
        assert_eq!(output_target(">|f"), Some("f"));
        assert_eq!(output_target("2>&1"), None);
        assert_eq!(output_target("<in"), None);
        assert_eq!(output_target("<<EOF"), None);
    }
}
