#![no_main]
//! Fuzz target `http_framing`: see `warden_frontend_http::fuzzing::http_framing` and docs/hardening.md.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| warden_frontend_http::fuzzing::http_framing(data));
