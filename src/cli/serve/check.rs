//! Load the config and every policy it names; print all diagnostics on failure.

use std::path::Path;
use std::process::ExitCode;

use warden_policy::PolicySet;
use warden_proxy::config::Config;

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
            return Err(ExitCode::from(2));
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
            Err(ExitCode::from(2))
        }
    }
}
