//! # warden-diagnostic
//!
//! What policy files and `warden.yaml` share when they report mistakes:
//!
//! * [`Diagnostic`] — one problem with file, line, column, key path and suggestion;
//!   [`Diagnostics`] collects them so a load reports every problem at once.
//! * [`yaml`] — a YAML tree whose nodes carry their line and column.
//! * [`Positions`] — key path → position, for readers that deserialise with serde and
//!   still want to say where a value was.
//! * [`parse_duration`] — `500ms` / `30s` / `15m` / `1h` / `2d`, the one duration syntax.
//!
//! This crate only reads text: it never opens files, never interprets what a key means,
//! and never stops at the first problem.

#![forbid(unsafe_code)]

pub mod diagnostic;
mod duration;
mod positions;
pub mod yaml;

pub use diagnostic::{suggest, write_all, Diagnostic, Diagnostics, Pos};
pub use duration::parse_duration;
pub use positions::Positions;
