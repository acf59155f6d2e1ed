//! `warden demo`: a zero-setup tour in a fresh temporary folder (removed on exit unless
//! `--keep`). The setup itself is `warden_app::demo`; this file loads its config like
//! `serve` does and runs the gateway with the tour as the start-up message.

use std::path::Path;
use std::process::ExitCode;

use clap::Args;

use super::exit::{gateway_result, Failure};
use super::serve::runtime;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Console port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Keep the temporary data folder on exit (to inspect the audit log afterwards).
    #[arg(long)]
    pub keep: bool,
}

pub fn run(args: DemoArgs) -> ExitCode {
    // The tour is the output that matters: only warnings unless WARDEN_LOG says more.
    if let Err(code) = super::logging::init("warn") {
        return code;
    }
    let dir = warden_app::demo::temp_dir();
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("error: cannot create {}: {e}", dir.display());
        return Failure::Runtime.into();
    }
    let code = match runtime() {
        Ok(rt) => rt.block_on(run_in(&dir, args.port)),
        Err(code) => code,
    };
    if !args.keep {
        let _ = std::fs::remove_dir_all(&dir);
    }
    code
}

async fn run_in(dir: &Path, port: u16) -> ExitCode {
    let mut demo = match warden_app::demo::prepare(dir, port).await {
        Ok(demo) => demo,
        Err(e) => {
            eprintln!("error: {e}");
            return Failure::Runtime.into();
        }
    };
    let (config, set) = match super::check::load(&demo.config) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let console = demo.console.take();
    let result = warden_app::gateway::run(config, set, console, |started| demo.tour(started));
    gateway_result(result.await)
}
