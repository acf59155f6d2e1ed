//! `warden policy propose FILE... [--reason TEXT]`: send new policy file contents to the
//! running gateway for review. The gateway validates the whole resulting set, opens an
//! approval request showing the diff, and once approved (`warden approvals approve ID`
//! or the console) writes the files and applies them.
//!
//! Exit codes: 0 the proposal waits for review; 2 a file cannot be read, or the gateway
//! refused the proposal (not a policy file it loads, no change, invalid set: its
//! message says which); 1 the gateway could not be reached or failed. The password is
//! read like `warden approvals` does and never printed.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use serde_json::Value;
use warden_web::client::ApiClient;
use warden_web::ProposedFile;

use super::approvals::Connection;
use super::exit::Failure;

#[derive(Debug, Args)]
pub struct ProposeArgs {
    /// Policy files with their new contents; each must be a file the gateway loads, or a
    /// new .yaml/.yml file inside one of its policy folders.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Why the change is needed; shown to the reviewers.
    #[arg(long)]
    pub reason: Option<String>,
    #[command(flatten)]
    pub conn: Connection,
}

/// The path as the gateway will see it (same machine): absolute, `..` resolved.
fn absolute(path: &Path) -> Result<String, String> {
    std::fs::canonicalize(path)
        .map(|p| p.display().to_string())
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn read(files: &[PathBuf]) -> Result<Vec<ProposedFile>, String> {
    files
        .iter()
        .map(|f| {
            let content =
                std::fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?;
            Ok(ProposedFile {
                path: absolute(f)?,
                content,
            })
        })
        .collect()
}

fn summary(v: &Value) -> String {
    let s = |p: &str| {
        v.pointer(p).map(|x| match x {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    };
    let roles: Vec<String> = v
        .get("approver_roles")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    format!(
        "proposal {} waits for {} approval(s) by role {}: {}\n{}",
        s("/id").unwrap_or_default(),
        s("/required").unwrap_or_default(),
        roles.join(" or "),
        s("/url").unwrap_or_default(),
        s("/diff").unwrap_or_default()
    )
}

pub fn run(args: ProposeArgs) -> ExitCode {
    let files = match read(&args.files) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("warden policy propose: {e}");
            return Failure::Invalid.into();
        }
    };
    let password = match super::approvals::password() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("warden policy propose: {e}");
            return Failure::Invalid.into();
        }
    };
    let runtime = match super::serve::client_runtime("warden policy propose") {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let conn = &args.conn;
    let sent = runtime.block_on(async {
        let client = ApiClient::new(&conn.url, &conn.user, &password)?;
        client.propose(&files, args.reason.as_deref()).await
    });
    match sent {
        Ok(v) if conn.json => {
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            ExitCode::SUCCESS
        }
        Ok(v) => {
            println!("{}", summary(&v));
            ExitCode::SUCCESS
        }
        Err(e) if e.status == 400 => {
            eprintln!("warden policy propose: {e}");
            Failure::Invalid.into()
        }
        Err(e) if e.status == 0 => {
            eprintln!("warden policy propose: {e}");
            Failure::Runtime.into()
        }
        Err(e) => {
            eprintln!("warden policy propose: HTTP {}: {e}", e.status);
            Failure::Runtime.into()
        }
    }
}
