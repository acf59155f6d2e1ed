//! Which decisions must be on disk before the Gate answers.
//!
//! Durable: anything denied or held, anything a dry-run rule matched, anything that can
//! change data (SQL writes, HTTP methods other than GET/HEAD/OPTIONS, every SSH request),
//! and anything not understood (unparsed/opaque). Only read-only allows may be queued.
//! Must never classify a possibly-writing action as queued.

use warden_inspect::http::HttpFacts;
use warden_inspect::{Action, Facts};
use warden_policy::{Decision, Verdict};

const SAFE_METHODS: &[&str] = &["GET", "HEAD", "OPTIONS"];

/// Any of the effective, wire or requested-override methods may be what the upstream
/// acts on: the request is read-only only when all of them are safe.
fn http_writes(h: &HttpFacts) -> bool {
    let safe = |m: &str| SAFE_METHODS.iter().any(|s| s.eq_ignore_ascii_case(m));
    !safe(&h.method)
        || h.wire_method.as_deref().is_some_and(|m| !safe(m))
        || h.override_method.as_deref().is_some_and(|m| !safe(m))
}

/// Whether the `ActionDecided` record of `action` must be durable before answering.
pub fn needs_durable_record(action: &Action, verdict: &Verdict) -> bool {
    if verdict.decision != Decision::Allow || !verdict.dry_run.is_empty() {
        return true;
    }
    if action.unparsed() || action.opaque() {
        return true;
    }
    match &action.facts {
        Facts::Sql(s) => s
            .statements
            .iter()
            .any(|st| st.writes || st.kind.is_write() || st.nested.iter().any(|k| k.is_write())),
        Facts::Http(h) => http_writes(h),
        Facts::Kubernetes { http, .. } => http_writes(http),
        Facts::Ssh(_) => true,
        Facts::None => false,
    }
}
