//! # warden-proxy
//!
//! One module per protocol, each an adapter between the wire and the [`gate`]. The
//! front-ends speak their protocol's native errors so unmodified clients work.
//!
//! A front-end must never forward a request before the Gate's verdict is known, and
//! never forward a data-changing, held or denied request before its audit record is
//! durable.

#![forbid(unsafe_code)]

pub mod gate;
pub mod auth;
pub mod http;
pub mod postgres;
pub mod ssh;
