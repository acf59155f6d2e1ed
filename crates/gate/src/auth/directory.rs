//! The user directory: the `users:` of warden.yaml, indexed for logins.
//!
//! Every look-up that checks a secret takes about the same time whether or not the user
//! exists (a dummy argon2 verification for unknown users; token hashes compared in
//! constant time against every stored hash). Must never expose a secret through `Debug`,
//! errors or logs.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use warden_config::scram::{constant_time_eq, ScramVerifier};
use warden_config::users::{normalize_ssh_key, token_hash, User};
use warden_config::MysqlNativeVerifier;

use super::password;

/// Why a login failed. `Display` is safe to show the client and to audit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    /// Unknown user or wrong secret: deliberately indistinguishable to the client.
    #[error("invalid user name or password")]
    BadCredentials,
    /// The user exists but has no credential of the kind offered.
    #[error("no credential of this kind is configured for the user")]
    NoCredential,
}

impl AuthFailure {
    /// A short reason for the audit record (`AuthFailed.detail`): says more than the
    /// client sees, never the secret.
    pub fn audit_reason(&self, user_known: bool) -> String {
        match self {
            AuthFailure::BadCredentials if user_known => "wrong password".into(),
            AuthFailure::BadCredentials => "unknown user".into(),
            AuthFailure::NoCredential => "no credential configured".into(),
        }
    }
}

/// All configured users, by name.
#[derive(Debug, Default)]
pub struct UserDirectory {
    users: BTreeMap<String, Arc<User>>,
}

/// A valid argon2id hash of a random password, verified against for unknown users so
/// that the time taken does not tell whether a name exists.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        password::hash_password("warden-dummy-password-for-timing").unwrap_or_default()
    })
}

impl UserDirectory {
    pub fn new(users: impl IntoIterator<Item = User>) -> UserDirectory {
        UserDirectory {
            users: users
                .into_iter()
                .map(|u| (u.name.clone(), Arc::new(u)))
                .collect(),
        }
    }

    pub fn user(&self, name: &str) -> Option<&User> {
        self.users.get(name).map(|u| u.as_ref())
    }

    pub fn users(&self) -> impl Iterator<Item = &User> {
        self.users.values().map(|u| u.as_ref())
    }

    pub fn len(&self) -> usize {
        self.users.len()
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// Check a password (argon2id). Blocking CPU work (~tens of ms): from async code use
    /// [`UserDirectory::authenticate`].
    pub fn verify_password(&self, name: &str, password: &str) -> Result<&User, AuthFailure> {
        match self.users.get(name) {
            Some(user) => match &user.password_hash {
                Some(phc) if password::verify_password(phc, password) => Ok(user),
                Some(_) => Err(AuthFailure::BadCredentials),
                None => {
                    let _ = password::verify_password(dummy_hash(), password);
                    Err(AuthFailure::NoCredential)
                }
            },
            None => {
                let _ = password::verify_password(dummy_hash(), password);
                Err(AuthFailure::BadCredentials)
            }
        }
    }

    /// [`verify_password`](Self::verify_password) on the blocking pool.
    pub async fn authenticate(
        self: &Arc<Self>,
        name: &str,
        password: &str,
    ) -> Result<Arc<User>, AuthFailure> {
        let dir = Arc::clone(self);
        let (name, password) = (name.to_owned(), password.to_owned());
        let res = tokio::task::spawn_blocking(move || {
            dir.verify_password(&name, &password)
                .map(|u| u.name.clone())
                .map(|n| dir.users.get(&n).cloned())
        })
        .await;
        match res {
            Ok(Ok(Some(user))) => Ok(user),
            Ok(Ok(None)) | Err(_) => Err(AuthFailure::BadCredentials),
            Ok(Err(e)) => Err(e),
        }
    }

    /// The user's SCRAM-SHA-256 verifier, if configured.
    pub fn scram_verifier(&self, name: &str) -> Option<&ScramVerifier> {
        self.users.get(name)?.scram.as_ref()
    }

    /// The user's `mysql_native_password` verifier (SHA1(SHA1(password))), if configured.
    pub fn mysql_native_verifier(&self, name: &str) -> Option<&MysqlNativeVerifier> {
        self.users.get(name)?.mysql_native.as_ref()
    }

    /// The user owning a bearer token (compared as SHA-256, in constant time per hash).
    pub fn by_token(&self, token: &str) -> Option<&User> {
        let presented = token_hash(token);
        let mut found: Option<&User> = None;
        for user in self.users.values() {
            for stored in &user.token_hashes {
                if constant_time_eq(stored, &presented) && found.is_none() {
                    found = Some(user);
                }
            }
        }
        found
    }

    /// Whether `key` (OpenSSH `type base64 [comment]`) is one of the user's keys.
    pub fn authorized_key(&self, name: &str, key: &str) -> bool {
        let (Some(user), Some(key)) = (self.users.get(name), normalize_ssh_key(key)) else {
            return false;
        };
        user.ssh_authorized_keys.contains(&key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn directory() -> UserDirectory {
        let alice = User {
            name: "alice".into(),
            roles: vec!["developer".into()],
            password_hash: Some(password::hash_password("wonderland").expect("hash")),
            scram: Some(ScramVerifier::generate("wonderland")),
            mysql_native: None,
            ssh_authorized_keys: vec![normalize_ssh_key(
                "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKey alice@laptop",
            )
            .expect("key")],
            token_hashes: vec![token_hash("tok-alice")],
        };
        let robot = User {
            name: "robot".into(),
            roles: vec![],
            password_hash: None,
            scram: None,
            mysql_native: None,
            ssh_authorized_keys: vec![],
            token_hashes: vec![token_hash("tok-robot")],
        };
        UserDirectory::new([alice, robot])
    }

    #[test]
    fn passwords() {
        let d = directory();
        assert_eq!(
            d.verify_password("alice", "wonderland")
                .map(|u| &u.name[..]),
            Ok("alice")
        );
        assert_eq!(
            d.verify_password("alice", "x").err(),
            Some(AuthFailure::BadCredentials)
        );
        assert_eq!(
            d.verify_password("mallory", "x").err(),
            Some(AuthFailure::BadCredentials)
        );
        assert_eq!(
            d.verify_password("robot", "x").err(),
            Some(AuthFailure::NoCredential)
        );
    }

    #[tokio::test]
    async fn authenticate_async() {
        let d = Arc::new(directory());
        assert_eq!(
            d.authenticate("alice", "wonderland")
                .await
                .map(|u| u.name.clone()),
            Ok("alice".into())
        );
        assert!(d.authenticate("alice", "nope").await.is_err());
    }

    #[test]
    fn tokens_keys_scram() {
        let d = directory();
        assert_eq!(d.by_token("tok-robot").map(|u| &u.name[..]), Some("robot"));
        assert!(d.by_token("tok-nobody").is_none());
        assert!(d.authorized_key("alice", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKey"));
        assert!(d.authorized_key(
            "alice",
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKey other-comment"
        ));
        assert!(!d.authorized_key("alice", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOther"));
        assert!(!d.authorized_key("robot", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKey"));
        assert!(d.scram_verifier("alice").is_some());
        assert!(d.scram_verifier("robot").is_none());
        assert!(!format!("{:?}", d).contains("argon2"));
    }
}
