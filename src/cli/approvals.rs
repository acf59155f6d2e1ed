//! `warden approvals list|show|approve|deny`: the approvals API from a terminal.
//!
//! The password comes from `WARDEN_PASSWORD` or a no-echo prompt on the terminal; it is
//! never printed. All logic lives in `warden_web::client`; this file only parses,
//! calls and prints.

use std::io::{BufRead, Write};
use std::process::ExitCode;

use super::exit::Failure;

use clap::{Args, Subcommand};
use serde_json::Value;
use warden_web::client::{ApiClient, ClientError};

#[derive(Debug, Args)]
pub struct Connection {
    /// Base URL of the Warden console/API, e.g. http://127.0.0.1:8080.
    #[arg(long, env = "WARDEN_URL")]
    pub url: String,
    /// Warden user name to authenticate as.
    #[arg(long, env = "WARDEN_USER")]
    pub user: String,
    /// Print the server's JSON instead of a summary.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ApprovalsCommand {
    /// List approval requests, newest first.
    List {
        /// pending | approved | denied | expired | withdrawn | executed | all
        #[arg(long, default_value = "pending")]
        state: String,
        #[command(flatten)]
        conn: Connection,
    },
    /// Show one request in full.
    Show {
        id: String,
        #[command(flatten)]
        conn: Connection,
    },
    /// Approve a request (counts once per person; you cannot approve your own).
    Approve {
        id: String,
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        conn: Connection,
    },
    /// Deny a request; this ends it.
    Deny {
        id: String,
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        conn: Connection,
    },
}

/// Reads the password from `WARDEN_PASSWORD`, else prompts on the terminal without echo.
pub(super) fn password() -> Result<String, String> {
    if let Ok(p) = std::env::var("WARDEN_PASSWORD") {
        return Ok(p);
    }
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(|_| "no password: set WARDEN_PASSWORD or run on a terminal".to_string())?;
    let stty = |arg: &str| {
        std::process::Command::new("stty")
            .arg(arg)
            .stdin(
                tty.try_clone()
                    .map(std::process::Stdio::from)
                    .unwrap_or_else(|_| std::process::Stdio::null()),
            )
            .status()
    };
    let mut out = &tty;
    let _ = write!(out, "Password: ");
    let _ = out.flush();
    let _ = stty("-echo");
    let mut line = String::new();
    let read = std::io::BufReader::new(&tty).read_line(&mut line);
    let _ = stty("echo");
    let _ = writeln!(out);
    read.map_err(|e| format!("cannot read password: {e}"))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

fn text(v: &Value, ptr: &str) -> String {
    match v.pointer(ptr) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn summary_line(v: &Value) -> String {
    let raw = text(v, "/action/raw");
    let first = raw.lines().next().unwrap_or("");
    let shown = if first.chars().count() > 80 || first.len() < raw.len() {
        format!(
            "{}… (truncated; `show` prints it in full)",
            first.chars().take(80).collect::<String>()
        )
    } else {
        first.to_string()
    };
    format!(
        "{}\t{}\t{}\t{}\t{}\t{}",
        text(v, "/id"),
        text(v, "/state"),
        text(v, "/action/user/name"),
        text(v, "/action/target/name"),
        text(v, "/created_at"),
        shown
    )
}

fn details(v: &Value) -> String {
    let approvers: Vec<String> = v
        .get("approvals")
        .and_then(Value::as_array)
        .map(|a| a.iter().map(|d| text(d, "/by")).collect())
        .unwrap_or_default();
    let mut out = format!(
        "id:        {}\nstate:     {}\nuser:      {}\ntarget:    {} ({})\nsession:   {}\nrules:     {}\nmessage:   {}\nrequired:  {} (remaining {})\napproved:  {}\ncreated:   {}\nexpires:   {}\nurl:       {}\n",
        text(v, "/id"),
        text(v, "/state"),
        text(v, "/action/user/name"),
        text(v, "/action/target/name"),
        text(v, "/action/protocol"),
        text(v, "/action/session"),
        v.get("rules").and_then(Value::as_array).map(|r| r.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")).unwrap_or_default(),
        text(v, "/message"),
        text(v, "/spec/required"),
        text(v, "/remaining"),
        approvers.join(", "),
        text(v, "/created_at"),
        text(v, "/expires_at"),
        text(v, "/url"),
    );
    if v.pointer("/denial/by").is_some() {
        out.push_str(&format!(
            "denied by: {} ({})\n",
            text(v, "/denial/by"),
            text(v, "/denial/reason")
        ));
    }
    out.push_str("action:\n");
    out.push_str(&text(v, "/action/raw"));
    out.push('\n');
    out
}

async fn execute(cmd: ApprovalsCommand, password: String) -> Result<String, ClientError> {
    let conn = match &cmd {
        ApprovalsCommand::List { conn, .. }
        | ApprovalsCommand::Show { conn, .. }
        | ApprovalsCommand::Approve { conn, .. }
        | ApprovalsCommand::Deny { conn, .. } => conn,
    };
    let client = ApiClient::new(&conn.url, &conn.user, &password)?;
    let json = conn.json;
    let pretty = |v: &Value| serde_json::to_string_pretty(v).unwrap_or_default();
    Ok(match &cmd {
        ApprovalsCommand::List { state, .. } => {
            let items = client.list(Some(state)).await?;
            if json {
                pretty(&Value::Array(items))
            } else if items.is_empty() {
                format!("no {state} requests")
            } else {
                items
                    .iter()
                    .map(summary_line)
                    .collect::<Vec<_>>()
                    .join("\n")
            }
        }
        ApprovalsCommand::Show { id, .. } => {
            let v = client.show(id).await?;
            if json {
                pretty(&v)
            } else {
                details(&v)
            }
        }
        ApprovalsCommand::Approve { id, reason, .. }
        | ApprovalsCommand::Deny { id, reason, .. } => {
            let decision = if matches!(cmd, ApprovalsCommand::Approve { .. }) {
                "approve"
            } else {
                "deny"
            };
            let v = client.decide(id, decision, reason.as_deref()).await?;
            if json {
                pretty(&v)
            } else {
                format!(
                    "{}: {} (remaining approvals: {})",
                    text(&v, "/id"),
                    text(&v, "/state"),
                    text(&v, "/remaining")
                )
            }
        }
    })
}

pub fn run(cmd: ApprovalsCommand) -> ExitCode {
    let password = match password() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("warden approvals: {e}");
            return Failure::Invalid.into();
        }
    };
    let runtime = match super::serve::client_runtime("warden approvals") {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    match runtime.block_on(execute(cmd, password)) {
        Ok(out) => {
            println!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            if e.status == 0 {
                eprintln!("warden approvals: {e}");
            } else {
                eprintln!("warden approvals: HTTP {}: {e}", e.status);
            }
            Failure::Runtime.into()
        }
    }
}
