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
//!
//! This crate depends on the Gate, the config and inspection only: it never depends on
//! another front-end, the console or the app, never builds a Gate and never opens a store.

#![forbid(unsafe_code)]

pub mod body;
pub mod forward;
pub mod framing;
#[doc(hidden)]
pub mod fuzzing;
pub mod handler;
pub mod holds;
pub mod identity;
pub mod kube_status;
pub mod redact;
pub mod request;
pub mod server;
pub mod smuggling;
pub mod sniff;
pub mod tls;
pub mod upgrade;
pub mod upstream;

use warden_inspect::Protocol;

pub use server::serve;
pub use warden_config::HttpOptions;

warden_gate::frontend!(
    /// The HTTP front-end (plain HTTP and Kubernetes API targets), as the app's registry
    /// holds it.
    HttpFrontend,
    [Protocol::Http, Protocol::Kubernetes],
    serve
);
