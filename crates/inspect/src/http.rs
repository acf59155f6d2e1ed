//! HTTP request facts: the effective method and the normalised path.
//!
//! Must never hand policy a path that the upstream could read differently: ambiguous
//! paths (encoded slashes, dot segments that escape the root, ...) are rejected or
//! marked `unparsed`.

use serde::{Deserialize, Serialize};

/// What policy sees of an HTTP request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpFacts {
    /// Effective method, upper case (after `X-HTTP-Method-Override` / `X-HTTP-Method`).
    pub method: String,
    /// The method on the request line, when an override header changed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wire_method: Option<String>,
    /// Normalised path: percent-decoded (except `%2F`), dot segments resolved, `//` folded.
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// The request could not be understood unambiguously.
    #[serde(default)]
    pub unparsed: bool,
}

/// Why a request was refused before policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpRejection {
    #[error("ambiguous path: {0}")]
    AmbiguousPath(String),
    #[error("invalid method: {0}")]
    InvalidMethod(String),
}
