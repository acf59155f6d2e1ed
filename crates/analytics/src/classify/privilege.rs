//! Does an action change who may do what? SQL GRANT/REVOKE, CREATE/ALTER/DROP/RENAME
//! ROLE|USER|GROUP, ALTER DEFAULT PRIVILEGES, SET PASSWORD; Kubernetes writes to roles,
//! rolebindings, clusterroles, clusterrolebindings; SSH account tools (useradd, usermod,
//! passwd, visudo ...), writes to sudoers or the account files, setuid/setgid chmod.
//!
//! Reads the inspected facts when the recorder had them and the raw text otherwise (or
//! as well), so a record without facts is still judged. Attempts count: the verdict is
//! not looked at here. Never allocates on the common "no" path.

use std::borrow::Cow;

use super::Family;

/// What inspection said, when it said anything.
#[derive(Debug, Clone, Copy, Default)]
pub struct Hints<'a> {
    /// SQL facts were present and none of their statements can change privileges
    /// (no grant, revoke, role, create, alter, drop, other; not unparsed).
    pub sql_harmless: bool,
    /// Kubernetes facts: (verb, resource).
    pub kube: Option<(&'a str, &'a str)>,
}

/// Kubernetes RBAC resources.
const RBAC: [&str; 4] = [
    "roles",
    "rolebindings",
    "clusterroles",
    "clusterrolebindings",
];
const KUBE_WRITE_VERBS: [&str; 5] = ["create", "update", "patch", "delete", "deletecollection"];

/// Account-management programs.
const ACCOUNT_TOOLS: [&str; 14] = [
    "useradd", "usermod", "userdel", "adduser", "deluser", "passwd", "chpasswd", "visudo",
    "groupadd", "groupmod", "gpasswd", "chage", "vipw", "vigr",
];

/// Files whose change changes privileges.
const ACCOUNT_FILES: [&str; 5] = [
    "/etc/sudoers",
    "/etc/passwd",
    "/etc/shadow",
    "/etc/group",
    "/etc/gshadow",
];

/// Programs that write the files they name.
const WRITERS: [&str; 16] = [
    "tee", "cp", "mv", "install", "ln", "rm", "dd", "truncate", "chmod", "chown", "vi", "vim",
    "nano", "ed", "rsync", "sed",
];

/// The privilege change `raw` makes, if any (e.g. `GRANT`, `CREATE ROLE`).
pub fn classify(family: Family, raw: &str, hints: Hints<'_>) -> Option<Cow<'static, str>> {
    if let Some((verb, resource)) = hints.kube {
        return kube(verb, resource);
    }
    match family {
        Family::Sql if hints.sql_harmless => None,
        Family::Sql => sql(raw),
        Family::Kubernetes | Family::Http => request_line(raw),
        Family::Ssh => shell(raw),
        Family::Unknown => request_line(raw)
            .or_else(|| sql(raw))
            .or_else(|| shell(raw)),
    }
}

fn kube(verb: &str, resource: &str) -> Option<Cow<'static, str>> {
    (KUBE_WRITE_VERBS.contains(&verb) && RBAC.contains(&resource))
        .then(|| Cow::Owned(format!("{verb} {resource}")))
}

/// `METHOD /apis/rbac.authorization.k8s.io/v1/.../rolebindings[/name]`.
fn request_line(raw: &str) -> Option<Cow<'static, str>> {
    let (method, rest) = raw.trim_start().split_once(' ')?;
    let verb = match method.to_ascii_uppercase().as_str() {
        "POST" => "create",
        "PUT" => "update",
        "PATCH" => "patch",
        "DELETE" => "delete",
        _ => return None,
    };
    let path = rest.split([' ', '?']).next()?;
    if !(path.starts_with("/apis/") || path.starts_with("/api/")) {
        return None;
    }
    let resource = path.split('/').find(|seg| RBAC.contains(seg))?;
    kube(verb, resource)
}

/// SQL: the leading words of each statement.
fn sql(raw: &str) -> Option<Cow<'static, str>> {
    for statement in split_statements(raw) {
        let mut words = leading_words(statement);
        let first = words.next()?;
        let up = |w: &str| w.to_ascii_uppercase();
        match up(first).as_str() {
            "GRANT" => return Some(Cow::Borrowed("GRANT")),
            "REVOKE" => return Some(Cow::Borrowed("REVOKE")),
            verb @ ("CREATE" | "ALTER" | "DROP" | "RENAME") => {
                let verb = verb.to_string();
                for w in words.by_ref().take(4) {
                    match up(w).as_str() {
                        "OR" | "REPLACE" | "IF" | "NOT" | "EXISTS" => continue,
                        obj @ ("ROLE" | "USER" | "GROUP") => {
                            return Some(Cow::Owned(format!("{verb} {obj}")))
                        }
                        "DEFAULT" if verb == "ALTER" => {
                            return Some(Cow::Borrowed("ALTER DEFAULT PRIVILEGES"))
                        }
                        _ => break,
                    }
                }
            }
            "SET"
                if words
                    .next()
                    .is_some_and(|w| w.eq_ignore_ascii_case("PASSWORD")) =>
            {
                return Some(Cow::Borrowed("SET PASSWORD"));
            }
            _ => {}
        }
    }
    None
}

/// Statements split at `;` outside quotes.
fn split_statements(raw: &str) -> impl Iterator<Item = &str> {
    let bytes = raw.as_bytes();
    let mut parts = Vec::new();
    let (mut start, mut quote) = (0, None::<u8>);
    for (i, &b) in bytes.iter().enumerate() {
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'\'' || b == b'"' => quote = Some(b),
            None if b == b';' => {
                parts.push(&raw[start..i]);
                start = i + 1;
            }
            None => {}
        }
    }
    parts.push(&raw[start..]);
    parts.into_iter()
}

/// Words of a statement after comments, split at white space and punctuation.
fn leading_words(statement: &str) -> impl Iterator<Item = &str> {
    let mut s = statement.trim_start();
    loop {
        if let Some(rest) = s.strip_prefix("--") {
            s = rest.split_once('\n').map_or("", |(_, r)| r).trim_start();
        } else if let Some(rest) = s.strip_prefix("/*") {
            s = rest.split_once("*/").map_or("", |(_, r)| r).trim_start();
        } else {
            break;
        }
    }
    s.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
}

/// Words that run the word after them as a command.
const WRAPPERS: [&str; 12] = [
    "sudo", "doas", "env", "nohup", "time", "timeout", "xargs", "nice", "exec", "command", "-c",
    "su",
];

/// A shell command line: the command words of every pipeline/list element, also
/// behind wrappers (`sudo`, `env`, `sh -c '...'`).
fn shell(raw: &str) -> Option<Cow<'static, str>> {
    let base = |w: &str| w.rsplit('/').next().unwrap_or(w).to_string();
    let mut words_all = Vec::new();
    for segment in raw.split([';', '|', '&', '(', ')', '`', '\n']) {
        let words: Vec<&str> = segment
            .split_whitespace()
            .map(|w| w.trim_matches(|c| c == '\'' || c == '"'))
            .filter(|w| !w.is_empty())
            .collect();
        let mut command_next = true;
        for (i, w) in words.iter().enumerate() {
            let program = base(w);
            if command_next && w.contains('=') && !w.starts_with('-') {
                continue; // VAR=value before the command
            }
            if command_next || program == "bash" || program == "sh" {
                if let Some(tool) = ACCOUNT_TOOLS.iter().find(|t| **t == program) {
                    return Some(Cow::Borrowed(tool));
                }
                if program == "chmod" && words[i + 1..].iter().take(3).any(|m| setuid_mode(m)) {
                    return Some(Cow::Borrowed("setuid chmod"));
                }
            }
            command_next = WRAPPERS.contains(&program.as_str())
                || (command_next && w.starts_with('-'))
                || (command_next && w.bytes().all(|b| b.is_ascii_digit()));
        }
        words_all.extend(words);
    }
    let file = ACCOUNT_FILES.iter().find(|f| raw.contains(*f))?;
    let writes = raw.contains('>')
        || words_all
            .iter()
            .any(|w| WRITERS.contains(&base(w).as_str()));
    writes.then(|| Cow::Owned(format!("write to {file}")))
}

/// `u+s`, `g+s`, `+s`, `4755`, `2755`, `6755`.
fn setuid_mode(mode: &str) -> bool {
    if mode.len() == 4 && mode.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return (mode.as_bytes()[0] - b'0') & 0b110 != 0;
    }
    mode.split(',').any(|clause| {
        clause.split_once(['+', '=']).is_some_and(|(who, perms)| {
            who.chars().all(|c| "ugoa".contains(c)) && perms.contains('s')
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sql_says(raw: &str) -> Option<String> {
        classify(Family::Sql, raw, Hints::default()).map(|c| c.into_owned())
    }

    #[test]
    fn sql_privilege_statements() {
        assert_eq!(
            sql_says("GRANT ALL ON payroll TO mallory").as_deref(),
            Some("GRANT")
        );
        assert_eq!(
            sql_says("  revoke select on t from bob").as_deref(),
            Some("REVOKE")
        );
        assert_eq!(
            sql_says("CREATE ROLE x LOGIN").as_deref(),
            Some("CREATE ROLE")
        );
        assert_eq!(
            sql_says("create user if not exists 'a'@'%'").as_deref(),
            Some("CREATE USER")
        );
        assert_eq!(
            sql_says("select 1; ALTER USER bob WITH SUPERUSER").as_deref(),
            Some("ALTER USER")
        );
        assert_eq!(sql_says("-- hi\nDROP ROLE x").as_deref(), Some("DROP ROLE"));
        assert_eq!(sql_says("SET ROLE admin"), None);
        assert_eq!(sql_says("CREATE TABLE users (id int)"), None);
        assert_eq!(sql_says("SELECT 'grant all' FROM t"), None);
        assert_eq!(sql_says("SELECT * FROM users WHERE role = 'x'"), None);
        let harmless = Hints {
            sql_harmless: true,
            ..Hints::default()
        };
        assert_eq!(classify(Family::Sql, "GRANT x", harmless), None);
    }

    #[test]
    fn kubernetes_rbac_writes() {
        let k = |raw: &str| classify(Family::Kubernetes, raw, Hints::default());
        assert!(k("POST /apis/rbac.authorization.k8s.io/v1/namespaces/dev/rolebindings").is_some());
        assert!(k("DELETE /apis/rbac.authorization.k8s.io/v1/clusterroles/admin").is_some());
        assert!(k("GET /apis/rbac.authorization.k8s.io/v1/clusterroles").is_none());
        assert!(k("POST /api/v1/namespaces/dev/pods").is_none());
        let hinted = Hints {
            kube: Some(("patch", "clusterrolebindings")),
            ..Hints::default()
        };
        assert!(classify(Family::Kubernetes, "", hinted).is_some());
    }

    #[test]
    fn shell_account_changes() {
        let s = |raw: &str| classify(Family::Ssh, raw, Hints::default()).map(|c| c.into_owned());
        assert_eq!(s("sudo useradd -m eve").as_deref(), Some("useradd"));
        assert_eq!(
            s("/usr/sbin/usermod -aG sudo eve").as_deref(),
            Some("usermod")
        );
        assert_eq!(
            s("echo 'eve ALL=(ALL) NOPASSWD:ALL' >> /etc/sudoers").as_deref(),
            Some("write to /etc/sudoers")
        );
        assert_eq!(
            s("sudo tee /etc/sudoers.d/eve").as_deref(),
            Some("write to /etc/sudoers")
        );
        assert_eq!(
            s("chmod u+s /usr/bin/find").as_deref(),
            Some("setuid chmod")
        );
        assert_eq!(s("chmod 4755 /tmp/sh").as_deref(), Some("setuid chmod"));
        assert_eq!(s("chmod 755 /tmp/run.sh"), None);
        assert_eq!(s("cat /etc/passwd"), None);
        assert_eq!(s("grep root /etc/passwd | wc -l"), None);
        assert_eq!(s("bash -c 'passwd eve'").as_deref(), Some("passwd"));
        assert_eq!(
            s("LANG=C sudo -n usermod -L eve").as_deref(),
            Some("usermod")
        );
        assert_eq!(s("ls -la /var/log"), None);
    }
}
