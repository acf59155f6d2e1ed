//! Short-lived gateway tokens: a person signed in to the console mints one and uses it
//! as an HTTP bearer token (kubectl `--token`) or as a PostgreSQL password
//! (docs/operations.md, "Using the gateways after single sign-on").
//!
//! A token reads `wdn_<id>_<secret>`: `<id>` is 8 hex digits naming it in lists and
//! audit records, `<secret>` 32 bytes from the operating system's CSPRNG (base64url).
//! The store keeps only the SHA-256 of the whole text, the SCRAM-SHA-256 verifier derived
//! from it at mint time (the person's token salt, see [`GatewayTokens::mint`]), the user
//! name, the roles and the times — in memory, and in `<data_dir>/gateway-tokens.json`
//! when [`GatewayTokens::persist_at`] was called (`warden serve` does), so tokens outlive
//! a restart.
//!
//! A token's identity is namespaced: it is the person who minted it with the roles of
//! the console session that minted it, whether or not a local user of that name exists.
//! A token minted by a local user's session is also bounded by that user as configured
//! now (see [`UserDirectory::gateway_token`](super::UserDirectory::gateway_token)).
//!
//! Ended tokens (expired or revoked) are kept as tombstones for [`TOMBSTONE_KEEP`] so a
//! client presenting one is told why it is refused; then they are swept.
//!
//! This module must never keep, log, audit or return a token's secret after minting,
//! never compare a hash with a short-circuiting `==`, and never let a token outlive
//! `gateway_tokens.max_ttl`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, RwLock};
use std::time::{Duration, SystemTime};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};
use warden_config::scram::{constant_time_eq, ScramVerifier, DEFAULT_ITERATIONS};
use warden_config::GatewayTokenSettings;

use super::gateway_tokens_file;

/// Every gateway token starts with this.
pub const TOKEN_PREFIX: &str = "wdn_";
/// How long an ended token is remembered to say why it is refused.
pub const TOMBSTONE_KEEP: Duration = Duration::from_secs(3600);

/// What a token stands for. Never holds the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// 8 hex digits, also written in the token (`wdn_<id>_…`).
    pub id: String,
    pub user: String,
    /// The roles of the console session that minted it.
    pub roles: Vec<String>,
    /// Minted by a local user's session (`users:`), not by single sign-on.
    pub local: bool,
    pub issued: SystemTime,
    pub expires: SystemTime,
}

/// A freshly minted token: the secret is shown once and then only its hash is kept.
pub struct Minted {
    pub token: String,
    pub info: TokenInfo,
}

impl std::fmt::Debug for Minted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Minted")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

/// Why a token could not be minted. `Display` is for the person minting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MintError {
    #[error("gateway tokens are turned off on this gateway (gateway_tokens.enabled)")]
    Disabled,
    #[error("a token's lifetime must be at least 1s and at most {max}s (gateway_tokens.max_ttl)")]
    Ttl { max: u64 },
    #[error("{user} already holds {max} live gateway tokens (gateway_tokens.max_per_user): revoke one or let one expire")]
    TooMany { user: String, max: usize },
    #[error("the gateway token store could not be written: {0}")]
    Unsaved(String),
}

/// Why a presented token was refused. `Display` is safe for the client (who holds the
/// token) and for the audit record: it names the token's id, never its secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenRefusal {
    #[error("unknown gateway token")]
    Unknown,
    #[error("gateway token {0} has expired: mint a new one in the Warden console")]
    Expired(String),
    #[error("gateway token {0} was revoked")]
    Revoked(String),
    #[error("gateway token {0} was not issued to this user name")]
    OtherUser(String),
    #[error("gateway token {0} was minted by a user who is no longer configured")]
    UserGone(String),
    #[error("gateway tokens are turned off on this gateway")]
    Disabled,
}

pub(super) struct Entry {
    pub(super) info: TokenInfo,
    pub(super) hash: [u8; 32],
    pub(super) scram: ScramVerifier,
    pub(super) revoked: bool,
}

impl Entry {
    fn live(&self, now: SystemTime) -> bool {
        !self.revoked && self.info.expires > now
    }

    fn refusal(&self, now: SystemTime) -> Option<TokenRefusal> {
        if self.revoked {
            Some(TokenRefusal::Revoked(self.info.id.clone()))
        } else if self.info.expires <= now {
            Some(TokenRefusal::Expired(self.info.id.clone()))
        } else {
            None
        }
    }
}

/// A SCRAM verifier a PostgreSQL login may match, and whose it is.
#[derive(Clone)]
pub struct TokenVerifier {
    pub verifier: ScramVerifier,
    pub id: String,
}

/// The gateway tokens of every person, in memory.
pub struct GatewayTokens {
    settings: RwLock<GatewayTokenSettings>,
    entries: Mutex<Vec<Entry>>,
    /// One random SCRAM salt per person without a local SCRAM verifier: every token of
    /// theirs is derived with it, so one PostgreSQL exchange can check them all.
    salts: Mutex<HashMap<String, Vec<u8>>>,
    /// Where the store is kept across restarts (`None`: memory only).
    file: Mutex<Option<PathBuf>>,
}

impl Default for GatewayTokens {
    fn default() -> Self {
        GatewayTokens::new(GatewayTokenSettings::default())
    }
}

impl std::fmt::Debug for GatewayTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayTokens")
            .field("settings", &self.settings())
            .field("entries", &lock(&self.entries).len())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Whether `text` has the shape of a gateway token (`wdn_<8 hex>_<43+ characters>`):
/// the front-ends take such a password or bearer token as one, anything else as before.
pub fn is_gateway_token(text: &str) -> bool {
    token_id(text).is_some()
}

/// The id written in a token (`wdn_<id>_…`), if it has the shape of one.
pub fn token_id(token: &str) -> Option<&str> {
    let rest = token.strip_prefix(TOKEN_PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    (id.len() == 8 && id.bytes().all(|b| b.is_ascii_hexdigit()) && secret.len() >= 43).then_some(id)
}

impl GatewayTokens {
    pub fn new(settings: GatewayTokenSettings) -> GatewayTokens {
        GatewayTokens {
            settings: RwLock::new(settings),
            entries: Mutex::new(Vec::new()),
            salts: Mutex::new(HashMap::new()),
            file: Mutex::new(None),
        }
    }

    /// Keeps the store in `path` from now on, starting with what it holds (expired
    /// tokens dropped). A file that cannot be read back is renamed `<path>.unreadable`
    /// and the store starts empty (every earlier token refused); the reason is returned.
    /// Returns how many tokens were read.
    pub fn persist_at(&self, path: PathBuf) -> Result<usize, String> {
        let loaded = gateway_tokens_file::load(&path);
        let result = match loaded {
            Ok(entries) => {
                let mut held = lock(&self.entries);
                *held = entries;
                sweep(&mut held, SystemTime::now(), self.settings().max_per_user);
                Ok(held.len())
            }
            Err(why) => {
                let _ = std::fs::rename(&path, path.with_extension("json.unreadable"));
                Err(why)
            }
        };
        *lock(&self.file) = Some(path);
        result
    }

    /// Writes the store to its file, if it has one.
    fn save(&self, entries: &[Entry]) -> Result<(), String> {
        match lock(&self.file).as_deref() {
            Some(path) => gateway_tokens_file::save(path, entries).map_err(|e| e.to_string()),
            None => Ok(()),
        }
    }

    /// Applies `gateway_tokens:` (at start).
    pub fn configure(&self, settings: GatewayTokenSettings) {
        *self.settings.write().unwrap_or_else(|e| e.into_inner()) = settings;
    }

    pub fn settings(&self) -> GatewayTokenSettings {
        self.settings
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Mints a token for `user` with `roles` living `ttl`. Its SCRAM verifier is derived
    /// with `scram_base` (the salt and iterations of the local user's verifier, so one
    /// exchange checks the password and the tokens) or else with the person's token salt.
    pub fn mint(
        &self,
        user: &str,
        roles: Vec<String>,
        local: bool,
        ttl: Duration,
        scram_base: Option<(Vec<u8>, u32)>,
    ) -> Result<Minted, MintError> {
        self.mint_at(SystemTime::now(), user, roles, local, ttl, scram_base)
    }

    fn mint_at(
        &self,
        now: SystemTime,
        user: &str,
        roles: Vec<String>,
        local: bool,
        ttl: Duration,
        scram_base: Option<(Vec<u8>, u32)>,
    ) -> Result<Minted, MintError> {
        let settings = self.settings();
        if !settings.enabled {
            return Err(MintError::Disabled);
        }
        if ttl < Duration::from_secs(1) || ttl > settings.max_ttl {
            return Err(MintError::Ttl {
                max: settings.max_ttl.as_secs(),
            });
        }
        let (salt, iterations) = scram_base.unwrap_or_else(|| {
            let mut salts = lock(&self.salts);
            let salt = salts.entry(user.to_owned()).or_insert_with(|| {
                let mut s = vec![0u8; 16];
                OsRng.fill_bytes(&mut s);
                s
            });
            (salt.clone(), DEFAULT_ITERATIONS)
        });
        let mut secret = [0u8; 32];
        OsRng.fill_bytes(&mut secret);
        let mut entries = lock(&self.entries);
        sweep(&mut entries, now, settings.max_per_user);
        let live = entries
            .iter()
            .filter(|e| e.info.user == user && e.live(now))
            .count();
        if live >= settings.max_per_user {
            return Err(MintError::TooMany {
                user: user.to_owned(),
                max: settings.max_per_user,
            });
        }
        let id = loop {
            let mut raw = [0u8; 4];
            OsRng.fill_bytes(&mut raw);
            let id: String = raw.iter().map(|b| format!("{b:02x}")).collect();
            if !entries.iter().any(|e| e.info.id == id) {
                break id;
            }
        };
        let token = format!("{TOKEN_PREFIX}{id}_{}", URL_SAFE_NO_PAD.encode(secret));
        let info = TokenInfo {
            id,
            user: user.to_owned(),
            roles,
            local,
            issued: now,
            expires: now + ttl,
        };
        entries.push(Entry {
            info: info.clone(),
            hash: hash(&token),
            scram: ScramVerifier::derive(&token, &salt, iterations),
            revoked: false,
        });
        if let Err(why) = self.save(&entries) {
            // Not kept, not handed out.
            entries.pop();
            return Err(MintError::Unsaved(why));
        }
        Ok(Minted { token, info })
    }

    /// The token `token` stands for, if it is live.
    pub fn check(&self, token: &str) -> Result<TokenInfo, TokenRefusal> {
        self.check_at(SystemTime::now(), token)
    }

    fn check_at(&self, now: SystemTime, token: &str) -> Result<TokenInfo, TokenRefusal> {
        let settings = self.settings();
        if !settings.enabled {
            return Err(TokenRefusal::Disabled);
        }
        let id = token_id(token).ok_or(TokenRefusal::Unknown)?;
        let presented = hash(token);
        let mut entries = lock(&self.entries);
        sweep(&mut entries, now, settings.max_per_user);
        let entry = entries
            .iter()
            .find(|e| e.info.id == id && constant_time_eq(&e.hash, &presented))
            .ok_or(TokenRefusal::Unknown)?;
        match entry.refusal(now) {
            Some(why) => Err(why),
            None => Ok(entry.info.clone()),
        }
    }

    /// The token `id` of `user` as it is now: live, or why not.
    pub fn status(&self, user: &str, id: &str) -> Result<TokenInfo, TokenRefusal> {
        let now = SystemTime::now();
        if !self.settings().enabled {
            return Err(TokenRefusal::Disabled);
        }
        let entries = lock(&self.entries);
        let entry = entries
            .iter()
            .find(|e| e.info.id == id && e.info.user == user)
            .ok_or(TokenRefusal::Unknown)?;
        match entry.refusal(now) {
            Some(why) => Err(why),
            None => Ok(entry.info.clone()),
        }
    }

    /// The salt and iterations of `user`'s newest token (live or a tombstone), when they
    /// have one: what a PostgreSQL login offers a person without a local SCRAM verifier.
    pub fn scram_base(&self, user: &str) -> Option<(Vec<u8>, u32)> {
        let entries = lock(&self.entries);
        entries
            .iter()
            .rev()
            .find(|e| e.info.user == user)
            .map(|e| (e.scram.salt.clone(), e.scram.iterations))
    }

    /// `user`'s token verifiers with this salt and iterations (ended ones too, so the
    /// login can say why one is refused).
    pub fn scram_verifiers(&self, user: &str, salt: &[u8], iterations: u32) -> Vec<TokenVerifier> {
        if !self.settings().enabled {
            return Vec::new();
        }
        lock(&self.entries)
            .iter()
            .filter(|e| {
                e.info.user == user && e.scram.iterations == iterations && e.scram.salt == salt
            })
            .map(|e| TokenVerifier {
                verifier: e.scram.clone(),
                id: e.info.id.clone(),
            })
            .collect()
    }

    /// `user`'s live tokens, newest first.
    pub fn list(&self, user: &str) -> Vec<TokenInfo> {
        let now = SystemTime::now();
        let mut entries = lock(&self.entries);
        sweep(&mut entries, now, self.settings().max_per_user);
        entries
            .iter()
            .rev()
            .filter(|e| e.info.user == user && e.live(now))
            .map(|e| e.info.clone())
            .collect()
    }

    /// Revokes `user`'s live token `id`; `None` when they have no such live token.
    pub fn revoke(&self, user: &str, id: &str) -> Option<TokenInfo> {
        let now = SystemTime::now();
        let mut entries = lock(&self.entries);
        let entry = entries
            .iter_mut()
            .find(|e| e.info.user == user && e.info.id == id && e.live(now))?;
        entry.revoked = true;
        let info = entry.info.clone();
        if self.save(&entries).is_err() {
            // The file would bring the token back at the next start: without it, every
            // token ends at the next start instead (the safe direction).
            if let Some(path) = lock(&self.file).as_deref() {
                let _ = std::fs::remove_file(path);
            }
        }
        Some(info)
    }

    /// How many tokens are held in memory (live and tombstones): for tests and metrics.
    pub fn held(&self) -> usize {
        lock(&self.entries).len()
    }
}

/// Drops tombstones older than [`TOMBSTONE_KEEP`], and per user all but the newest
/// `keep` ended tokens (a person minting and revoking in a loop cannot grow the store).
fn sweep(entries: &mut Vec<Entry>, now: SystemTime, keep: usize) {
    // A revoked token's tombstone lasts until it would have expired, and then as long
    // as an expired one's.
    entries.retain(|e| e.info.expires + TOMBSTONE_KEEP > now);
    let mut ended_per_user: HashMap<String, usize> = HashMap::new();
    for i in (0..entries.len()).rev() {
        if entries[i].live(now) {
            continue;
        }
        let n = ended_per_user
            .entry(entries[i].info.user.clone())
            .or_insert(0);
        *n += 1;
        if *n > keep {
            entries.remove(i);
        }
    }
}

#[cfg(test)]
#[path = "gateway_tokens_tests.rs"]
mod tests;
