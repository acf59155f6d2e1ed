//! The files in force, for the `files_loaded` record: the policy files the running set
//! was loaded from and the warden.yaml last read, each with its SHA-256. Both reloaders
//! share one [`FilesInForce`], so every record lists every file, whichever changed.
//!
//! At start it also compares the policy files with the last record of the previous run
//! ([`FilesInForce::compare_with_last_run`]): an edit made while Warden was stopped went
//! around review too. Must never record a file that is not in force (a refused or
//! invalid edit is not).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use warden_audit::{AuditLog, Durability, Event, EventKind, Query};

use super::files::sha256_hex;

#[derive(Debug, Default)]
struct Lines {
    policies: Vec<String>,
    config: Option<String>,
    config_path: Option<String>,
}

/// The `<sha256>  <path>` lines of the files in force.
#[derive(Debug, Clone, Default)]
pub struct FilesInForce {
    lines: Arc<Mutex<Lines>>,
}

impl FilesInForce {
    fn lock(&self) -> std::sync::MutexGuard<'_, Lines> {
        self.lines.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn set_policies(&self, lines: Vec<String>) {
        self.lock().policies = lines;
    }

    /// warden.yaml as last read (its bytes' hash).
    pub fn set_config(&self, path: &Path, bytes: &[u8]) {
        let mut l = self.lock();
        l.config = Some(format!("{}  {}", sha256_hex(bytes), path.display()));
        l.config_path = Some(path.display().to_string());
    }

    /// warden.yaml by an already computed SHA-256.
    pub fn set_config_hash(&self, path: &Path, hash: &[u8; 32]) {
        let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
        let mut l = self.lock();
        l.config = Some(format!("{hex}  {}", path.display()));
        l.config_path = Some(path.display().to_string());
    }

    /// The policy files' `path → sha256` now, and in a `files_loaded` detail (warden.yaml
    /// left out).
    fn policy_hashes(&self, detail: Option<&str>) -> BTreeMap<String, String> {
        let l = self.lock();
        let lines: Vec<String> = match detail {
            Some(d) => d.lines().map(str::to_string).collect(),
            None => l.policies.clone(),
        };
        lines
            .iter()
            .filter_map(|line| line.split_once("  "))
            .filter(|(_, path)| l.config_path.as_deref() != Some(*path))
            .map(|(hash, path)| (path.to_string(), hash.to_string()))
            .collect()
    }

    /// At start: compare the policy files with the last `files_loaded` record of the
    /// chain (the set in force when Warden last ran). A difference was made while Warden
    /// was stopped, around review: raise a `config-drift` alert listing each file (the
    /// old contents are not kept, so there is no diff). Nothing when the chain has no
    /// such record.
    pub async fn compare_with_last_run(&self, audit: &AuditLog) {
        let reader = audit.clone();
        let last = tokio::task::spawn_blocking(move || last_files_loaded(&reader))
            .await
            .ok()
            .flatten();
        let Some(detail) = last else { return };
        let (old, now) = (self.policy_hashes(Some(&detail)), self.policy_hashes(None));
        let mut lines = Vec::new();
        for (path, hash) in &now {
            match old.get(path) {
                None => lines.push(format!("{path}: added ({hash})")),
                Some(h) if h != hash => lines.push(format!("{path}: changed ({h} → {hash})")),
                Some(_) => {}
            }
        }
        for (path, hash) in &old {
            if !now.contains_key(path) {
                lines.push(format!("{path}: removed (was {hash})"));
            }
        }
        if lines.is_empty() {
            return;
        }
        let summary = format!(
            "{} policy file(s) changed while Warden was stopped, without review; loaded as found at start",
            lines.len()
        );
        super::alert::raise(audit, None, &summary, &lines.join("\n")).await;
    }

    /// One line per file: warden.yaml first, then the policy files in path order.
    pub fn detail(&self) -> String {
        let l = self.lock();
        l.config
            .iter()
            .chain(l.policies.iter())
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Append a `files_loaded` record (durably: it is what later drift is judged by).
    pub async fn record(&self, audit: &AuditLog) {
        let mut ev = Event::new(EventKind::FilesLoaded);
        ev.detail = Some(self.detail());
        if let Err(e) = audit.append(ev, Durability::Durable).await {
            tracing::error!(error = %e, "could not record the files in force");
        }
    }
}

/// The detail of the newest `files_loaded` record (blocking; at most a few pages read).
fn last_files_loaded(audit: &AuditLog) -> Option<String> {
    let mut after = None;
    for _ in 0..10 {
        let page = audit
            .query(&Query {
                text: Some("files_loaded".into()),
                after,
                limit: 100,
                ..Query::default()
            })
            .ok()?;
        if let Some(r) = page
            .records
            .iter()
            .find(|r| r.event.kind == EventKind::FilesLoaded)
        {
            return r.event.detail.clone();
        }
        after = Some(page.next?);
    }
    None
}
