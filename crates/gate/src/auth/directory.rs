//! The user directory: the `users:` of warden.yaml, indexed for logins.
//!
//! Every look-up that checks a secret takes about the same time whether or not the user
//! exists (a dummy argon2 verification for unknown users; token hashes compared in
//! constant time against every stored hash). Must never expose a secret through `Debug`,
//! errors or logs.
//!
//! The users are one snapshot swapped whole by [`UserDirectory::replace`] (a config
//! reload): every holder of the directory sees the new users at its next look-up, a
//! look-up never sees half of two snapshots, and users already logged in keep the
//! `User` they logged in as.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

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

type Snapshot = Arc<BTreeMap<String, Arc<User>>>;

/// All configured users, by name.
#[derive(Debug, Default)]
pub struct UserDirectory {
    users: RwLock<Snapshot>,
    /// Bumped by every `replace`: caches of successful logins key on it.
    generation: AtomicU64,
}

fn index(users: impl IntoIterator<Item = User>) -> Snapshot {
    Arc::new(
        users
            .into_iter()
            .map(|u| (u.name.clone(), Arc::new(u)))
            .collect(),
    )
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
            users: RwLock::new(index(users)),
            generation: AtomicU64::new(0),
        }
    }

    /// Swap in a whole new set of users (a config reload). Look-ups after this see only
    /// the new users; sessions already logged in are not touched.
    pub fn replace(&self, users: impl IntoIterator<Item = User>) {
        let fresh = index(users);
        *self.users.write().unwrap_or_else(|e| e.into_inner()) = fresh;
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// How many times the users were replaced (a cache of logins keyed on it forgets
    /// them at a reload).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    fn snapshot(&self) -> Snapshot {
        Arc::clone(&self.users.read().unwrap_or_else(|e| e.into_inner()))
    }

    pub fn user(&self, name: &str) -> Option<Arc<User>> {
        self.snapshot().get(name).cloned()
    }

    /// Every user of the current snapshot, by name.
    pub fn users(&self) -> Vec<Arc<User>> {
        self.snapshot().values().cloned().collect()
    }

    pub fn len(&self) -> usize {
        self.snapshot().len()
    }

    pub fn is_empty(&self) -> bool {
        self.snapshot().is_empty()
    }

    /// Check a password (argon2id). Blocking CPU work (~tens of ms): from async code use
    /// [`UserDirectory::authenticate`].
    pub fn verify_password(&self, name: &str, password: &str) -> Result<Arc<User>, AuthFailure> {
        match self.snapshot().get(name) {
            Some(user) => match &user.password_hash {
                Some(phc) if password::verify_password(phc, password) => Ok(Arc::clone(user)),
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
        let res = tokio::task::spawn_blocking(move || dir.verify_password(&name, &password)).await;
        match res {
            Ok(result) => result,
            Err(_) => Err(AuthFailure::BadCredentials),
        }
    }

    /// The user's SCRAM-SHA-256 verifier, if configured.
    pub fn scram_verifier(&self, name: &str) -> Option<ScramVerifier> {
        self.snapshot().get(name)?.scram.clone()
    }

    /// The user's `mysql_native_password` verifier (SHA1(SHA1(password))), if configured.
    pub fn mysql_native_verifier(&self, name: &str) -> Option<MysqlNativeVerifier> {
        self.snapshot().get(name)?.mysql_native.clone()
    }

    /// The user owning a bearer token (compared as SHA-256, in constant time per hash).
    pub fn by_token(&self, token: &str) -> Option<Arc<User>> {
        let presented = token_hash(token);
        let mut found: Option<Arc<User>> = None;
        for user in self.snapshot().values() {
            for stored in &user.token_hashes {
                if constant_time_eq(stored, &presented) && found.is_none() {
                    found = Some(Arc::clone(user));
                }
            }
        }
        found
    }

    /// Whether `key` (OpenSSH `type base64 [comment]`) is one of the user's keys.
    pub fn authorized_key(&self, name: &str, key: &str) -> bool {
        let (Some(user), Some(key)) = (self.user(name), normalize_ssh_key(key)) else {
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
            service: false,
        };
        let robot = User {
            name: "robot".into(),
            roles: vec![],
            password_hash: None,
            scram: None,
            mysql_native: None,
            ssh_authorized_keys: vec![],
            token_hashes: vec![token_hash("tok-robot")],
            service: false,
        };
        UserDirectory::new([alice, robot])
    }

    #[test]
    fn passwords() {
        let d = directory();
        assert_eq!(
            d.verify_password("alice", "wonderland")
                .map(|u| u.name.clone()),
            Ok("alice".to_string())
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
        assert_eq!(
            d.by_token("tok-robot").map(|u| u.name.clone()),
            Some("robot".to_string())
        );
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

    #[test]
    fn replace_swaps_every_user_at_once() {
        let d = directory();
        assert_eq!(d.generation(), 0);
        let carol = User {
            name: "carol".into(),
            roles: vec!["dba".into()],
            password_hash: None,
            scram: None,
            mysql_native: None,
            ssh_authorized_keys: vec![],
            token_hashes: vec![token_hash("tok-carol")],
            service: false,
        };
        let before = d.user("alice").expect("alice");
        d.replace([carol]);
        assert_eq!(d.generation(), 1);
        assert!(d.user("alice").is_none() && d.by_token("tok-robot").is_none());
        assert_eq!(
            d.by_token("tok-carol").map(|u| u.roles.clone()),
            Some(vec!["dba".to_string()])
        );
        assert_eq!(
            before.name, "alice",
            "a user already handed out stays valid"
        );
        assert_eq!(d.len(), 1);
    }
}
