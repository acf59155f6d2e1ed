//! What a re-read warden.yaml changes: Warden users added, removed, with changed roles or
//! changed credentials (names only), and which other top-level sections differ from the
//! running configuration (those need a restart). Pure; the `detail` it writes follows the
//! convention the `privilege-change` detector reads (`warden_analytics::classify::reload`).
//!
//! Must never put a secret (hash, verifier, key, token) in anything it returns.

use std::collections::BTreeMap;

use warden_config::{Config, User};

/// The user changes of one reload, each list sorted by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserChanges {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub roles_changed: Vec<String>,
    /// Password hash, SCRAM verifier, SSH keys or bearer tokens differ (no role change).
    pub credentials_changed: Vec<String>,
}

impl UserChanges {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.roles_changed.is_empty()
            && self.credentials_changed.is_empty()
    }
}

/// Who was added, removed or changed between the users in force and the new ones.
pub fn user_changes(old: &[User], new: &[User]) -> UserChanges {
    let old: BTreeMap<&str, &User> = old.iter().map(|u| (u.name.as_str(), u)).collect();
    let new: BTreeMap<&str, &User> = new.iter().map(|u| (u.name.as_str(), u)).collect();
    let mut c = UserChanges::default();
    for (name, n) in &new {
        match old.get(name) {
            None => c.added.push((*name).to_string()),
            Some(o) if sorted(&o.roles) != sorted(&n.roles) => {
                c.roles_changed.push((*name).to_string())
            }
            Some(o) if !same_credentials(o, n) => c.credentials_changed.push((*name).to_string()),
            Some(_) => {}
        }
    }
    c.removed = old
        .keys()
        .filter(|name| !new.contains_key(*name))
        .map(|n| (*n).to_string())
        .collect();
    c
}

fn sorted(v: &[String]) -> Vec<&str> {
    let mut s: Vec<&str> = v.iter().map(String::as_str).collect();
    s.sort_unstable();
    s.dedup();
    s
}

fn same_credentials(a: &User, b: &User) -> bool {
    a.password_hash == b.password_hash
        && a.scram == b.scram
        && a.mysql_native == b.mysql_native
        && a.ssh_authorized_keys == b.ssh_authorized_keys
        && a.token_hashes == b.token_hashes
}

/// Top-level keys of warden.yaml, other than `users`, whose validated value differs
/// between the running configuration and the new one (in file order).
pub fn restart_needed(running: &Config, new: &Config) -> Vec<&'static str> {
    // The typed sections have no `PartialEq` (secrets, options); their `Debug` is
    // deterministic (no hash maps) and prints secrets as `***`, which is enough to tell
    // a changed section. A changed secret *file content* is not seen: secrets are read at
    // start only.
    let same =
        |a: &dyn std::fmt::Debug, b: &dyn std::fmt::Debug| format!("{a:?}") == format!("{b:?}");
    let sections: [(&'static str, bool); 10] = [
        ("web", same(&running.web, &new.web)),
        ("audit", same(&running.audit, &new.audit)),
        ("policies", running.policies == new.policies),
        ("targets", same(&running.targets, &new.targets)),
        ("notifications", running.notifications == new.notifications),
        ("data_dir", running.data_dir == new.data_dir),
        (
            "shutdown_grace",
            running.shutdown_grace == new.shutdown_grace,
        ),
        ("analytics", running.analytics == new.analytics),
        ("oidc", same(&running.oidc, &new.oidc)),
        (
            "gateway_tokens",
            running.gateway_tokens == new.gateway_tokens,
        ),
    ];
    sections
        .into_iter()
        .filter(|(_, unchanged)| !unchanged)
        .map(|(key, _)| key)
        .collect()
}

/// The `config_reloaded` detail: one segment per kind of change, names only, e.g.
/// `users added: carl; users removed: bert; roles changed: anna; restart needed for:
/// targets`, or `no changes`.
pub fn detail(users: &UserChanges, restart: &[&str]) -> String {
    let mut segments = Vec::new();
    for (label, names) in [
        ("users added", &users.added),
        ("users removed", &users.removed),
        ("roles changed", &users.roles_changed),
        ("credentials changed", &users.credentials_changed),
    ] {
        if !names.is_empty() {
            segments.push(format!("{label}: {}", names.join(", ")));
        }
    }
    if !restart.is_empty() {
        segments.push(format!("restart needed for: {}", restart.join(", ")));
    }
    if segments.is_empty() {
        return "no changes".to_string();
    }
    segments.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use warden_analytics::classify::reload::changes;

    fn user(name: &str, roles: &[&str], hash: &str) -> User {
        User {
            name: name.into(),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            password_hash: Some(hash.into()),
            scram: None,
            mysql_native: None,
            ssh_authorized_keys: vec![],
            token_hashes: vec![],
            service: false,
        }
    }

    #[test]
    fn added_removed_and_changed_users_are_named_for_the_detector() {
        let old = [
            user("anna", &["developer"], "h1"),
            user("bert", &["dba"], "h2"),
            user("dora", &["viewer"], "h4"),
        ];
        let new = [
            user("anna", &["dba", "developer"], "h1"),
            user("carl", &["developer"], "h3"),
            user("dora", &["viewer"], "h5"),
        ];
        let c = user_changes(&old, &new);
        assert_eq!(c.added, ["carl"]);
        assert_eq!(c.removed, ["bert"]);
        assert_eq!(c.roles_changed, ["anna"]);
        assert_eq!(c.credentials_changed, ["dora"]);
        let text = detail(&c, &["targets"]);
        assert_eq!(
            text,
            "users added: carl; users removed: bert; roles changed: anna; credentials changed: dora; restart needed for: targets"
        );
        assert!(!text.contains("h5"));
        let read: Vec<(Option<String>, String)> = changes(&text)
            .into_iter()
            .map(|c| (c.user, c.what))
            .collect();
        assert_eq!(
            read,
            [
                (Some("carl".into()), "user added".into()),
                (Some("bert".into()), "user removed".into()),
                (Some("anna".into()), "roles changed".into()),
            ]
        );
    }

    #[test]
    fn role_order_and_unchanged_users_are_no_change() {
        let old = [user("anna", &["a", "b"], "h")];
        let new = [user("anna", &["b", "a"], "h")];
        let c = user_changes(&old, &new);
        assert!(c.is_empty());
        assert_eq!(detail(&c, &[]), "no changes");
        assert!(changes("no changes").is_empty());
        assert!(changes("credentials changed: dora").is_empty());
    }

    #[test]
    fn a_changed_oidc_section_needs_a_restart() {
        let parse = |oidc: &str| {
            Config::parse(oidc, "warden.yaml", std::path::Path::new(".")).expect("valid")
        };
        let base = "oidc:\n  issuer: https://id.example.com\n  client_id: warden\n  redirect_url: https://w.example.com/login/oidc/callback\n  roles: { ops: [admin] }\n";
        let running = parse(base);
        assert!(restart_needed(&running, &parse(base)).is_empty());
        let more =
            format!("{base}    dba: [dba]\n").replace("{ ops: [admin] }", "\n    ops: [admin]");
        assert_eq!(restart_needed(&running, &parse(&more)), ["oidc"]);
        assert_eq!(restart_needed(&running, &parse("")), ["oidc"]);
    }
}
