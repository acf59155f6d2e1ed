//! The reviewed path for policy changes (`warden policy propose`): a proposed set
//! becomes an approval request like a held statement — shown in the inbox with its
//! diff, approved in the console, API or `warden approvals`, N-of-M by the roles in
//! `policy_review:`, never by the proposer, expiring — and once approved it is written
//! to the policy files and applied through [`PolicyReloader::apply_reviewed`], so disk
//! and running state agree and no drift alert is raised.
//!
//! The request's action is `http` on the pseudo-target [`TARGET`] with the proposal
//! text (files, reason, unified diff) as its raw text. The request is a retry-mode one
//! (no client waits on a connection), so it survives a restart; the files are kept on
//! the [`Shelf`] under the data dir until the decision, and [`ProposalDesk::resume`]
//! re-attaches every kept proposal at start (approved after a restart → still applied;
//! denied, expired or withdrawn → its file removed). Must never write a file that is
//! not under the configured policy paths, never apply a set that does not validate,
//! and never apply one twice.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::future::BoxFuture;
use tokio_util::sync::CancellationToken;
use warden_approval::{ApprovalError, Approvals, Held, Resolution};
use warden_audit::{ApprovalRef, AuditLog, Durability, Event, EventKind};
use warden_config::PolicyReview;
use warden_inspect::{Action, Actor, Facts, Protocol, TargetRef};
use warden_policy::{ApprovalSpec, Decision, PolicySet, Verdict};
use warden_web::{PolicyProposals, ProposalError, ProposedFile};

use super::files::FileSnapshot;
use super::shelf::{write_durably, Kept, Shelf};
use crate::reload::PolicyReloader;

/// The pseudo-target policy proposals are held on.
pub const TARGET: &str = "warden-policies";
/// The largest diff a proposal shows (bytes); the files' hashes are always recorded.
const DIFF_LIMIT: usize = 64 * 1024;

/// Takes proposals for one gateway.
#[derive(Clone)]
pub struct ProposalDesk {
    pub reloader: PolicyReloader,
    pub approvals: Approvals,
    pub audit: AuditLog,
    pub review: PolicyReview,
    pub shutdown: CancellationToken,
    /// Where pending proposals are kept across restarts.
    pub shelf: Shelf,
}

/// `path` on this machine without `..`/symlinks (a new file: its folder resolved).
fn resolved(path: &Path) -> Option<PathBuf> {
    if let Ok(p) = std::fs::canonicalize(path) {
        return Some(p);
    }
    let parent = std::fs::canonicalize(path.parent()?).ok()?;
    Some(parent.join(path.file_name()?))
}

/// The key the reloader's snapshots use for `proposed`: a configured policy file, or a
/// `*.yaml`/`*.yml` file under a configured folder. A path outside them (a copy in the
/// proposer's checkout) names the running file with the same file name when exactly one
/// has it, or a new file in the only configured folder.
fn locate(paths: &[PathBuf], running: &FileSnapshot, proposed: &str) -> Result<PathBuf, String> {
    let given = Path::new(proposed);
    let yaml = matches!(
        given.extension().and_then(|x| x.to_str()),
        Some("yaml" | "yml")
    );
    if let Some(wanted) = resolved(given) {
        for p in paths {
            let Ok(canon) = std::fs::canonicalize(p) else {
                continue;
            };
            if p.is_dir() {
                if let (true, Ok(rest)) = (yaml, wanted.strip_prefix(&canon)) {
                    return Ok(p.join(rest));
                }
            } else if canon == wanted {
                return Ok(p.clone());
            }
        }
    }
    let name = given.file_name();
    let same_name: Vec<&PathBuf> = running
        .files()
        .keys()
        .filter(|k| k.file_name() == name)
        .collect();
    let folders: Vec<&PathBuf> = paths.iter().filter(|p| p.is_dir()).collect();
    match (same_name.as_slice(), folders.as_slice(), name) {
        ([one], _, _) => Ok((*one).clone()),
        ([], [folder], Some(n)) if yaml => Ok(folder.join(n)),
        ([_, _, ..], _, _) => Err(format!(
            "{proposed}: several running policy files have this name; give the full path of the one to replace"
        )),
        _ => {
            let loaded: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
            Err(format!(
                "{proposed} is not a policy file this gateway loads (policies: {}); a new file must be a .yaml/.yml file inside a policy folder",
                loaded.join(", ")
            ))
        }
    }
}

/// Write each file aside and rename it over the original, so no reader sees half.
fn write_files(files: &BTreeMap<PathBuf, Vec<u8>>) -> Result<(), String> {
    for (path, bytes) in files {
        write_durably(path, bytes)?;
    }
    Ok(())
}

fn proposal_action(by: Actor, text: String) -> Action {
    Action {
        protocol: Protocol::Http,
        user: by,
        target: TargetRef {
            name: TARGET.to_string(),
            labels: BTreeMap::from([("kind".to_string(), "policy-proposal".to_string())]),
        },
        session: None,
        raw: text,
        facts: Facts::None,
    }
}

impl ProposalDesk {
    fn verdict(&self, files: &str) -> Verdict {
        Verdict {
            decision: Decision::Hold,
            matched: Vec::new(),
            dry_run: Vec::new(),
            message: format!("policy change proposed ({files}): review the diff; once approved it is written to the policy files and applied"),
            rule: "policy-review".to_string(),
            approval: Some(ApprovalSpec {
                approver_roles: self.review.approvers.clone(),
                approver_users: Vec::new(),
                required: self.review.required,
                timeout: self.review.expires_after,
                wait: true,
            }),
        }
    }

    async fn take(
        &self,
        by: Actor,
        files: Vec<ProposedFile>,
        reason: Option<String>,
    ) -> Result<serde_json::Value, ProposalError> {
        let applied = self.reloader.applied().await.ok_or_else(|| {
            ProposalError::Failed("the running policy files could not be read at start".into())
        })?;
        let mut changed = BTreeMap::new();
        for f in files {
            let key =
                locate(self.reloader.paths(), &applied, &f.path).map_err(ProposalError::Invalid)?;
            changed.insert(key, f.content);
        }
        let expected = with_changes(&applied, &changed);
        if expected == applied {
            return Err(ProposalError::Invalid(
                "the proposed files are identical to the running ones".into(),
            ));
        }
        let sources: Vec<(String, String)> = expected
            .files()
            .iter()
            .map(|(p, b)| {
                (
                    p.display().to_string(),
                    String::from_utf8_lossy(b).into_owned(),
                )
            })
            .collect();
        PolicySet::from_sources(&sources)
            .map_err(|e| ProposalError::Invalid(format!("the proposed set is invalid:\n{e}")))?;
        let names: Vec<String> = applied
            .changed(&expected)
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        let diff = applied.diff(&expected, DIFF_LIMIT);
        let text = format!(
            "policy proposal: {}\nreason: {}\n\n{diff}",
            names.join(", "),
            reason.as_deref().unwrap_or("(none given)")
        );
        let proposer = by.name.clone();
        let held = self
            .approvals
            .request(
                &proposal_action(by, text),
                &self.verdict(&names.join(", ")),
                true,
            )
            .await
            .map_err(|e| ProposalError::Failed(e.to_string()))?;
        let id = held.id.clone();
        let url = held.url.clone();
        let kept = Kept {
            id: id.clone(),
            base: applied.fingerprint(),
            files: changed,
        };
        let shelf = self.shelf.clone();
        let keep = kept.clone();
        let stored = tokio::task::spawn_blocking(move || shelf.keep(&keep))
            .await
            .unwrap_or_else(|e| Err(e.to_string()));
        if let Err(e) = stored {
            // Fail closed: a proposal that could not be kept must not stay open.
            let _ = self.approvals.withdraw(&id).await;
            return Err(ProposalError::Failed(format!(
                "the proposal could not be kept under the data dir: {e}"
            )));
        }
        let hashes = FileSnapshot::from_files(bytes_of(&kept.files))
            .hash_lines()
            .join("\n");
        self.record(
            EventKind::PolicyProposed,
            &id,
            Some(&proposer),
            format!("{hashes}\n\n{diff}"),
        )
        .await;
        // A retry-mode request has no waiter of its own: watch it by id, exactly as
        // after a restart.
        drop(held);
        let watched = self
            .approvals
            .watch(&id)
            .map_err(|e| ProposalError::Failed(e.to_string()))?;
        self.spawn_decision(watched, kept, expected);
        Ok(serde_json::json!({
            "id": id,
            "url": url,
            "files": names,
            "diff": diff,
            "approver_roles": self.review.approvers,
            "required": self.review.required,
            "state": "pending",
        }))
    }

    async fn record(&self, kind: EventKind, id: &str, by: Option<&str>, detail: String) {
        record(&self.audit, kind, id, by, detail).await;
    }

    /// Re-attach every proposal kept on the shelf (at start): one still pending or
    /// approved is awaited and applied as if nothing had happened; a decided one
    /// (denied, expired, withdrawn) is recorded as rejected and its file removed.
    pub async fn resume(&self) {
        let shelf = self.shelf.clone();
        let kept = tokio::task::spawn_blocking(move || shelf.all())
            .await
            .unwrap_or_default();
        let applied = self.reloader.applied().await.unwrap_or_default();
        for k in kept {
            match self.approvals.watch(&k.id) {
                Ok(held) => {
                    tracing::info!(proposal = %k.id, "re-attached a kept policy proposal");
                    let expected = with_changes(&applied, &k.files);
                    self.spawn_decision(held, k, expected);
                }
                Err(ApprovalError::AlreadyExecuted(_)) => {
                    // Spent: applied just before a stop, or stopped between the two.
                    if with_changes(&applied, &k.files) != applied {
                        let why =
                            "approved, but warden stopped before it was applied; propose it again"
                                .to_string();
                        self.record(EventKind::PolicyProposalRejected, &k.id, None, why)
                            .await;
                    }
                    self.shelf.remove(&k.id);
                }
                Err(ApprovalError::NotFound(_)) => {
                    tracing::warn!(proposal = %k.id, "a kept policy proposal has no approval request; removed");
                    self.shelf.remove(&k.id);
                }
                Err(e) => {
                    tracing::warn!(proposal = %k.id, error = %e, "a kept policy proposal could not be re-attached; kept for the next start");
                }
            }
        }
    }

    /// Wait for the decision; apply an approved set once; forget the kept proposal
    /// once decided (a stop before the decision keeps it for [`ProposalDesk::resume`]).
    fn spawn_decision(&self, held: Held, kept: Kept, expected: FileSnapshot) {
        let (reloader, approvals, audit, shelf) = (
            self.reloader.clone(),
            self.approvals.clone(),
            self.audit.clone(),
            self.shelf.clone(),
        );
        let stop = self.shutdown.clone();
        let id = held.id.clone();
        tokio::spawn(async move {
            let resolution = tokio::select! {
                _ = stop.cancelled() => return,
                r = held.wait() => r,
            };
            let outcome = decide(resolution, &approvals, &reloader, &kept, expected).await;
            let (kind, detail) = match outcome {
                Ok(detail) => (EventKind::PolicyProposalApplied, detail),
                Err(why) => (EventKind::PolicyProposalRejected, why),
            };
            record(&audit, kind, &id, None, detail).await;
            shelf.remove(&id);
        });
    }
}

/// The running files with `changes` replacing or adding files.
fn with_changes(applied: &FileSnapshot, changes: &BTreeMap<PathBuf, String>) -> FileSnapshot {
    let mut all = applied.files().clone();
    all.extend(bytes_of(changes));
    FileSnapshot::from_files(all)
}

fn bytes_of(files: &BTreeMap<PathBuf, String>) -> BTreeMap<PathBuf, Vec<u8>> {
    files
        .iter()
        .map(|(p, t)| (p.clone(), t.clone().into_bytes()))
        .collect()
}

/// What became of a decided proposal: `Ok` (the applied record's detail) or why not.
async fn decide(
    resolution: Resolution,
    approvals: &Approvals,
    reloader: &PolicyReloader,
    kept: &Kept,
    expected: FileSnapshot,
) -> Result<String, String> {
    let approvers = match resolution {
        Resolution::Approved { approvers } => approvers,
        Resolution::Denied { by, reason } => {
            return Err(format!(
                "denied by {by}: {}",
                reason.unwrap_or_else(|| "no reason given".into())
            ))
        }
        Resolution::Expired => return Err("expired without enough approvals".into()),
        _ => return Err("withdrawn".into()),
    };
    // Single use: the approval is spent before anything is written.
    approvals
        .mark_executed(&kept.id)
        .await
        .map_err(|e| format!("approved but not applied: {e}"))?;
    let changed = bytes_of(&kept.files);
    let write = move || write_files(&changed);
    match reloader
        .apply_reviewed(&kept.id, kept.base, expected, write)
        .await
    {
        Ok(rules) => Ok(format!(
            "{rules} rules in force; approved by {}",
            approvers.join(", ")
        )),
        Err(e) => {
            tracing::error!(proposal = %kept.id, error = %e, "an approved policy proposal was not applied");
            Err(format!("approved but not applied: {e}"))
        }
    }
}

async fn record(audit: &AuditLog, kind: EventKind, id: &str, by: Option<&str>, detail: String) {
    let mut ev = Event::new(kind);
    ev.target = Some(TARGET.to_string());
    ev.actor = by.map(|name| Actor {
        name: name.to_string(),
        roles: Vec::new(),
        client_addr: None,
        alerts: Vec::new(),
    });
    ev.approval = Some(ApprovalRef {
        id: id.to_string(),
        ..ApprovalRef::default()
    });
    ev.detail = Some(detail);
    if let Err(e) = audit.append(ev, Durability::Durable).await {
        tracing::error!(error = %e, proposal = %id, "could not audit a policy proposal");
    }
}

impl PolicyProposals for ProposalDesk {
    fn propose(
        &self,
        by: Actor,
        files: Vec<ProposedFile>,
        reason: Option<String>,
    ) -> BoxFuture<'static, Result<serde_json::Value, ProposalError>> {
        let desk = self.clone();
        Box::pin(async move { desk.take(by, files, reason).await })
    }
}

/// The desk as the console takes it.
pub fn desk(desk: ProposalDesk) -> Arc<dyn PolicyProposals> {
    Arc::new(desk)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_files_yaml_in_configured_folders_or_a_copy_by_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let folder = dir.path().join("policies");
        std::fs::create_dir_all(&folder).expect("mkdir");
        let single = dir.path().join("extra.yaml");
        std::fs::write(&single, "x").expect("write");
        std::fs::write(folder.join("a.yaml"), "x").expect("write");
        let paths = vec![folder.clone(), single.clone()];
        let running = FileSnapshot::read(&paths).expect("read");
        let at = |p: &Path| locate(&paths, &running, &p.display().to_string());
        assert_eq!(at(&folder.join("a.yaml")), Ok(folder.join("a.yaml")));
        assert_eq!(at(&folder.join("new.yml")), Ok(folder.join("new.yml")));
        assert_eq!(at(&single), Ok(single.clone()));
        // A copy elsewhere names the running file of the same name, or a new one in
        // the only folder.
        assert_eq!(
            at(Path::new("/home/me/checkout/a.yaml")),
            Ok(folder.join("a.yaml"))
        );
        assert_eq!(
            at(Path::new("/home/me/checkout/b.yaml")),
            Ok(folder.join("b.yaml"))
        );
        assert!(at(&folder.join("notes.txt")).is_err());
        assert!(at(Path::new("/home/me/warden.txt")).is_err());
    }
}
