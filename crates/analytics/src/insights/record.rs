//! A live `warden_audit::Record` as [`InsightFacts`] (borrowing its text): the same
//! fields the engine's `record::observe_record` reads, plus what the charts need
//! (statement kinds, endpoints, programs, error classes, login methods, approval ids).
//!
//! Never fails: a record of a kind the insights do not count gives `Kind::Other`.

use std::borrow::Cow;

use warden_audit::{EventKind, Record};
use warden_inspect::shell::SshRequest;
use warden_inspect::Facts;

use super::facts::{endpoint, error_class, Feature, InsightFacts, Kind};
use crate::observation::Decision;

fn kind(k: EventKind) -> Kind {
    match k {
        EventKind::ActionDecided => Kind::Decided,
        EventKind::ActionCompleted => Kind::Completed,
        EventKind::Authenticated => Kind::LoggedIn,
        EventKind::AuthFailed => Kind::LoginFailed,
        EventKind::ApprovalRequested => Kind::ApprovalRequested,
        EventKind::ApprovalApproved => Kind::ApprovalApproved,
        EventKind::ApprovalDenied => Kind::ApprovalDenied,
        EventKind::ApprovalExpired => Kind::ApprovalExpired,
        EventKind::ApprovalWithdrawn => Kind::ApprovalWithdrawn,
        _ => Kind::Other,
    }
}

/// The insight facts of one record.
pub fn facts_of(r: &Record) -> InsightFacts<'_> {
    let ev = &r.event;
    let kind = kind(ev.kind);
    let mut f = InsightFacts {
        time: i64::try_from(r.time.unix_timestamp_nanos()).unwrap_or(0),
        kind: Some(kind),
        ..InsightFacts::default()
    };
    if kind == Kind::Other {
        return f;
    }
    let actor = ev
        .actor
        .as_ref()
        .or_else(|| ev.action.as_ref().map(|a| &a.user));
    if let Some(a) = actor {
        f.user = Some(Cow::Borrowed(a.name.as_str()));
        f.roles = a.roles.iter().map(|r| Cow::Borrowed(r.as_str())).collect();
    }
    f.target = ev
        .target
        .as_deref()
        .or_else(|| ev.action.as_ref().map(|a| a.target.name.as_str()))
        .map(Cow::Borrowed);
    f.protocol = ev
        .protocol
        .or_else(|| ev.action.as_ref().map(|a| a.protocol))
        .map(|p| p.as_str());
    f.decision = ev
        .verdict
        .as_ref()
        .map(|v| Decision::from_name(&v.decision));
    if let Some(out) = &ev.outcome {
        f.error =
            error_class(f.protocol, out.status.as_deref(), out.error.as_deref()).map(Cow::Owned);
    }
    if matches!(kind, Kind::LoggedIn | Kind::LoginFailed) {
        f.auth_detail = ev.detail.as_deref().map(Cow::Borrowed);
    }
    f.approval = ev.approval.as_ref().map(|a| Cow::Borrowed(a.id.as_str()));
    if kind == Kind::Decided {
        if let Some(a) = &ev.action {
            f.features = features(&a.facts);
        }
    }
    f
}

/// What an action used, by kind of feature.
fn features(facts: &Facts) -> Vec<(Feature, Cow<'_, str>)> {
    match facts {
        Facts::Sql(s) => s
            .statements
            .iter()
            .map(|st| (Feature::SqlStatement, Cow::Borrowed(st.kind.name())))
            .collect(),
        Facts::Http(h) => vec![(
            Feature::HttpEndpoint,
            Cow::Owned(endpoint(&h.method, &h.path)),
        )],
        Facts::Kubernetes { http, kube } => {
            let name = if kube.unparsed || kube.resource.is_empty() {
                endpoint(&http.method, &http.path)
            } else {
                match &kube.subresource {
                    Some(sub) => format!("{} {}/{sub}", kube.verb, kube.resource),
                    None => format!("{} {}", kube.verb, kube.resource),
                }
            };
            vec![(Feature::KubeResource, Cow::Owned(name))]
        }
        Facts::Ssh(s) => {
            if !s.commands.is_empty() {
                return s
                    .commands
                    .iter()
                    .map(|c| (Feature::SshProgram, Cow::Borrowed(c.program.as_str())))
                    .collect();
            }
            let what = match s.request {
                SshRequest::Shell => "(shell)".to_string(),
                SshRequest::Subsystem => {
                    format!("({})", s.subsystem.as_deref().unwrap_or("subsystem"))
                }
                SshRequest::Forwarding => "(forwarding)".to_string(),
                SshRequest::Exec | SshRequest::InteractiveLine => "(empty command)".to_string(),
            };
            vec![(Feature::SshProgram, Cow::Owned(what))]
        }
        Facts::None => Vec::new(),
    }
}
