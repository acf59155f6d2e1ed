#![no_main]
//! Fuzz target `config_yaml`: see `warden_config::fuzzing::config_yaml` and docs/hardening.md.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| warden_config::fuzzing::config_yaml(data));
