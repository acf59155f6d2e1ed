#![no_main]
//! Fuzz target `policy_yaml`: see `warden_policy::fuzzing::policy_yaml` and docs/hardening.md.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| warden_policy::fuzzing::policy_yaml(data));
