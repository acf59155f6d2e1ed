//! The files in force, for the `files_loaded` record: the policy files the running set
//! was loaded from and the warden.yaml last read, each with its SHA-256. Both reloaders
//! share one [`FilesInForce`], so every record lists every file, whichever changed.
//!
//! Must never record a file that is not in force (a refused or invalid edit is not).

use std::path::Path;
use std::sync::{Arc, Mutex};

use warden_audit::{AuditLog, Durability, Event, EventKind};

use super::files::sha256_hex;

#[derive(Debug, Default)]
struct Lines {
    policies: Vec<String>,
    config: Option<String>,
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
        self.lock().config = Some(format!("{}  {}", sha256_hex(bytes), path.display()));
    }

    /// warden.yaml by an already computed SHA-256.
    pub fn set_config_hash(&self, path: &Path, hash: &[u8; 32]) {
        let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
        self.lock().config = Some(format!("{hex}  {}", path.display()));
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
