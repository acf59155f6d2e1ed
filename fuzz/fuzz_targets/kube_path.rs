#![no_main]
//! Fuzz target `kube_path`: see `warden_inspect::fuzzing::kube_path` and docs/hardening.md.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| warden_inspect::fuzzing::kube_path(data));
