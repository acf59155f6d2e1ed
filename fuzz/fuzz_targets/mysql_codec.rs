#![no_main]
//! Fuzz target `mysql_codec`: see `warden_frontend_mysql::fuzzing::mysql_codec` and docs/hardening.md.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| warden_frontend_mysql::fuzzing::mysql_codec(data));
