//! `warden approvals ...` (skeleton: filled in by the approvals work).

use std::process::ExitCode;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum ApprovalsCommand {
    /// Not implemented yet.
    Todo,
}

pub fn run(cmd: ApprovalsCommand) -> ExitCode {
    eprintln!("warden approvals: {cmd:?} is not implemented yet");
    ExitCode::from(1)
}
