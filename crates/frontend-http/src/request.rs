//! Turning an authenticated HTTP request into an Action's parts, step by step: the head
//! checks (CONNECT, unreadable method overrides, path inspection, body size), the body
//! prefix read before the decision, the audited text and the facts.
//!
//! Each step returns a [`Refused`] instead of answering, so the handler audits every
//! early refusal in one place. Must never let a header it cannot read drop out of the
//! facts, and never read more of a body than the hold limit before the decision.

use std::time::Duration;

use bytes::Bytes;
use http::{header, request::Parts, Request};
use hyper::body::{Body, Incoming};
use warden_inspect::http::HttpFacts;
use warden_inspect::Facts;

use super::body::{read_prefix, Prefix};
use super::kube_status::Answer;
use super::redact;

/// A request refused before policy: what to audit and how to answer.
#[derive(Debug)]
pub struct Refused {
    /// The request as audited (`METHOD target`).
    pub raw: String,
    pub answer: Answer,
    /// The built-in rule named in the refusal.
    pub rule: &'static str,
    pub message: String,
}

fn bad_request(raw: String, message: impl Into<String>) -> Refused {
    Refused {
        raw,
        answer: Answer::BadRequest,
        rule: "warden-http-request",
        message: message.into(),
    }
}

/// The head checks, then the inspected facts.
pub fn check_head(req: &Request<Incoming>, max_body_bytes: u64) -> Result<HttpFacts, Refused> {
    let target = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".to_string());
    if req.method() == http::Method::CONNECT {
        return Err(bad_request(
            format!("CONNECT {target}"),
            "CONNECT is not supported",
        ));
    }
    let raw = || format!("{} {}", req.method(), target);
    // A header inspection cannot read must not silently drop out of the facts (an
    // unreadable method override would otherwise be ignored).
    if req
        .headers()
        .iter()
        .any(|(k, v)| v.to_str().is_err() && k.as_str().contains("method"))
    {
        return Err(bad_request(raw(), "unreadable method-override header"));
    }
    let headers = req
        .headers()
        .iter()
        .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str(), v)));
    let facts = warden_inspect::http::inspect(req.method().as_str(), &target, headers)
        .map_err(|e| bad_request(raw(), e.to_string()))?;
    if let Some(len) = content_length(req.headers()) {
        if len > max_body_bytes {
            return Err(Refused {
                raw: format!("{} {}", req.method(), facts.upstream_target()),
                answer: Answer::TooLarge,
                rule: "warden-http-limits",
                message: format!(
                    "request body of {len} bytes exceeds the limit of {max_body_bytes} bytes"
                ),
            });
        }
    }
    Ok(facts)
}

/// Why the body prefix could not be read.
#[derive(Debug)]
pub enum BodyFailure {
    Read(String),
    Timeout,
}

impl BodyFailure {
    /// The refusal for a request audited as `raw`.
    pub fn refused(self, raw: String) -> Refused {
        match self {
            BodyFailure::Read(e) => {
                bad_request(raw, format!("request body could not be read: {e}"))
            }
            BodyFailure::Timeout => Refused {
                raw,
                answer: Answer::Timeout,
                rule: "warden-http-limits",
                message: "timed out reading the request body".into(),
            },
        }
    }
}

/// Up to `limit` bytes of the body, within `timeout`: what the decision and an
/// approval are bound to.
pub async fn read_body_prefix(
    body: &mut Incoming,
    timeout: Duration,
    limit: usize,
) -> Result<Prefix, BodyFailure> {
    if body.is_end_stream() {
        return Ok(Prefix {
            bytes: Bytes::new(),
            complete: true,
        });
    }
    match tokio::time::timeout(timeout, read_prefix(body, limit)).await {
        Ok(Ok(p)) => Ok(p),
        Ok(Err(e)) => Err(BodyFailure::Read(e.to_string())),
        Err(_) => Err(BodyFailure::Timeout),
    }
}

/// The audited text of the request (secrets redacted).
/// `upstream_target` is `facts.upstream_target()`, computed once by the caller.
pub fn action_text(
    parts: &Parts,
    facts: &HttpFacts,
    upstream_target: &str,
    prefix: &Prefix,
) -> String {
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let has_body = !(prefix.complete && prefix.bytes.is_empty());
    redact::action_text(
        parts.method.as_str(),
        &facts.method,
        upstream_target,
        has_body.then_some((&prefix.bytes, prefix.complete)),
        content_type,
    )
}

/// The Action's facts: HTTP, plus the Kubernetes reading of the path on kube targets.
pub fn action_facts(facts: HttpFacts, kube: bool) -> Facts {
    if kube {
        let kube =
            warden_inspect::kube::inspect(&facts.method, &facts.path, facts.query.as_deref());
        Facts::Kubernetes { http: facts, kube }
    } else {
        Facts::Http(facts)
    }
}

/// The declared `Content-Length`, when readable.
pub fn content_length(headers: &http::HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}
