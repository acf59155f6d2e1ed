//! warden.yaml hot reload for Warden's own users: on SIGHUP, and when the file changes
//! (watched like the policy files), re-read and validate the whole file, then swap the
//! `users:` section into the [`UserDirectory`] every front-end and the console share.
//!
//! * Valid, users changed → the new users are in force at once (new logins, console and
//!   API requests); sessions already open keep the user they logged in as. Audited
//!   `config_reloaded` with the convention `privilege-change` reads ([`diff::detail`]).
//! * Other sections changed → they are *not* applied; the record and the log name them
//!   (`restart needed for: targets, web`).
//! * Invalid → nothing changes; audited `config_reload_failed` with every diagnostic.
//! * Every reload that read a valid file is followed by a `files_loaded` record: the
//!   SHA-256 of warden.yaml and of every policy file in force (a shared
//!   [`FilesInForce`] ledger).
//!
//! A restart with changed users is not compared with the users before it (the audit
//! chain holds no user list to compare against); only run-time reloads are reported.
//! Must never apply half a file, log or audit a secret, or stop serving on a bad file.

pub mod diff;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, Mutex};
use tokio_util::sync::CancellationToken;
use warden_audit::{AuditLog, Durability, Event, EventKind};
use warden_config::{Config, User};
use warden_gate::auth::UserDirectory;

use crate::drift::ledger::FilesInForce;
use crate::signals::reload_on_events;

/// What a config reload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigReloadOutcome {
    /// The file was valid; `detail` is what the `config_reloaded` record says.
    Reloaded { detail: String },
    /// The file is byte-for-byte what was last read.
    Unchanged,
    /// Invalid: everything stays as it was; the diagnostics, one per line.
    Rejected { diagnostics: String },
}

/// What is in force: the configuration the gateway started with (every section but the
/// users) and the users last swapped in.
struct InForce {
    started: Config,
    users: Vec<User>,
    fingerprint: Option<[u8; 32]>,
}

/// Re-reads warden.yaml into the user directory.
#[derive(Clone)]
pub struct ConfigReloader {
    file: Arc<PathBuf>,
    users: Arc<UserDirectory>,
    audit: AuditLog,
    state: Arc<Mutex<InForce>>,
    files: FilesInForce,
}

impl std::fmt::Debug for ConfigReloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigReloader")
            .field("file", &self.file)
            .finish_non_exhaustive()
    }
}

fn fingerprint(file: &Path) -> Option<[u8; 32]> {
    std::fs::read(file)
        .ok()
        .map(|bytes| Sha256::digest(bytes).into())
}

impl ConfigReloader {
    /// For a gateway started from `config` (loaded from `config.file`), whose users are
    /// in `users`. `None` for a configuration not read from a file.
    pub fn new(
        config: &Config,
        users: Arc<UserDirectory>,
        audit: AuditLog,
    ) -> Option<ConfigReloader> {
        if config.file.as_os_str().is_empty() {
            return None;
        }
        let state = InForce {
            started: config.clone(),
            users: config.users.clone(),
            fingerprint: fingerprint(&config.file),
        };
        Some(ConfigReloader {
            file: Arc::new(config.file.clone()),
            users,
            audit,
            state: Arc::new(Mutex::new(state)),
            files: FilesInForce::default(),
        })
    }

    /// Share the `files_loaded` ledger with the policy reloader; records warden.yaml's
    /// hash as read at start.
    pub fn with_ledger(mut self, files: FilesInForce) -> ConfigReloader {
        if let Ok(state) = self.state.try_lock() {
            if let Some(fp) = &state.fingerprint {
                files.set_config_hash(&self.file, fp);
            }
        }
        self.files = files;
        self
    }

    /// Re-read the file now. `force` (SIGHUP) reloads and audits even when the bytes
    /// did not change.
    pub async fn reload(&self, force: bool) -> ConfigReloadOutcome {
        let mut state = self.state.lock().await;
        let file = Arc::clone(&self.file);
        let read =
            tokio::task::spawn_blocking(move || (fingerprint(&file), Config::load(&file))).await;
        let (fp, loaded) = match read {
            Ok(x) => x,
            Err(e) => {
                let diagnostics = format!("{}: reading failed: {e}", self.file.display());
                return self.rejected(&mut state, None, diagnostics).await;
            }
        };
        if !force && fp.is_some() && fp == state.fingerprint {
            return ConfigReloadOutcome::Unchanged;
        }
        let new = match loaded {
            Ok(new) => new,
            Err(errors) => return self.rejected(&mut state, fp, errors.to_string()).await,
        };
        let changes = diff::user_changes(&state.users, &new.users);
        let restart = diff::restart_needed(&state.started, &new);
        if !changes.is_empty() {
            self.users.replace(new.users.iter().cloned());
        }
        state.users = new.users;
        state.fingerprint = fp;
        let detail = diff::detail(&changes, &restart);
        tracing::info!(file = %self.file.display(), %detail, "configuration reloaded");
        if !restart.is_empty() {
            tracing::warn!(
                sections = %restart.join(", "),
                "warden.yaml changed in sections that only apply after a restart"
            );
        }
        let mut ev = Event::new(EventKind::ConfigReloaded);
        ev.detail = Some(detail.clone());
        self.audit_event(ev).await;
        if let Some(fp) = &fp {
            self.files.set_config_hash(&self.file, fp);
        }
        self.files.record(&self.audit).await;
        ConfigReloadOutcome::Reloaded { detail }
    }

    async fn rejected(
        &self,
        state: &mut InForce,
        fp: Option<[u8; 32]>,
        diagnostics: String,
    ) -> ConfigReloadOutcome {
        // Remember the bad version so an unrelated file event does not re-report it.
        state.fingerprint = fp;
        tracing::error!(
            "warden.yaml reload rejected; the running users and settings stay:\n{diagnostics}"
        );
        let mut ev = Event::new(EventKind::ConfigReloadFailed);
        ev.detail = Some(diagnostics.clone());
        self.audit_event(ev).await;
        ConfigReloadOutcome::Rejected { diagnostics }
    }

    async fn audit_event(&self, ev: Event) {
        if let Err(e) = self.audit.append(ev, Durability::Durable).await {
            tracing::error!(error = %e, "could not audit a configuration reload");
        }
    }

    /// Watch the file and SIGHUP until `shutdown`; reload on changes.
    /// The watch is in place when this returns (an edit right after start is seen).
    pub fn spawn(self, shutdown: CancellationToken) -> tokio::task::JoinHandle<()> {
        let (tx, rx) = mpsc::unbounded_channel::<()>();
        let watcher = match self.watch(tx) {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch warden.yaml; reload it with SIGHUP");
                None
            }
        };
        tokio::spawn(async move {
            let _watcher = watcher;
            reload_on_events(rx, shutdown, |forced| self.reload(forced)).await;
        })
    }

    /// Watch the file's folder (editors replace a file by renaming over it) for events
    /// naming the file.
    fn watch(&self, tx: mpsc::UnboundedSender<()>) -> notify::Result<notify::RecommendedWatcher> {
        use notify::{RecursiveMode, Watcher};
        let name = self.file.file_name().map(|n| n.to_os_string());
        let mut watcher =
            notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
                let Ok(ev) = res else { return };
                let about_file = ev.paths.iter().any(|p| p.file_name() == name.as_deref());
                if about_file && !ev.kind.is_access() {
                    let _ = tx.send(());
                }
            })?;
        let dir = self
            .file
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        watcher.watch(dir, RecursiveMode::NonRecursive)?;
        Ok(watcher)
    }
}
