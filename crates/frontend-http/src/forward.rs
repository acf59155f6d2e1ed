//! Forwarding an admitted request: the normalised target, the target's credential (and
//! impersonation on Kubernetes targets), bodies streamed both ways, and the outcome
//! (status, bytes, duration, error) audited through the [`Ticket`] when the response
//! body ends.
//!
//! Must never: be called without a Ticket, send the client's raw path, or buffer a
//! body beyond the prefix the handler already read.

use std::time::Instant;

use http::header::{self, HeaderName};
use http::{HeaderMap, Request, Response, StatusCode, Version};
use http_body_util::BodyExt;
use warden_audit::Outcome;

use super::body::{full, Counted, Limited, Prefixed, ProxyBody};
use super::handler::{Admitted, Shared};
use super::identity;
use super::kube_status::{respond, Answer, Detail};
use super::upgrade;
use warden_gate::Ticket;

/// Sends `req` upstream and turns the answer into the client's response.
pub async fn run(shared: &Shared, ticket: Ticket, req: Admitted) -> Response<ProxyBody> {
    let Admitted {
        mut parts,
        prefix,
        rest,
        on_upgrade,
        upstream_target,
        actor,
        started,
    } = req;
    let upgrade = on_upgrade.is_some();
    identity::sanitize_request_headers(&mut parts.headers, upgrade);
    shared.upstream.inject_credential(&mut parts.headers);
    if shared.kube && shared.opts.impersonate {
        identity::impersonate(&mut parts.headers, &actor);
    }
    if let Some(host) = shared.upstream.host() {
        parts.headers.insert(header::HOST, host);
    }
    let uri = match shared.upstream.uri(&upstream_target) {
        Ok(u) => u,
        Err(e) => {
            return fail(
                shared,
                ticket,
                started,
                Answer::BadGateway,
                format!("cannot build upstream URI: {e}"),
            )
            .await
        }
    };
    parts.uri = uri;
    parts.version = Version::HTTP_11;
    let sent = prefix.bytes.len() as u64;
    let body: ProxyBody = if prefix.complete {
        full(prefix.bytes)
    } else {
        let remaining = shared.opts.max_body_bytes.saturating_sub(sent);
        Prefixed::new(prefix.bytes, rest.map(|b| Limited::new(b, remaining))).boxed()
    };
    let out = Request::from_parts(parts, body);
    let sent_at = tokio::time::timeout(
        shared.request_timeout(),
        shared.upstream.client().request(out),
    )
    .await;
    let mut resp = match sent_at {
        Err(_) => {
            return fail(
                shared,
                ticket,
                started,
                Answer::Timeout,
                "the upstream did not answer in time".into(),
            )
            .await
        }
        Ok(Err(e)) => {
            let too_large = std::error::Error::source(&e)
                .map(|s| s.to_string().contains("exceeds the limit"))
                .unwrap_or(false);
            let answer = if too_large {
                Answer::TooLarge
            } else {
                Answer::BadGateway
            };
            return fail(
                shared,
                ticket,
                started,
                answer,
                format!("upstream request failed: {}", error_chain(&e)),
            )
            .await;
        }
        Ok(Ok(r)) => r,
    };
    let status = resp.status();
    if status == StatusCode::SWITCHING_PROTOCOLS {
        if let Some(client) = on_upgrade {
            return upgrade::splice(resp, client, ticket, started);
        }
    }
    strip_response_hop_headers(resp.headers_mut());
    let (parts, body) = resp.into_parts();
    let on_done = Box::new(move |bytes: u64, error: Option<String>| {
        let outcome = Outcome {
            status: Some(status.as_u16().to_string()),
            bytes: Some(bytes),
            duration_ms: Some(elapsed_ms(started)),
            error,
            ..Default::default()
        };
        ticket.complete(outcome);
    });
    let body = Counted::new(body.map_err(Into::into).boxed(), on_done);
    Response::from_parts(parts, body.boxed())
}

async fn fail(
    shared: &Shared,
    ticket: Ticket,
    started: Instant,
    answer: Answer,
    message: String,
) -> Response<ProxyBody> {
    tracing::warn!(target = %shared.target.name, "{message}");
    ticket
        .completed(Outcome {
            status: Some(answer.status().as_u16().to_string()),
            error: Some(message.clone()),
            duration_ms: Some(elapsed_ms(started)),
            ..Default::default()
        })
        .await;
    respond(shared.kube, answer, &Detail::message(message))
}

pub fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// Response headers that belong to the upstream hop only.
fn strip_response_hop_headers(h: &mut HeaderMap) {
    if h.contains_key(header::CONNECTION) {
        for n in crate::identity::connection_named(h) {
            h.remove(n);
        }
        h.remove(header::CONNECTION);
    }
    // Static names: no parsing of the name per request.
    for n in [
        &KEEP_ALIVE,
        &PROXY_CONNECTION,
        &header::TRANSFER_ENCODING,
        &header::UPGRADE,
        &header::TRAILER,
        &header::TE,
    ] {
        h.remove(n);
    }
}

static KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
static PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");
