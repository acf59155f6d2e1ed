//! `warden check`: load the config and every policy it names, print all diagnostics on
//! failure (exit 2). Needs only the config and policy crates: nothing is started.
//! [`load`] is also how `serve` and `demo` read their files.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use warden_config::Config;
use warden_policy::PolicySet;

use super::exit::Failure;

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Path to warden.yaml.
    #[arg(long)]
    pub config: PathBuf,
}

pub fn run(args: CheckArgs) -> ExitCode {
    match load(&args.config) {
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

/// The validated config and its compiled policies, or exit code 2 after printing
/// every problem (config and policies both, when both are wrong).
pub fn load(path: &Path) -> Result<(Config, PolicySet), ExitCode> {
    let config = match Config::load(path) {
        Ok(c) => c,
        Err(errors) => {
            for d in &errors.0 {
                eprintln!("{d}");
            }
            eprintln!(
                "{}: {} error(s) in the config",
                path.display(),
                errors.0.len()
            );
            return Err(Failure::Invalid.into());
        }
    };
    let set = if config.policies.is_empty() {
        Ok(PolicySet::empty())
    } else {
        PolicySet::load(&config.policies)
    };
    match set {
        Ok(set) => Ok((config, set)),
        Err(errors) => {
            eprintln!("{errors}");
            eprintln!(
                "{}: {} error(s) in the policies",
                path.display(),
                errors.0.len()
            );
            Err(Failure::Invalid.into())
        }
    }
}
