//! One request, start to end: framing verdict → identity → inspection → body prefix →
//! Gate → answer or forward. Every refusal here is audited before it is answered.
//!
//! Must never: call the upstream before the Gate allowed the request (or an approval
//! for exactly this request was granted), or answer a refusal without an audit record.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{header, HeaderMap, Request, Response};
use hyper::body::Incoming;
use hyper::upgrade::OnUpgrade;
use warden_audit::{Durability, Event, EventKind, VerdictSummary};
use warden_inspect::http::HttpFacts;
use warden_inspect::{Action, Actor, Facts, Protocol, TargetRef};

use super::body::{Prefix, ProxyBody};
use super::holds::{self, AsyncHolds, Lookup};
use super::identity::{self, BasicCache};
use super::kube_status::{respond, Answer, Detail};
use super::smuggling::{ViolationKind, ViolationSlot};
use super::upstream::Upstream;
use super::{forward, request, HttpOptions};
use warden_gate::auth;
use warden_gate::frontend::FrontendContext;
use warden_gate::{Admission, HoldOutcome, Refusal, RefusalKind};

/// Everything one target's requests share.
pub struct Shared {
    pub ctx: FrontendContext,
    pub opts: HttpOptions,
    pub kube: bool,
    pub protocol: Protocol,
    pub target: TargetRef,
    pub upstream: Upstream,
    pub basic_cache: BasicCache,
    pub holds: Arc<AsyncHolds>,
}

impl Shared {
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.opts.request_timeout_secs.max(1))
    }
}

/// One client connection.
pub struct Conn {
    pub peer: SocketAddr,
    /// `peer` as text (audited on every request; formatted once per connection).
    pub peer_text: String,
    pub session: String,
    pub slot: ViolationSlot,
    pub next_index: AtomicU64,
    /// Successful logins already audited on this connection.
    pub logins: identity::LoginsSeen,
}

/// A request that passed the checks, waiting for (or holding) its verdict.
pub struct Admitted {
    pub parts: http::request::Parts,
    pub prefix: Prefix,
    pub rest: Option<Incoming>,
    pub on_upgrade: Option<OnUpgrade>,
    /// The normalised request-target sent upstream ([`HttpFacts::upstream_target`]).
    pub upstream_target: String,
    pub actor: Actor,
    pub started: Instant,
}

/// The service function.
pub async fn handle(
    shared: Arc<Shared>,
    conn: Arc<Conn>,
    req: Request<Incoming>,
) -> Response<ProxyBody> {
    let started = Instant::now();
    let index = conn.next_index.fetch_add(1, Ordering::Relaxed);
    if let Some(v) = conn.slot.for_request(index) {
        return Box::pin(refuse_framing(&shared, &conn, None, v.kind)).await;
    }
    let client_ip = Some(conn.peer.ip());
    let actor = match identity::authenticate(
        &shared.ctx.users,
        &shared.ctx.throttle,
        &shared.basic_cache,
        req.headers(),
        client_ip,
    )
    .await
    {
        Ok(identity::Authenticated {
            actor: mut a,
            method,
            token,
        }) => {
            a.client_addr = Some(conn.peer_text.clone());
            if conn.logins.first(&a.name, method) {
                let mut ev = event(&shared, &conn, EventKind::Authenticated);
                ev.actor = Some(a.clone());
                ev.detail = Some(match &token {
                    Some(id) => auth::token_detail(id),
                    None => auth::success_detail(method),
                });
                let _ = Box::pin(shared.ctx.gate.record(ev, Durability::Queued)).await;
            }
            a
        }
        Err(r) => {
            let mut ev = event(&shared, &conn, EventKind::AuthFailed);
            ev.actor = Some(auth::attempt_actor(
                &shared.ctx.users,
                r.user.as_deref().unwrap_or_default(),
                Some(conn.peer_text.clone()),
            ));
            ev.detail = Some(auth::failure_detail(r.method, &r.audit_reason));
            let _ = Box::pin(shared.ctx.gate.record(ev, Durability::Queued)).await;
            if !r.delay.is_zero() {
                tokio::time::sleep(r.delay).await;
            }
            return respond(
                shared.kube,
                Answer::Unauthorized,
                &Detail::message(r.message),
            );
        }
    };
    // After an upgrade request the framing guard stops reading HTTP/1 framing: unless
    // the upgrade happens, the connection must not carry further requests.
    let upgrade_request = wants_upgrade(req.headers()) || req.method() == http::Method::CONNECT;
    let mut resp = admit(shared, conn, actor, req, started, index).await;
    if upgrade_request && resp.status() != http::StatusCode::SWITCHING_PROTOCOLS {
        resp.headers_mut()
            .insert(header::CONNECTION, http::HeaderValue::from_static("close"));
    }
    resp
}

async fn admit(
    shared: Arc<Shared>,
    conn: Arc<Conn>,
    actor: Actor,
    mut req: Request<Incoming>,
    started: Instant,
    index: u64,
) -> Response<ProxyBody> {
    let facts = match request::check_head(&req, shared.opts.max_body_bytes) {
        Ok(facts) => facts,
        Err(r) => return Box::pin(refuse_early(&shared, &conn, actor, r)).await,
    };
    let on_upgrade = wants_upgrade(req.headers()).then(|| hyper::upgrade::on(&mut req));
    let (parts, mut body) = req.into_parts();
    let limit = shared.opts.hold_body_bytes;
    let read = request::read_body_prefix(&mut body, shared.request_timeout(), limit);
    let prefix = match read.await {
        Ok(prefix) => prefix,
        Err(failure) => {
            // A framing violation found while reading explains the failure best.
            if let Some(v) = conn.slot.for_request(index) {
                return Box::pin(refuse_framing(&shared, &conn, Some(actor), v.kind)).await;
            }
            let raw = format!("{} {}", parts.method, facts.upstream_target());
            return Box::pin(refuse_early(&shared, &conn, actor, failure.refused(raw))).await;
        }
    };
    let upstream_target = facts.upstream_target();
    let action = Action {
        protocol: shared.protocol,
        user: actor.clone(),
        target: shared.target.clone(),
        session: Some(conn.session.clone()),
        raw: request::action_text(&parts, &facts, &upstream_target, &prefix),
        facts: request::action_facts(facts, shared.kube),
    };
    let respond_async = identity::wants_async(&parts.headers);
    let rest = (!prefix.complete).then_some(body);
    let admitted = Admitted {
        parts,
        prefix,
        rest,
        on_upgrade,
        upstream_target,
        actor,
        started,
    };
    decide(shared, action, admitted, respond_async).await
}

/// Audits and answers a request refused before policy.
async fn refuse_early(
    shared: &Shared,
    conn: &Conn,
    actor: Actor,
    r: request::Refused,
) -> Response<ProxyBody> {
    refuse_before_policy(
        shared,
        conn,
        Some(actor),
        &r.raw,
        r.answer,
        r.rule,
        &r.message,
    )
    .await
}

async fn decide(
    shared: Arc<Shared>,
    action: Action,
    req: Admitted,
    respond_async: bool,
) -> Response<ProxyBody> {
    let kube = shared.kube;
    let key = holds::key(&action);
    match shared.holds.take(&key) {
        Lookup::Approved(ticket) => return forward::run(&shared, *ticket, req).await,
        Lookup::Pending { id, url } => {
            let d = Detail {
                message: "still waiting for approval; re-send this request once it is approved"
                    .into(),
                rule: None,
                approval_id: Some(id),
                url: Some(url),
            };
            return respond(kube, Answer::Pending, &d);
        }
        Lookup::Refused(r) => return refusal(kube, &r),
        Lookup::None => {}
    }
    match shared.ctx.gate.decide(action).await {
        Admission::Allow(ticket) => forward::run(&shared, ticket, req).await,
        Admission::Deny(r) => refusal(kube, &r),
        Admission::Hold(held) => {
            if !req.prefix.complete {
                drop(held);
                let msg = format!(
                    "this request needs approval, but its body is larger than the {} bytes a held request may carry",
                    shared.opts.hold_body_bytes
                );
                return respond(kube, Answer::TooLarge, &Detail::message(msg));
            }
            if respond_async {
                let d = Detail {
                    message: "held for approval; re-send the identical request once it is approved"
                        .into(),
                    rule: None,
                    approval_id: Some(held.id.clone()),
                    url: Some(held.url.clone()),
                };
                shared.holds.park(key, held);
                return respond(kube, Answer::Pending, &d);
            }
            // The client sees a slow request; if it goes away, hyper drops this future
            // and with it `held`, which withdraws the approval request.
            // Boxed (as every rare path here): hyper keeps this future's state for the
            // whole life of a keep-alive connection, sized by its largest path.
            match Box::pin(held.wait()).await {
                HoldOutcome::Approved(ticket) => forward::run(&shared, ticket, req).await,
                HoldOutcome::Refused(r) => refusal(kube, &r),
            }
        }
    }
}

/// Maps a Gate refusal to the client's answer.
pub fn refusal(kube: bool, r: &Refusal) -> Response<ProxyBody> {
    let answer = match r.kind {
        RefusalKind::Denied | RefusalKind::Withdrawn => Answer::Denied,
        RefusalKind::Expired => Answer::Expired,
        RefusalKind::RetryLater => Answer::Pending,
        RefusalKind::AuditUnavailable | RefusalKind::Internal => Answer::Unavailable,
    };
    let d = Detail {
        message: r.message.clone(),
        rule: (!r.rule.is_empty()).then(|| r.rule.clone()),
        approval_id: r.approval_id.clone(),
        url: r.url.clone(),
    };
    respond(kube, answer, &d)
}

fn event(shared: &Shared, conn: &Conn, kind: EventKind) -> Event {
    let mut ev = Event::new(kind);
    ev.target = Some(shared.target.name.clone());
    ev.protocol = Some(shared.protocol);
    ev.session = Some(conn.session.clone());
    ev
}

/// Audits and answers a request refused before policy (framing, path, limits).
async fn refuse_before_policy(
    shared: &Shared,
    conn: &Conn,
    actor: Option<Actor>,
    raw: &str,
    answer: Answer,
    rule: &str,
    message: &str,
) -> Response<ProxyBody> {
    let actor = actor.unwrap_or_else(|| Actor {
        name: String::new(),
        roles: Vec::new(),
        client_addr: Some(conn.peer_text.clone()),
        alerts: Vec::new(),
    });
    let mut ev = event(shared, conn, EventKind::ActionDecided);
    ev.actor = Some(actor.clone());
    ev.action = Some(Action {
        protocol: shared.protocol,
        user: actor,
        target: shared.target.clone(),
        session: Some(conn.session.clone()),
        raw: raw.to_string(),
        facts: Facts::Http(HttpFacts {
            unparsed: true,
            ..HttpFacts::default()
        }),
    });
    ev.verdict = Some(VerdictSummary {
        decision: "deny".into(),
        rules: vec![rule.to_string()],
        dry_run: Vec::new(),
        message: Some(message.to_string()),
    });
    ev.outcome = Some(warden_audit::Outcome {
        status: Some(answer.status().as_u16().to_string()),
        ..Default::default()
    });
    if let Err(e) = shared.ctx.gate.record(ev, Durability::Durable).await {
        tracing::warn!(target = %shared.target.name, "audit of a refused http request failed: {e}");
    }
    respond(
        shared.kube,
        answer,
        &Detail {
            message: message.to_string(),
            rule: Some(rule.to_string()),
            ..Detail::default()
        },
    )
}

async fn refuse_framing(
    shared: &Shared,
    conn: &Conn,
    actor: Option<Actor>,
    kind: ViolationKind,
) -> Response<ProxyBody> {
    let answer = if kind.status() == 431 {
        Answer::HeadTooLarge
    } else {
        Answer::BadRequest
    };
    let mut resp = refuse_before_policy(
        shared,
        conn,
        actor,
        "(refused request framing)",
        answer,
        "warden-http-framing",
        kind.message(),
    )
    .await;
    resp.headers_mut()
        .insert(header::CONNECTION, http::HeaderValue::from_static("close"));
    resp
}

/// An HTTP/1.1 upgrade request (`Connection: upgrade` + `Upgrade: ...`).
fn wants_upgrade(h: &HeaderMap) -> bool {
    let conn_upgrade = h
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("upgrade"));
    conn_upgrade && h.contains_key(header::UPGRADE)
}
