//! `warden serve`: load and validate the config and policies (exit 2 on any problem),
//! then run the gateway (`warden_app::gateway`) until SIGINT/SIGTERM. Exit 0 on a clean
//! stop, 1 on a runtime failure.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::exit::{gateway_result, Failure};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Path to warden.yaml.
    #[arg(long)]
    pub config: PathBuf,
}

/// The multi-threaded runtime the gateway runs on.
pub fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("error: cannot start the async runtime: {e}");
            Failure::Runtime.into()
        })
}

/// The single-threaded runtime of a short client command (`what` names it in the
/// error).
pub fn client_runtime(what: &str) -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("{what}: cannot start runtime: {e}");
            Failure::Runtime.into()
        })
}

pub fn run(args: ServeArgs) -> ExitCode {
    if let Err(code) = super::logging::init("info") {
        return code;
    }
    let (config, set) = match super::check::load(&args.config) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    gateway_result(rt.block_on(warden_app::gateway::run(config, set, None, |_| {})))
}
