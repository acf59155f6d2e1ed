//! Policy hot reload: watch the policy files and folders (and SIGHUP), re-load and
//! validate the whole set, then swap it in atomically with `PolicyStore::replace`.
//!
//! An invalid edit keeps the old set in force, logs every diagnostic and audits
//! `PolicyReloadFailed`; a good one audits `PolicyReloaded`. Must never leave the Gate
//! without a policy set or with a partially loaded one.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, Mutex};
use tokio_util::sync::CancellationToken;

use crate::signals::reload_on_events;
use warden_audit::{AuditLog, Durability, Event, EventKind};
use warden_policy::{PolicyErrors, PolicySet, PolicyStore};

/// What a reload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReloadOutcome {
    /// The new set is in force; `rules` compiled rules.
    Reloaded { rules: usize },
    /// The files are byte-for-byte what is already loaded.
    Unchanged,
    /// Invalid: the old set stays; the diagnostics, one per line.
    Rejected { diagnostics: String },
}

/// Re-loads the policy paths into a store.
#[derive(Clone)]
pub struct PolicyReloader {
    paths: Arc<Vec<PathBuf>>,
    store: PolicyStore,
    audit: AuditLog,
    fingerprint: Arc<Mutex<Option<[u8; 32]>>>,
}

impl std::fmt::Debug for PolicyReloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyReloader")
            .field("paths", &self.paths)
            .finish_non_exhaustive()
    }
}

/// SHA-256 over every policy file's name and bytes (sorted), to skip no-op reloads.
fn fingerprint(paths: &[PathBuf]) -> Option<[u8; 32]> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .ok()?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| matches!(f.extension().and_then(|x| x.to_str()), Some("yaml" | "yml")))
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(p.clone());
        }
    }
    let mut h = Sha256::new();
    for f in files {
        h.update(f.to_string_lossy().as_bytes());
        h.update([0]);
        h.update(std::fs::read(&f).ok()?);
        h.update([0]);
    }
    Some(h.finalize().into())
}

fn load(paths: &[PathBuf]) -> Result<PolicySet, PolicyErrors> {
    // No policy paths: the built-in defaults, exactly as at start.
    if paths.is_empty() {
        return Ok(PolicySet::empty());
    }
    PolicySet::load(paths)
}

impl PolicyReloader {
    /// `paths` must be what the store's current set was loaded from.
    pub fn new(paths: Vec<PathBuf>, store: PolicyStore, audit: AuditLog) -> PolicyReloader {
        let fp = fingerprint(&paths);
        PolicyReloader {
            paths: Arc::new(paths),
            store,
            audit,
            fingerprint: Arc::new(Mutex::new(fp)),
        }
    }

    /// Reload now. `force` reloads even when the files did not change (SIGHUP).
    pub async fn reload(&self, force: bool) -> ReloadOutcome {
        let mut last = self.fingerprint.lock().await;
        let paths = Arc::clone(&self.paths);
        let loaded = tokio::task::spawn_blocking(move || (fingerprint(&paths), load(&paths))).await;
        let (fp, result) = match loaded {
            Ok(x) => x,
            Err(e) => (
                None,
                Err(PolicyErrors(vec![panic_diagnostic(&e.to_string())])),
            ),
        };
        if !force && fp.is_some() && fp == *last {
            return ReloadOutcome::Unchanged;
        }
        match result {
            Ok(set) => {
                let rules = set.rules().count();
                self.store.replace(set);
                *last = fp;
                tracing::info!(rules, "policies reloaded");
                let mut ev = Event::new(EventKind::PolicyReloaded);
                ev.detail = Some(format!("{rules} rules from {}", self.describe_paths()));
                self.audit_event(ev).await;
                ReloadOutcome::Reloaded { rules }
            }
            Err(errors) => {
                let diagnostics = errors.to_string();
                // Remember the bad version so an unrelated event does not re-report it.
                *last = fp;
                tracing::error!(
                    "policy reload rejected; the previous policies stay in force:\n{diagnostics}"
                );
                let mut ev = Event::new(EventKind::PolicyReloadFailed);
                ev.detail = Some(diagnostics.clone());
                self.audit_event(ev).await;
                ReloadOutcome::Rejected { diagnostics }
            }
        }
    }

    fn describe_paths(&self) -> String {
        self.paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }

    async fn audit_event(&self, ev: Event) {
        if let Err(e) = self.audit.append(ev, Durability::Durable).await {
            tracing::error!(error = %e, "could not audit a policy reload");
        }
    }

    /// Watch the policy paths and SIGHUP until `shutdown`; reload on changes.
    pub fn spawn(self, shutdown: CancellationToken) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move { self.run(shutdown).await })
    }

    async fn run(self, shutdown: CancellationToken) {
        let (tx, rx) = mpsc::unbounded_channel::<()>();
        let _watcher = match self.watch(tx) {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch policy files; reload with SIGHUP");
                None
            }
        };
        reload_on_events(rx, shutdown, |forced| self.reload(forced)).await;
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
