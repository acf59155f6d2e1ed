//! The one place that says which exit code a failure gets: 0 success; 1 a runtime
//! failure (I/O, network, a store); 2 bad usage, config or policy (the operator fixes a
//! file or an argument); 3 the audit log failed verification.

use std::process::ExitCode;

/// Why a command failed, as the exit code tells scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// I/O, network, a store or the runtime: exit 1.
    Runtime,
    /// Bad usage, config or policy: exit 2.
    Invalid,
    /// The audit log failed verification: exit 3.
    Tampered,
}

impl From<Failure> for ExitCode {
    fn from(f: Failure) -> ExitCode {
        ExitCode::from(match f {
            Failure::Runtime => 1,
            Failure::Invalid => 2,
            Failure::Tampered => 3,
        })
    }
}

/// The exit code of a gateway run (`serve`, `demo`), printing why it failed.
pub fn gateway_result(result: Result<(), warden_app::RunError>) -> ExitCode {
    match result {
        Ok(()) => {
            println!("warden: stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            super::logging::fatal(&e);
            if e.is_config() {
                Failure::Invalid.into()
            } else {
                Failure::Runtime.into()
            }
        }
    }
}
