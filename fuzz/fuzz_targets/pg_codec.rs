#![no_main]
//! Fuzz target `pg_codec`: see `warden_frontend_postgres::fuzzing::pg_codec` and docs/hardening.md.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| warden_frontend_postgres::fuzzing::pg_codec(data));
