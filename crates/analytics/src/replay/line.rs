//! One JSON line of a replay file — an export line (`{"seq","time","time_ns",...,
//! "event":{...}}`, chain fields optional) or a bare event with a `time` — read into
//! the slim borrowed structs of [`shape`](super::shape), then an [`Observation`].
//!
//! Two readers fill those structs: the fast scanner ([`fast`](super::fast)) for the
//! export shape `warden audit export` writes, and serde ([`parse_serde`], the reference)
//! for everything the scanner declines. Unknown fields and unknown event kinds are
//! ignored; a line that is not JSON, has no time or no event kind is an error naming
//! what is missing. Must stay equivalent to `record::observe_record` (feature `audit`)
//! for the same event, and the fast path must never change a result.

use std::borrow::Cow;
use std::mem::take;

use super::fast;
use super::lenient::Text;
use super::shape::{Ev, Line, OutcomeView};
use super::time::parse_rfc3339;
use crate::classify::privilege::{self, Hints};
use crate::classify::{fingerprint, Family};
use crate::observation::sql_kind_may_change_privileges;
use crate::observation::{parse_ip, status_failed, Decision, Kind, Observation};

/// Parse one non-blank line; `line_no` is its evidence id when it has no `seq`.
pub fn parse(text: &[u8], line_no: u64) -> Result<Observation<'_>, String> {
    // Validate once, then read as `str` (no second UTF-8 check per string).
    let text = std::str::from_utf8(text).map_err(|e| format!("not UTF-8: {e}"))?;
    let mut line = Line::default();
    if fast::scan_into(text, &mut line).is_none() {
        line = serde_json::from_str(text).map_err(|e| e.to_string())?;
    }
    observe(&mut line, line_no)
}

/// [`parse`] through serde only: the reference the fast scanner must agree with.
pub fn parse_serde(text: &[u8], line_no: u64) -> Result<Observation<'_>, String> {
    let text = std::str::from_utf8(text).map_err(|e| format!("not UTF-8: {e}"))?;
    let mut line: Line<'_> = serde_json::from_str(text).map_err(|e| e.to_string())?;
    observe(&mut line, line_no)
}

/// What a line's fields mean, as an observation (the line's fields are taken out of it,
/// not moved as a whole).
fn observe<'a>(line: &mut Line<'a>, line_no: u64) -> Result<Observation<'a>, String> {
    let time = match (line.time_ns.i64(), line.time.as_str()) {
        (Some(ns), _) => ns,
        (None, Some(t)) => parse_time(t).ok_or_else(|| format!("`time` is not RFC 3339: {t}"))?,
        (None, None) => return Err("no `time` (or `time_ns`)".into()),
    };
    let mut bare;
    let ev = match line.event.0.as_mut() {
        Some(ev) => ev,
        None => {
            bare = Ev {
                kind: take(&mut line.kind),
                actor: line.actor.take(),
                target: take(&mut line.target),
                protocol: take(&mut line.protocol),
                action: take(&mut line.action),
                verdict: line.verdict.take(),
                outcome: take(&mut line.outcome),
                detail: take(&mut line.detail),
            };
            &mut bare
        }
    };
    let kind = ev
        .kind
        .as_str()
        .map(Kind::from_name)
        .ok_or("no event `kind`")?;
    let mut o = Observation::new(line.seq.u64().unwrap_or(line_no), time, kind);
    if kind == Kind::Other {
        return Ok(o);
    }
    let action = ev.action.0.as_mut();
    let actor = match ev.actor.take() {
        Some(actor) => Some(actor),
        None => action
            .as_ref()
            .and_then(|a| a.user)
            .and_then(|raw| serde_json::from_str(raw.0).ok()),
    };
    if let Some(a) = actor {
        o.user = a.name.into_cow();
        o.roles = a.roles.0;
        o.ip = a.client_addr.as_str().and_then(parse_ip);
    }
    o.target = take(&mut ev.target).into_cow();
    let mut protocol = take(&mut ev.protocol).into_cow();
    if let Some(v) = &ev.verdict {
        o.decision = v
            .decision
            .as_str()
            .map_or(Decision::Unknown, Decision::from_name);
    }
    if kind == Kind::Reloaded {
        o.detail = take(&mut ev.detail).into_cow();
    }
    let Some(a) = action else {
        finish_outcome(&mut o, ev.outcome.0.as_ref(), family(protocol.as_deref()));
        return Ok(o);
    };
    if o.target.is_none() {
        o.target = a
            .target
            .and_then(|raw| serde_json::from_str::<Text<'_>>(raw.0).ok())
            .and_then(Text::into_cow);
    }
    if protocol.is_none() {
        protocol = take(&mut a.protocol).into_cow();
    }
    let family = family(protocol.as_deref());
    finish_outcome(&mut o, ev.outcome.0.as_ref(), family);
    let raw = take(&mut a.raw);
    let facts = a.facts.0.as_ref();
    let raw = raw.into_cow().unwrap_or(Cow::Borrowed(""));
    let mut hints = Hints::default();
    if let Some(f) = facts {
        match f.kind.as_str() {
            Some("sql") => {
                let statements = f.statements.0.as_deref().unwrap_or(&[]);
                hints.sql_harmless = !f.unparsed.unwrap_or(false)
                    && !statements.is_empty()
                    && statements.iter().all(|s| {
                        s.kind
                            .as_str()
                            .is_some_and(|k| !sql_kind_may_change_privileges(k))
                    });
            }
            Some("kubernetes") => {
                if let Some(k) = f.kube.0.as_ref().filter(|k| !k.unparsed.unwrap_or(false)) {
                    hints.kube = Some((
                        k.verb.as_str().unwrap_or(""),
                        k.resource.as_str().unwrap_or(""),
                    ));
                }
            }
            _ => {}
        }
    }
    o.privilege = privilege::classify(family, &raw, hints);
    if kind == Kind::ActionDecided && !raw.is_empty() {
        o.fingerprint = fingerprint::fingerprint(&raw, o.target.as_deref().unwrap_or(""));
    }
    if !raw.is_empty() {
        o.raw = Some(raw);
    }
    Ok(o)
}

/// RFC 3339, or a number of seconds, milliseconds, microseconds or nanoseconds since
/// the Unix epoch (told apart by magnitude).
fn parse_time(t: &str) -> Option<i64> {
    if let Some(ns) = parse_rfc3339(t) {
        return Some(ns);
    }
    let v: f64 = t.trim().parse().ok()?;
    let scale = if v < 1e11 {
        1e9
    } else if v < 1e14 {
        1e6
    } else if v < 1e17 {
        1e3
    } else {
        1.0
    };
    Some((v * scale) as i64)
}

fn family(protocol: Option<&str>) -> Family {
    protocol.map_or(Family::Unknown, Family::from_protocol)
}

fn finish_outcome(o: &mut Observation<'_>, outcome: Option<&OutcomeView<'_>>, family: Family) {
    let Some(out) = outcome else {
        return;
    };
    o.outcome = true;
    o.rows = out.rows.u64().unwrap_or(0);
    o.bytes = out.bytes.u64().unwrap_or(0);
    o.failed = out
        .error
        .as_str()
        .is_some_and(|e| !e.is_empty() && e != "false")
        || out
            .status
            .as_str()
            .is_some_and(|s| status_failed(s, family.http_like()));
}
