//! The reviewed path for policy changes (`warden policy propose`): a proposed set
//! becomes an approval request like a held statement — shown in the inbox with its
//! diff, approved in the console, API or `warden approvals`, N-of-M by the roles in
//! `policy_review:`, never by the proposer, expiring — and once approved it is written
//! to the policy files and applied through [`PolicyReloader::apply_reviewed`], so disk
//! and running state agree and no drift alert is raised.
//!
//! The request's action is `http` on the pseudo-target [`TARGET`] with the proposal
//! text (files, reason, unified diff) as its raw text; the files themselves stay in
//! memory until the decision, so a restart withdraws a pending proposal. Must never
//! write a file that is not under the configured policy paths, never apply a set that
//! does not validate, and never apply one twice.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::future::BoxFuture;
use tokio_util::sync::CancellationToken;
use warden_approval::{Approvals, Resolution};
use warden_audit::{ApprovalRef, AuditLog, Durability, Event, EventKind};
use warden_config::PolicyReview;
use warden_inspect::{Action, Actor, Facts, Protocol, TargetRef};
use warden_policy::{ApprovalSpec, Decision, PolicySet, Verdict};
use warden_web::{PolicyProposals, ProposalError, ProposedFile};

use super::files::FileSnapshot;
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
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        let aside = path.with_file_name(format!(".{}.warden-new", name.unwrap_or_default()));
        std::fs::write(&aside, bytes).map_err(|e| format!("{}: {e}", aside.display()))?;
        std::fs::rename(&aside, path).map_err(|e| format!("{}: {e}", path.display()))?;
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
            changed.insert(key, f.content.into_bytes());
        }
        let mut all = applied.files().clone();
        all.extend(changed.clone());
        let expected = FileSnapshot::from_files(all);
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
                false,
            )
            .await
            .map_err(|e| ProposalError::Failed(e.to_string()))?;
        let id = held.id.clone();
        let url = held.url.clone();
        let hashes = FileSnapshot::from_files(changed.clone())
            .hash_lines()
            .join("\n");
        self.record(
            EventKind::PolicyProposed,
            &id,
            Some(&proposer),
            format!("{hashes}\n\n{diff}"),
        )
        .await;
        self.spawn_decision(held, applied.fingerprint(), expected, changed);
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

    /// Wait for the decision; apply an approved set once.
    fn spawn_decision(
        &self,
        held: warden_approval::Held,
        base: [u8; 32],
        expected: FileSnapshot,
        changed: BTreeMap<PathBuf, Vec<u8>>,
    ) {
        let (reloader, approvals, audit) = (
            self.reloader.clone(),
            self.approvals.clone(),
            self.audit.clone(),
        );
        let stop = self.shutdown.clone();
        let id = held.id.clone();
        tokio::spawn(async move {
            let resolution = tokio::select! {
                _ = stop.cancelled() => return,
                r = held.wait() => r,
            };
            let approvers = match resolution {
                Resolution::Approved { approvers } => approvers,
                other => {
                    let why = match other {
                        Resolution::Denied { by, reason } => format!(
                            "denied by {by}: {}",
                            reason.unwrap_or_else(|| "no reason given".into())
                        ),
                        Resolution::Expired => "expired without enough approvals".into(),
                        _ => "withdrawn".into(),
                    };
                    record(&audit, EventKind::PolicyProposalRejected, &id, None, why).await;
                    return;
                }
            };
            // Single use: the approval is spent before anything is written.
            if let Err(e) = approvals.mark_executed(&id).await {
                let why = format!("approved but not applied: {e}");
                record(&audit, EventKind::PolicyProposalRejected, &id, None, why).await;
                return;
            }
            let write = move || write_files(&changed);
            match reloader.apply_reviewed(&id, base, expected, write).await {
                Ok(rules) => {
                    let detail = format!(
                        "{rules} rules in force; approved by {}",
                        approvers.join(", ")
                    );
                    record(&audit, EventKind::PolicyProposalApplied, &id, None, detail).await;
                }
                Err(e) => {
                    tracing::error!(proposal = %id, error = %e, "an approved policy proposal was not applied");
                    let why = format!("approved but not applied: {e}");
                    record(&audit, EventKind::PolicyProposalRejected, &id, None, why).await;
                }
            }
        });
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
