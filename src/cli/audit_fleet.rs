//! `warden audit verify --fleet --config warden.yaml`: every replica's audit chain as
//! shipped to the fleet database, and the shared anchor chain (docs/fleet.md#audit);
//! `warden audit export --fleet`: those records merged in time order.
//! Read-only; it joins no fleet (takes no lease) and must never report a tampered or
//! truncated chain as intact. Exit codes as `audit verify`: 0 ok, 1 could not run,
//! 2 bad config, 3 verification failed.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use super::exit::Failure;

/// The `fleet:` section of `config` and a runtime for the tool, or the exit code.
fn setup(config: &Path) -> Result<(warden_config::FleetConfig, tokio::runtime::Runtime), ExitCode> {
    let config = match warden_config::Config::load(config) {
        Ok(c) => c,
        Err(errors) => {
            for d in &errors.0 {
                eprintln!("{d}");
            }
            return Err(Failure::Invalid.into());
        }
    };
    let Some(fleet) = config.fleet else {
        eprintln!(
            "warden audit: {} has no `fleet:` section",
            config.file.display()
        );
        return Err(Failure::Invalid.into());
    };
    Ok((fleet, super::serve::client_runtime("warden audit")?))
}

/// `warden audit export --fleet`: every replica's shipped records, time-ordered.
pub fn export(config: &Path, since: Option<i64>, until: Option<i64>) -> ExitCode {
    let (fleet, runtime) = match setup(config) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let result = runtime.block_on(warden_app::stores::export_fleet(
        &fleet, since, until, &mut out,
    ));
    match result.map(|_| out.flush()) {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprintln!("warden audit: writing the export: {e}");
            Failure::Runtime.into()
        }
        Err(e) => {
            eprintln!("warden audit: {e}");
            Failure::Runtime.into()
        }
    }
}

pub fn verify(config: &Path, json: bool) -> ExitCode {
    let (fleet, runtime) = match setup(config) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let report = match runtime.block_on(warden_app::stores::verify_fleet(&fleet)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("warden audit: {e}");
            return Failure::Runtime.into();
        }
    };
    if json {
        match serde_json::to_string(&report) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("warden audit: {e}");
                return Failure::Runtime.into();
            }
        }
    } else {
        for r in &report.replicas {
            println!(
                "replica {}: {} records, intact to {}, anchored to {} (key {})",
                r.replica_id,
                r.records,
                r.intact_to,
                r.anchored,
                r.key.as_deref().unwrap_or("-")
            );
        }
        for p in &report.problems {
            println!("FAILED: {p}");
        }
        if report.ok {
            println!(
                "ok: {} replicas, {} anchors checked",
                report.replicas.len(),
                report.anchors
            );
        }
    }
    if report.ok {
        ExitCode::SUCCESS
    } else {
        Failure::Tampered.into()
    }
}
