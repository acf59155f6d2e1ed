//! HTTP and Kubernetes API front-end: a reverse proxy per target that turns every
//! request into an [`Action`](warden_inspect::Action) and asks the Gate before anything
//! reaches the upstream.
//!
//! The request lifecycle (one place: [`handler`]):
//!
//! 1. **framing** — [`smuggling`] checks the raw HTTP/1 bytes (CL+TE, duplicate CL,
//!    bad chunking, head size) before hyper parses them; refusals are answered 400/431
//!    and audited;
//! 2. **identity** — [`identity`]: bearer token or Basic → Warden user (401 otherwise);
//! 3. **inspection** — `warden_inspect::http::inspect` (method overrides, path
//!    normalisation; ambiguous paths → 400) and `kube::inspect` on kubernetes targets;
//! 4. **body** — up to `hold_body_bytes` of a body is read first, so the decision and an
//!    approval are bound to the exact bytes ([`redact`] builds the audited text);
//! 5. **decision** — the Gate: allow → forward; deny → 403 (JSON, or a Kubernetes
//!    `Status`); hold → wait (or 202 with `Prefer: respond-async`, see [`holds`]);
//! 6. **forwarding** — [`forward`] streams both bodies, injects the target's
//!    credential, optionally impersonates the user, and passes upgrades through
//!    ([`upgrade`]); the outcome (status, bytes, duration) is audited when the response
//!    body ends.
//!
//! Must never: forward a request before its verdict is known, forward the path as the
//! client wrote it (only the normalised one), or forward the user's credentials.

pub mod body;
pub mod forward;
pub mod framing;
pub mod handler;
pub mod holds;
pub mod identity;
pub mod kube_status;
pub mod redact;
pub mod sample_api;
pub mod server;
pub mod smuggling;
pub mod tls;
pub mod upgrade;
pub mod upstream;

use serde::Deserialize;

pub use sample_api::serve_sample_api;
pub use server::serve;

/// HTTP/Kubernetes-specific target options (`targets[].http` in warden.yaml).
///
/// The upstream credential comes from the target's `upstream_password_env` /
/// `upstream_password_file` (sent as `Authorization: Bearer <secret>`, or Basic when
/// `upstream_user` is set); mutual TLS from `upstream_tls.client`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpOptions {
    /// Kubernetes targets: send `Impersonate-User`/`Impersonate-Group` for the Warden
    /// user so the cluster's RBAC still applies.
    pub impersonate: bool,
    /// Largest request head (request line + headers) accepted; larger → 431.
    pub max_header_bytes: usize,
    /// Largest request body forwarded; larger → 413.
    pub max_body_bytes: u64,
    /// How much of a body is read before the decision (and kept for a held request);
    /// a held request with a larger body is refused with 413.
    pub hold_body_bytes: usize,
    /// Seconds allowed for reading a request head/body prefix and for the upstream's
    /// response head (streams after that are not cut).
    pub request_timeout_secs: u64,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            impersonate: false,
            max_header_bytes: 64 * 1024,
            max_body_bytes: 1024 * 1024 * 1024,
            hold_body_bytes: 1024 * 1024,
            request_timeout_secs: 60,
        }
    }
}
