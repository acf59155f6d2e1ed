#![no_main]
//! Fuzz target `sql_inspect`: see `warden_inspect::fuzzing::sql_inspect` and docs/hardening.md.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| warden_inspect::fuzzing::sql_inspect(data));
