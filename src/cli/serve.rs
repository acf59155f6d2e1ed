//! `warden serve`, `warden check`, `warden demo`: parse arguments, load and validate,
//! then hand over to `warden_proxy::runtime` (stores, Gate, front-ends) and
//! `warden_web` (console). Exit codes: 0 clean stop; 1 runtime failure; 2 bad config or
//! policy (every diagnostic printed with file:line:column and key).

mod check;
mod demo;
mod gateway;
mod signals;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

pub use demo::demo;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Path to warden.yaml.
    #[arg(long)]
    pub config: PathBuf,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Path to warden.yaml.
    #[arg(long)]
    pub config: PathBuf,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Console port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Keep the temporary data folder on exit (to inspect the audit log afterwards).
    #[arg(long)]
    pub keep: bool,
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("WARDEN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("error: cannot start the async runtime: {e}");
            ExitCode::from(1)
        })
}

pub fn serve(args: ServeArgs) -> ExitCode {
    init_tracing();
    let (config, set) = match check::load(&args.config) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    rt.block_on(gateway::run(config, set, None))
}

pub fn check(args: CheckArgs) -> ExitCode {
    match check::load(&args.config) {
        Ok((config, set)) => {
            println!(
                "{}: ok ({} targets, {} users, {} policy rules)",
                args.config.display(),
                config.targets.len(),
                config.users.len(),
                set.rules().count()
            );
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}
