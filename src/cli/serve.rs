//! `warden serve`, `warden demo`, `warden check` (skeleton: filled in by the runtime work).

use std::process::ExitCode;

use clap::Args;

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[arg(long)]
    pub config: std::path::PathBuf,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[arg(long)]
    pub config: std::path::PathBuf,
}

#[derive(Debug, Args)]
pub struct DemoArgs {}

pub fn serve(_args: ServeArgs) -> ExitCode {
    eprintln!("warden serve is not implemented yet");
    ExitCode::from(1)
}

pub fn check(_args: CheckArgs) -> ExitCode {
    eprintln!("warden check is not implemented yet");
    ExitCode::from(1)
}

pub fn demo(_args: DemoArgs) -> ExitCode {
    eprintln!("warden demo is not implemented yet");
    ExitCode::from(1)
}
