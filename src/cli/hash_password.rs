//! `warden hash-password` (skeleton: filled in by the approvals/web work).

use std::process::ExitCode;

use clap::Args;

#[derive(Debug, Args)]
pub struct HashPasswordArgs {}

pub fn run(_args: HashPasswordArgs) -> ExitCode {
    eprintln!("warden hash-password is not implemented yet");
    ExitCode::from(1)
}
