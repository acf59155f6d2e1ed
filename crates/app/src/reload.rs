//! Policy hot reload: watch the policy files and folders (and SIGHUP), re-load and
//! validate the whole set, then swap it in atomically with `PolicyStore::replace`.
//!
//! An invalid edit keeps the old set in force, logs every diagnostic and audits
//! `PolicyReloadFailed`; a good one audits `PolicyReloaded` and `FilesLoaded` (every
//! file's SHA-256). An edit that reached the files without review (anything but
//! [`PolicyReloader::apply_reviewed`]) raises a `config-drift` alert with the diff and,
//! under `policy_changes: require_review`, is not applied at all. Must never leave the
//! Gate without a policy set or with a partially loaded one.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::{mpsc, Mutex};
use tokio_util::sync::CancellationToken;

use crate::drift::alert;
use crate::drift::files::FileSnapshot;
use crate::drift::ledger::FilesInForce;
use crate::signals::reload_on_events;
use warden_audit::{AuditLog, Durability, Event, EventKind};
use warden_config::PolicyChanges;
use warden_policy::{PolicyErrors, PolicySet, PolicyStore};

/// Largest diff an alert carries (bytes).
const DIFF_LIMIT: usize = 6 * 1024;

/// What a reload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReloadOutcome {
    /// The new set is in force; `rules` compiled rules.
    Reloaded { rules: usize },
    /// The files are byte-for-byte what is already loaded.
    Unchanged,
    /// Invalid: the old set stays; the diagnostics, one per line.
    Rejected { diagnostics: String },
    /// `policy_changes: require_review`: `files` changed without review; the old set
    /// stays.
    Refused { files: Vec<String> },
}

/// What is in force and what was last seen on disk.
struct InForce {
    /// The files the running set was loaded from (`None`: unreadable at start).
    applied: Option<FileSnapshot>,
    /// Fingerprint of the files as last seen (applied or not), to skip no-op events.
    seen: Option<[u8; 32]>,
}

/// Re-loads the policy paths into a store.
#[derive(Clone)]
pub struct PolicyReloader {
    paths: Arc<Vec<PathBuf>>,
    store: PolicyStore,
    audit: AuditLog,
    mode: PolicyChanges,
    files: FilesInForce,
    state: Arc<Mutex<InForce>>,
}

impl std::fmt::Debug for PolicyReloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyReloader")
            .field("paths", &self.paths)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

fn load(paths: &[PathBuf]) -> Result<PolicySet, PolicyErrors> {
    // No policy paths: the built-in defaults, exactly as at start.
    if paths.is_empty() {
        return Ok(PolicySet::empty());
    }
    PolicySet::load(paths)
}

/// Paths as text, for records and alerts.
fn shown(paths: &[PathBuf]) -> Vec<String> {
    paths.iter().map(|p| p.display().to_string()).collect()
}

impl PolicyReloader {
    /// `paths` must be what the store's current set was loaded from. Unreviewed edits
    /// are applied and alerted (`policy_changes: alert`) unless [`Self::with_mode`].
    pub fn new(paths: Vec<PathBuf>, store: PolicyStore, audit: AuditLog) -> PolicyReloader {
        let applied = FileSnapshot::read(&paths).ok();
        let files = FilesInForce::default();
        if let Some(s) = &applied {
            files.set_policies(s.hash_lines());
        }
        PolicyReloader {
            paths: Arc::new(paths),
            store,
            audit,
            mode: PolicyChanges::Alert,
            files,
            state: Arc::new(Mutex::new(InForce {
                seen: applied.as_ref().map(FileSnapshot::fingerprint),
                applied,
            })),
        }
    }

    /// What an unreviewed edit does.
    pub fn with_mode(mut self, mode: PolicyChanges) -> PolicyReloader {
        self.mode = mode;
        self
    }

    /// Share the `files_loaded` ledger with the warden.yaml reloader.
    pub fn with_ledger(mut self, files: FilesInForce) -> PolicyReloader {
        files.set_policies(self.files.detail().lines().map(str::to_string).collect());
        self.files = files;
        self
    }

    pub fn ledger(&self) -> &FilesInForce {
        &self.files
    }

    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }

    /// The files the running set was loaded from.
    pub async fn applied(&self) -> Option<FileSnapshot> {
        self.state.lock().await.applied.clone()
    }

    /// Reload now. `force` reloads even when the files did not change (SIGHUP).
    pub async fn reload(&self, force: bool) -> ReloadOutcome {
        let mut state = self.state.lock().await;
        let paths = Arc::clone(&self.paths);
        let read =
            tokio::task::spawn_blocking(move || (FileSnapshot::read(&paths), load(&paths))).await;
        let (snapshot, result) = match read {
            Ok((s, r)) => (s.ok(), r),
            Err(e) => (
                None,
                Err(PolicyErrors(vec![panic_diagnostic(&e.to_string())])),
            ),
        };
        let fp = snapshot.as_ref().map(FileSnapshot::fingerprint);
        if !force && fp.is_some() && fp == state.seen {
            return ReloadOutcome::Unchanged;
        }
        // Remember this version (even a bad one) so an unrelated event does not re-report it.
        state.seen = fp;
        let diff = match (&state.applied, &snapshot) {
            (Some(old), Some(new)) if !old.changed(new).is_empty() => {
                Some((shown(&old.changed(new)), old.diff(new, DIFF_LIMIT)))
            }
            _ => None,
        };
        if let (Some((files, diff)), PolicyChanges::RequireReview) = (&diff, self.mode) {
            let summary = format!(
                "policy files changed on disk without review: {}; NOT applied (policy_changes: require_review): the running policy stays the one loaded before; propose it with `warden policy propose` or restore the files",
                files.join(", ")
            );
            alert::raise(&self.audit, None, &summary, diff).await;
            return ReloadOutcome::Refused {
                files: files.clone(),
            };
        }
        match result {
            Ok(set) => {
                let rules = self.apply(&mut state, set, snapshot, None).await;
                if let Some((files, diff)) = &diff {
                    let summary = format!(
                        "policy files changed on disk without review: {}; applied (policy_changes: alert)",
                        files.join(", ")
                    );
                    alert::raise(&self.audit, None, &summary, diff).await;
                }
                ReloadOutcome::Reloaded { rules }
            }
            Err(errors) => {
                let diagnostics = errors.to_string();
                tracing::error!(
                    "policy reload rejected; the previous policies stay in force:\n{diagnostics}"
                );
                let mut ev = Event::new(EventKind::PolicyReloadFailed);
                ev.detail = Some(diagnostics.clone());
                self.audit_event(ev).await;
                if let Some((files, diff)) = &diff {
                    let summary = format!(
                        "policy files changed on disk without review: {}; not applied: the new files are invalid",
                        files.join(", ")
                    );
                    alert::raise(&self.audit, None, &summary, diff).await;
                }
                ReloadOutcome::Rejected { diagnostics }
            }
        }
    }

    /// Swap `set` in; audit `policy_reloaded` (naming the proposal when reviewed) and
    /// `files_loaded`.
    async fn apply(
        &self,
        state: &mut InForce,
        set: PolicySet,
        snapshot: Option<FileSnapshot>,
        proposal: Option<&str>,
    ) -> usize {
        let rules = set.rules().count();
        self.store.replace(set);
        if let Some(s) = &snapshot {
            self.files.set_policies(s.hash_lines());
        }
        state.seen = snapshot.as_ref().map(FileSnapshot::fingerprint);
        state.applied = snapshot;
        tracing::info!(rules, "policies reloaded");
        let mut ev = Event::new(EventKind::PolicyReloaded);
        let from = shown(&self.paths).join(", ");
        ev.detail = Some(match proposal {
            Some(id) => format!("{rules} rules from {from} (reviewed: proposal {id})"),
            None => format!("{rules} rules from {from}"),
        });
        self.audit_event(ev).await;
        self.files.record(&self.audit).await;
        rules
    }

    /// Apply a reviewed policy set: `write` puts it on disk (under the reload lock, so the
    /// file watcher sees it as already applied); the files are then read back, must be
    /// exactly `expected`, and are loaded and swapped in. No drift alert. `base` is the
    /// fingerprint of the files the proposal was made against: when the running files
    /// changed since, nothing is written.
    pub async fn apply_reviewed<W>(
        &self,
        proposal: &str,
        base: [u8; 32],
        expected: FileSnapshot,
        write: W,
    ) -> Result<usize, String>
    where
        W: FnOnce() -> Result<(), String> + Send + 'static,
    {
        let mut state = self.state.lock().await;
        let current = state.applied.as_ref().map(FileSnapshot::fingerprint);
        if current != Some(base) {
            return Err(
                "the policy files in force changed since this proposal was made; propose again"
                    .into(),
            );
        }
        let paths = Arc::clone(&self.paths);
        let read = tokio::task::spawn_blocking(move || {
            write()?;
            let snapshot = FileSnapshot::read(&paths)?;
            Ok::<_, String>((snapshot, load(&paths)))
        })
        .await
        .map_err(|e| format!("applying failed: {e}"))??;
        let (snapshot, loaded) = read;
        if snapshot != expected {
            return Err("the files on disk differ from the approved set after writing (edited concurrently?); nothing applied".into());
        }
        let set = loaded.map_err(|e| format!("the approved set does not load:\n{e}"))?;
        Ok(self
            .apply(&mut state, set, Some(snapshot), Some(proposal))
            .await)
    }

    async fn audit_event(&self, ev: Event) {
        if let Err(e) = self.audit.append(ev, Durability::Durable).await {
            tracing::error!(error = %e, "could not audit a policy reload");
        }
    }

    /// Watch the policy paths and SIGHUP until `shutdown`; reload on changes.
    /// The watch is in place when this returns (an edit right after start is seen).
    pub fn spawn(self, shutdown: CancellationToken) -> tokio::task::JoinHandle<()> {
        let (tx, rx) = mpsc::unbounded_channel::<()>();
        let watcher = match self.watch(tx) {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch policy files; reload with SIGHUP");
                None
            }
        };
        tokio::spawn(async move {
            let _watcher = watcher;
            reload_on_events(rx, shutdown, |forced| self.reload(forced)).await;
        })
    }

    fn watch(&self, tx: mpsc::UnboundedSender<()>) -> notify::Result<notify::RecommendedWatcher> {
        use notify::{RecursiveMode, Watcher};
        let mut watcher =
            notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
                if let Ok(ev) = res {
                    if !ev.kind.is_access() {
                        let _ = tx.send(());
                    }
                }
            })?;
        for p in self.paths.iter() {
            // Watch folders, not files: editors replace a file by renaming over it.
            let (dir, mode) = if p.is_dir() {
                (p.as_path(), RecursiveMode::Recursive)
            } else {
                (
                    p.parent().unwrap_or(Path::new(".")),
                    RecursiveMode::NonRecursive,
                )
            };
            watcher.watch(dir, mode)?;
        }
        Ok(watcher)
    }
}

fn panic_diagnostic(msg: &str) -> warden_policy::Diagnostic {
    warden_policy::Diagnostic {
        file: String::new(),
        line: 0,
        column: 0,
        key: String::new(),
        message: format!("policy loading failed: {msg}"),
        suggestion: None,
    }
}
