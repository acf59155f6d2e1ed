//! HTTP request facts: the effective method and the normalised path.
//!
//! Must never hand policy a path that the upstream could read differently: ambiguous
//! paths (encoded slashes, dot segments that escape the root, ...) are rejected, and the
//! path that is forwarded upstream is re-encoded from exactly the decoded path policy
//! saw ([`HttpFacts::upstream_target`]). Pure: no I/O.
//!
//! Method-override headers (`X-HTTP-Method-Override`, `X-HTTP-Method`,
//! `X-Method-Override`, and a `_method` query parameter) are honoured on *any* wire
//! method, because upstream frameworks differ on when they apply them: policy sees the
//! more dangerous of the wire method and the override (read < POST < PUT/PATCH < DELETE
//! < anything unknown), and conflicting overrides are rejected. See
//! `docs/request-inspection.md`.

mod method;
mod path;
mod query;

use serde::{Deserialize, Serialize};

pub use method::{effective_method, validate_method};
pub use path::{encode_path, normalize_path};
pub use query::{query_pairs, validate_query};

/// What policy sees of an HTTP request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpFacts {
    /// Effective method, upper case (after `X-HTTP-Method-Override` / `X-HTTP-Method`).
    pub method: String,
    /// The method on the request line, when an override header changed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wire_method: Option<String>,
    /// The override the client asked for (header or `_method`), upper case, whether or
    /// not it became the effective method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub override_method: Option<String>,
    /// Normalised path: percent-decoded (`%2F` is rejected), dot segments resolved, `//`
    /// folded. This is the decoded text; [`HttpFacts::upstream_target`] re-encodes it.
    pub path: String,
    /// The raw query string (validated, not decoded), without the `?`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// The request could not be understood unambiguously.
    #[serde(default)]
    pub unparsed: bool,
}

impl HttpFacts {
    /// The request-target to send upstream: the canonical encoding of [`Self::path`]
    /// (so the upstream decodes exactly what policy saw) plus the query as received.
    pub fn upstream_target(&self) -> String {
        let mut target = encode_path(&self.path);
        if let Some(q) = &self.query {
            target.push('?');
            target.push_str(q);
        }
        target
    }
}

/// Why a request was refused before policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpRejection {
    #[error("ambiguous path: {0}")]
    AmbiguousPath(String),
    #[error("invalid method: {0}")]
    InvalidMethod(String),
}

/// Inspect one HTTP request: `method` as on the request line, `target` the
/// request-target in origin form (`/path?query`; `*` only with OPTIONS), `headers` all
/// request headers (name, value).
///
/// Rejects (never guesses) when the target or the method cannot be read unambiguously.
pub fn inspect<'a>(
    method: &str,
    target: &str,
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<HttpFacts, HttpRejection> {
    let wire = validate_method(method)?;
    let (raw_path, query) = split_target(target)?;
    let path = if raw_path == "*" {
        if wire != "OPTIONS" {
            return Err(HttpRejection::AmbiguousPath(
                "`*` target is only valid with OPTIONS".into(),
            ));
        }
        "*".to_string()
    } else {
        normalize_path(raw_path)?
    };
    if let Some(q) = query {
        validate_query(q)?;
    }
    let chosen = effective_method(&wire, headers, query)?;
    Ok(HttpFacts {
        method: chosen.effective,
        wire_method: chosen.wire_changed.then_some(wire),
        override_method: chosen.requested,
        path,
        query: query.map(str::to_string),
        unparsed: false,
    })
}

/// Split a request-target into path and optional query; only origin form (and `*`).
fn split_target(target: &str) -> Result<(&str, Option<&str>), HttpRejection> {
    if target.contains('#') {
        return Err(HttpRejection::AmbiguousPath(
            "fragment in request target".into(),
        ));
    }
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    };
    if path == "*" && query.is_none() {
        return Ok((path, None));
    }
    if !path.starts_with('/') {
        return Err(HttpRejection::AmbiguousPath(
            "request target must be an absolute path (origin form)".into(),
        ));
    }
    Ok((path, query))
}
