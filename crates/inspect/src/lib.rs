//! # warden-inspect
//!
//! Pure functions that turn protocol payloads into *facts*, and the protocol-neutral
//! [`Action`] that every front-end hands to the Gate.
//!
//! * [`sql`]   — SQL text into a list of classified statements (sqlparser, never regex).
//! * [`http`]  — method + path normalisation, method-override headers.
//! * [`kube`]  — Kubernetes API paths into verb/group/resource/namespace/name.
//! * [`shell`] — an SSH exec command line into argv per command, with `opaque` when the
//!   real command cannot be known statically.
//!
//! This crate must never do I/O, never block, and never guess: when input cannot be
//! understood the facts say so (`unparsed` / `opaque`) so that policy can fail closed.

#![forbid(unsafe_code)]

pub mod action;
#[doc(hidden)]
pub mod fuzzing;
pub mod http;
pub mod kube;
pub mod shell;
pub mod sql;

pub use action::{Action, Actor, Facts, Protocol, TargetRef};
