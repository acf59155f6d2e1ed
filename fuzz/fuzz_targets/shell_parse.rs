#![no_main]
//! Fuzz target `shell_parse`: see `warden_inspect::fuzzing::shell_parse` and docs/hardening.md.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| warden_inspect::fuzzing::shell_parse(data));
