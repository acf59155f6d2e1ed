//! Who signed in: the user name and groups read from a *verified* ID token's claims, and
//! the Warden roles those groups map to. Never built from an unverified token.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::{OidcError, OidcSettings};

/// A signed-in person, as the console would record and authorise them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The Warden user name (the `username_claim`).
    pub username: String,
    /// The provider's stable subject (`sub`).
    pub subject: String,
    /// The person's groups (the `groups_claim`), as the provider sent them.
    pub groups: Vec<String>,
    /// Warden roles mapped from the groups, sorted, without duplicates; never empty.
    pub roles: Vec<String>,
}

impl Identity {
    /// `claims` is the verified ID token's claims as JSON.
    pub(crate) fn from_claims(
        settings: &OidcSettings,
        claims: &Value,
    ) -> Result<Identity, OidcError> {
        let username = claims[&settings.username_claim]
            .as_str()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| OidcError::NoUsername(settings.username_claim.clone()))?
            .to_string();
        let subject = claims["sub"].as_str().unwrap_or_default().to_string();
        // A provider may send one group as a plain string.
        let groups: Vec<String> = match &claims[&settings.groups_claim] {
            Value::Array(items) => items
                .iter()
                .filter_map(|g| g.as_str().map(str::to_string))
                .collect(),
            Value::String(one) => vec![one.clone()],
            _ => Vec::new(),
        };
        let roles: BTreeSet<String> = groups
            .iter()
            .filter_map(|g| settings.roles.get(g))
            .flatten()
            .cloned()
            .collect();
        if roles.is_empty() {
            return Err(OidcError::NoRole {
                user: username,
                groups: if groups.is_empty() {
                    "none".into()
                } else {
                    groups.join(", ")
                },
            });
        }
        Ok(Identity {
            username,
            subject,
            groups,
            roles: roles.into_iter().collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn settings() -> OidcSettings {
        OidcSettings::from_yaml(
            "issuer: https://id.example.com\nclient_id: w\nredirect_url: https://w.example.com/cb\n\
             roles: { db-admins: [admin, dba], staff: [viewer, dba] }\n",
        )
        .expect("settings")
    }

    #[test]
    fn maps_groups_to_sorted_unique_roles() {
        let id = Identity::from_claims(
            &settings(),
            &json!({ "sub": "u1", "preferred_username": "alice", "groups": ["staff", "db-admins", "other"] }),
        )
        .expect("identity");
        assert_eq!(id.roles, ["admin", "dba", "viewer"]);
        assert_eq!((id.username.as_str(), id.subject.as_str()), ("alice", "u1"));
        let one = Identity::from_claims(
            &settings(),
            &json!({ "preferred_username": "a", "groups": "staff" }),
        )
        .expect("one");
        assert_eq!(one.roles, ["dba", "viewer"]);
    }

    #[test]
    fn refuses_no_role_and_no_name() {
        let err = Identity::from_claims(
            &settings(),
            &json!({ "preferred_username": "bob", "groups": ["contractors"] }),
        );
        assert!(
            matches!(err, Err(OidcError::NoRole { ref user, .. }) if user == "bob"),
            "{err:?}"
        );
        let err = Identity::from_claims(&settings(), &json!({ "sub": "x", "groups": ["staff"] }));
        assert!(
            matches!(err, Err(OidcError::NoUsername(ref c)) if c == "preferred_username"),
            "{err:?}"
        );
    }
}
