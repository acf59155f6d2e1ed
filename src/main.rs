//! The `warden` binary: parse the command line and hand over to one `cli::*` module.
//! Nothing else lives here. Exit codes: 0 success; 1 runtime failure; 2 bad usage,
//! config or policy; 3 audit verification failed.

#![forbid(unsafe_code)]

mod cli;

/// mimalloc instead of glibc malloc: audit records and parsed requests are allocated on
/// connection tasks and freed on the audit writer's thread, and glibc's arena locks made
/// that hand-over a third of the append cost (see docs/audit-format.md, Performance).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Warden: a policy-enforcing reverse proxy gateway.
#[derive(Debug, Parser)]
#[command(name = "warden", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Zero-setup tour: embedded sample upstream, console, audit in a temp dir.
    Demo(cli::demo::DemoArgs),
    /// Run the gateway.
    Serve(cli::serve::ServeArgs),
    /// Validate the config and every policy it loads; exit 2 on error.
    Check(cli::check::CheckArgs),
    /// Check, test and explain policies.
    #[command(subcommand)]
    Policy(cli::policy::PolicyCommand),
    /// Verify, export and tail the audit log.
    #[command(subcommand)]
    Audit(cli::audit::AuditCommand),
    /// Behaviour analytics: replay exported events through the detectors.
    #[command(subcommand)]
    Analytics(cli::analytics::AnalyticsCommand),
    /// List and decide held actions through the HTTP API.
    #[command(subcommand)]
    Approvals(cli::approvals::ApprovalsCommand),
    /// Reports over the audit log: `report access` (attempts by role, privilege creep,
    /// sensitive actions by human accounts).
    #[command(subcommand)]
    Report(cli::report::ReportCommand),
    /// Read a password on stdin, print an argon2id PHC string (plus SCRAM verifier).
    HashPassword(cli::hash_password::HashPasswordArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                cli::exit::Failure::Invalid.into()
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match cli.command {
        Command::Demo(args) => cli::demo::run(args),
        Command::Serve(args) => cli::serve::run(args),
        Command::Check(args) => cli::check::run(args),
        Command::Policy(cmd) => cli::policy::run(cmd),
        Command::Audit(cmd) => cli::audit::run(cmd),
        Command::Analytics(cmd) => cli::analytics::run(cmd),
        Command::Approvals(cmd) => cli::approvals::run(cmd),
        Command::Report(cmd) => cli::report::run(cmd),
        Command::HashPassword(args) => cli::hash_password::run(args),
    }
}
