//! `warden audit ...` (skeleton: filled in by the audit work).

use std::process::ExitCode;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Not implemented yet.
    Todo,
}

pub fn run(cmd: AuditCommand) -> ExitCode {
    eprintln!("warden audit: {cmd:?} is not implemented yet");
    ExitCode::from(1)
}
