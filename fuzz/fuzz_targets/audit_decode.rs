#![no_main]
//! Fuzz target `audit_decode`: see `warden_audit::fuzzing::audit_decode` and docs/hardening.md.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| warden_audit::fuzzing::audit_decode(data));
