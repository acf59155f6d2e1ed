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

use super::gateway_tokens::{GatewayTokens, MintError, Minted, TokenInfo, TokenRefusal};
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
    /// Gateway tokens minted in the console (kept across `replace`).
    tokens: GatewayTokens,
}

/// A login with a gateway token: the identity it stands for and the token's id.
#[derive(Debug, Clone)]
pub struct TokenLogin {
    /// The person with the roles of the token (no credentials of their own).
    pub user: Arc<User>,
    pub id: String,
}

/// What a PostgreSQL SCRAM login of one name is checked against: the local user's
/// verifier (`id: None`) and the person's gateway tokens (ended ones too, to say why),
/// all with the salt and iterations of the first.
#[derive(Clone)]
pub struct ScramChoice {
    pub candidates: Vec<(ScramVerifier, Option<String>)>,
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
            tokens: GatewayTokens::default(),
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

    /// The gateway token store (settings, listing, revoking).
    pub fn tokens(&self) -> &GatewayTokens {
        &self.tokens
    }

    /// Mints a gateway token for `name` with the roles of the console session minting it
    /// (`local`: a local user's session). Its SCRAM verifier uses the salt of the local
    /// user's verifier when there is one, so PostgreSQL checks both in one exchange.
    pub fn mint_token(
        &self,
        name: &str,
        roles: Vec<String>,
        local: bool,
        ttl: std::time::Duration,
    ) -> Result<Minted, MintError> {
        let base = self
            .scram_verifier(name)
            .map(|v| (v.salt, v.iterations))
            .or_else(|| self.tokens.scram_base(name));
        self.tokens.mint(name, roles, local, ttl, base)
    }

    /// The identity a presented gateway token stands for. `name`: the user name the
    /// client gave with it (PostgreSQL, HTTP Basic); a token of another person refuses.
    pub fn gateway_token(
        &self,
        token: &str,
        name: Option<&str>,
    ) -> Result<TokenLogin, TokenRefusal> {
        let info = self.tokens.check(token)?;
        if name.is_some_and(|n| n != info.user) {
            return Err(TokenRefusal::OtherUser(info.id));
        }
        self.token_identity(info)
    }

    /// The identity of `name`'s token `id` (after a SCRAM proof matched its verifier).
    pub fn token_login(&self, name: &str, id: &str) -> Result<TokenLogin, TokenRefusal> {
        let info = self.tokens.status(name, id)?;
        self.token_identity(info)
    }

    /// The token's person and roles. A token minted by a local user's session never
    /// grants more than that user has now: removed user, no token; fewer roles, fewer.
    fn token_identity(&self, info: TokenInfo) -> Result<TokenLogin, TokenRefusal> {
        let roles = if info.local {
            let Some(now) = self.user(&info.user) else {
                return Err(TokenRefusal::UserGone(info.id));
            };
            info.roles
                .into_iter()
                .filter(|r| now.roles.contains(r))
                .collect()
        } else {
            info.roles
        };
        let user = User {
            name: info.user,
            roles,
            password_hash: None,
            scram: None,
            mysql_native: None,
            ssh_authorized_keys: Vec::new(),
            token_hashes: Vec::new(),
            service: false,
        };
        Ok(TokenLogin {
            user: Arc::new(user),
            id: info.id,
        })
    }

    /// The SCRAM verifiers a PostgreSQL login as `name` is checked against; `None` when
    /// the name has neither a local verifier nor a gateway token.
    pub fn scram_choice(&self, name: &str) -> Option<ScramChoice> {
        let local = self.scram_verifier(name);
        let (salt, iterations) = match &local {
            Some(v) => (v.salt.clone(), v.iterations),
            None => self.tokens.scram_base(name)?,
        };
        let mut candidates: Vec<(ScramVerifier, Option<String>)> =
            local.into_iter().map(|v| (v, None)).collect();
        candidates.extend(
            self.tokens
                .scram_verifiers(name, &salt, iterations)
                .into_iter()
                .map(|t| (t.verifier, Some(t.id))),
        );
        (!candidates.is_empty()).then_some(ScramChoice { candidates })
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

    #[test]
    fn gateway_tokens_stand_for_their_person_and_never_more_than_a_local_user_has() {
        let d = directory();
        let hour = std::time::Duration::from_secs(3600);
        // A single sign-on person who is not in `users:`: the token's roles.
        let sso = d
            .mint_token("sam", vec!["admin".into()], false, hour)
            .expect("mint");
        let login = d.gateway_token(&sso.token, None).expect("bearer");
        assert_eq!(
            (login.user.name.as_str(), login.user.roles.clone(), login.id),
            ("sam", vec!["admin".to_string()], sso.info.id.clone())
        );
        assert_eq!(
            d.gateway_token(&sso.token, Some("alice")).err(),
            Some(TokenRefusal::OtherUser(sso.info.id.clone()))
        );
        assert!(d.gateway_token(&sso.token, Some("sam")).is_ok());
        // An SSO person named like a local user keeps the token's roles, not alice's.
        let same_name = d
            .mint_token("alice", vec!["auditor".into()], false, hour)
            .expect("mint");
        assert_eq!(
            d.gateway_token(&same_name.token, Some("alice"))
                .map(|l| l.user.roles.clone())
                .ok(),
            Some(vec!["auditor".to_string()])
        );
        // Minted by local alice's session: bounded by alice as configured now.
        let local = d
            .mint_token(
                "alice",
                vec!["developer".into(), "admin".into()],
                true,
                hour,
            )
            .expect("mint");
        assert_eq!(
            d.gateway_token(&local.token, None)
                .map(|l| l.user.roles.clone())
                .ok(),
            Some(vec!["developer".to_string()])
        );
        d.replace([]);
        assert_eq!(
            d.gateway_token(&local.token, None).err(),
            Some(TokenRefusal::UserGone(local.info.id.clone()))
        );
        assert!(
            d.gateway_token(&sso.token, None).is_ok(),
            "kept across reloads"
        );
    }

    #[test]
    fn one_scram_choice_holds_the_password_and_the_tokens() {
        let d = directory();
        let hour = std::time::Duration::from_secs(3600);
        assert!(
            d.scram_choice("sam").is_none(),
            "neither password nor token"
        );
        let t = d.mint_token("alice", vec![], false, hour).expect("mint");
        let choice = d.scram_choice("alice").expect("alice");
        let local = d.scram_verifier("alice").expect("verifier");
        assert_eq!(choice.candidates.len(), 2);
        assert_eq!(choice.candidates[0], (local.clone(), None));
        let (token_verifier, id) = &choice.candidates[1];
        assert_eq!(id.as_deref(), Some(t.info.id.as_str()));
        assert_eq!(
            (&token_verifier.salt, token_verifier.iterations),
            (&local.salt, local.iterations),
            "derived with the password's salt"
        );
        let s = d.mint_token("sam", vec![], false, hour).expect("mint");
        let choice = d.scram_choice("sam").expect("sam's tokens");
        assert_eq!(choice.candidates.len(), 1);
        assert_eq!(choice.candidates[0].1.as_deref(), Some(s.info.id.as_str()));
        d.tokens().revoke("sam", &s.info.id).expect("revoke");
        assert_eq!(
            d.token_login("sam", &s.info.id).err(),
            Some(TokenRefusal::Revoked(s.info.id.clone()))
        );
    }
}
