//! Audit records of the SSH front-end that are not Gate decisions: connection, login
//! success/failure, session start/end.
//!
//! Must never put a password or key material into a record.

use warden_audit::{Durability, Event, EventKind};
use warden_inspect::{Actor, Protocol};

use crate::frontend::FrontendContext;

/// An event for this target and session.
pub fn event(
    kind: EventKind,
    ctx: &FrontendContext,
    session: &str,
    actor: Option<Actor>,
    detail: Option<String>,
) -> Event {
    let mut ev = Event::new(kind);
    ev.actor = actor;
    ev.target = Some(ctx.target.name.clone());
    ev.protocol = Some(Protocol::Ssh);
    ev.session = Some(session.to_owned());
    ev.detail = detail;
    ev
}

/// Append; `false` when the audit log cannot record (callers fail closed).
pub async fn record(ctx: &FrontendContext, ev: Event, d: Durability) -> bool {
    match ctx.gate.record(ev, d).await {
        Ok(_) => true,
        Err(e) => {
            tracing::error!(target = %ctx.target.name, error = %e, "audit write failed");
            false
        }
    }
}
