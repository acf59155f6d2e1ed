//! # warden-web
//!
//! The console (server-rendered HTML) and the JSON API served on `web.listen`.
//!
//! This crate must never decide on actions itself (the Gate does) and never render a
//! statement truncated without saying so.

#![forbid(unsafe_code)]
