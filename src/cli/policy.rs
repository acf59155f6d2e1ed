//! `warden policy ...` (skeleton: filled in by the policy work).

use std::process::ExitCode;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Not implemented yet.
    Todo,
}

pub fn run(cmd: PolicyCommand) -> ExitCode {
    eprintln!("warden policy: {cmd:?} is not implemented yet");
    ExitCode::from(1)
}
