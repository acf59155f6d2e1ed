//! A live `warden_audit::Record` as an [`Observation`] (borrowing its text).
//!
//! Reads the typed facts the recorder attached; must stay equivalent to the replay
//! line parser (`replay::line`), which reads the same fields from JSON.

use std::borrow::Cow;

use warden_audit::{EventKind, Record};
use warden_inspect::sql::StatementKind;
use warden_inspect::{Action, Facts};

use crate::classify::privilege::{self, Hints};
use crate::classify::{fingerprint, Family};
use crate::observation::sql_kind_may_change_privileges;
use crate::observation::{parse_ip, status_failed, Decision, Kind, Observation};

fn kind(k: EventKind) -> Kind {
    match k {
        EventKind::AuthFailed => Kind::AuthFailed,
        EventKind::Authenticated => Kind::Authenticated,
        EventKind::ActionDecided => Kind::ActionDecided,
        EventKind::ActionCompleted => Kind::ActionCompleted,
        EventKind::PolicyReloaded | EventKind::ConfigReloaded => Kind::Reloaded,
        _ => Kind::Other,
    }
}

/// The family of the record's protocol (its event's, else its action's).
fn family_of(r: &Record) -> Family {
    r.event
        .protocol
        .or_else(|| r.event.action.as_ref().map(|a| a.protocol))
        .map_or(Family::Unknown, |p| Family::from_protocol(p.as_str()))
}

/// The privilege change an action makes, by the `privilege-change` classification.
fn action_privilege(family: Family, a: &Action) -> Option<Cow<'static, str>> {
    let mut hints = Hints::default();
    match &a.facts {
        Facts::Sql(s) => {
            hints.sql_harmless = !s.unparsed
                && !s.statements.is_empty()
                && !s.statements.iter().any(|st| {
                    sql_kind_may_change_privileges(st.kind.name()) || st.kind == StatementKind::Role
                });
        }
        Facts::Kubernetes { kube, .. } if !kube.unparsed => {
            hints.kube = Some((kube.verb.as_str(), kube.resource.as_str()));
        }
        _ => {}
    }
    privilege::classify(family, &a.raw, hints)
}

/// The privilege change a record's action makes, if any (what `observe_record` puts in
/// [`Observation::privilege`], without building the rest of the observation).
pub fn record_privilege(r: &Record) -> Option<Cow<'static, str>> {
    let a = r.event.action.as_ref()?;
    action_privilege(family_of(r), a)
}

/// The observation of one record.
pub fn observe_record(r: &Record) -> Observation<'_> {
    let ev = &r.event;
    let time = i64::try_from(r.time.unix_timestamp_nanos()).unwrap_or(0);
    let mut o = Observation::new(r.seq, time, kind(ev.kind));
    if o.kind == Kind::Other {
        return o;
    }
    let actor = ev
        .actor
        .as_ref()
        .or_else(|| ev.action.as_ref().map(|a| &a.user));
    if let Some(a) = actor {
        o.user = Some(Cow::Borrowed(a.name.as_str()));
        o.roles = a.roles.iter().map(|r| Cow::Borrowed(r.as_str())).collect();
        o.ip = a.client_addr.as_deref().and_then(parse_ip);
    }
    o.target = ev
        .target
        .as_deref()
        .or_else(|| ev.action.as_ref().map(|a| a.target.name.as_str()))
        .map(Cow::Borrowed);
    let family = family_of(r);
    if let Some(v) = &ev.verdict {
        o.decision = Decision::from_name(&v.decision);
    }
    if let Some(out) = &ev.outcome {
        o.outcome = true;
        o.rows = out.rows.unwrap_or(0);
        o.bytes = out.bytes.unwrap_or(0);
        o.failed = out.error.as_deref().is_some_and(|e| !e.is_empty())
            || out
                .status
                .as_deref()
                .is_some_and(|s| status_failed(s, family.http_like()));
    }
    if o.kind == Kind::Reloaded {
        o.detail = ev.detail.as_deref().map(Cow::Borrowed);
    }
    if let Some(a) = &ev.action {
        o.privilege = action_privilege(family, a);
        if o.kind == Kind::ActionDecided && !a.raw.is_empty() {
            o.fingerprint = fingerprint::fingerprint(&a.raw, o.target.as_deref().unwrap_or(""));
        }
        o.raw = Some(Cow::Borrowed(a.raw.as_str()));
    }
    o
}
