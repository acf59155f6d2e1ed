//! `warden policy check|test|explain|propose`: validate policy files, run their embedded
//! tests, show which rules match one action and why, and (in `policy_propose`) send a
//! change to the running gateway for review.
//!
//! Exit codes: 0 success; 1 a policy test failed; 2 bad usage or an invalid policy
//! (every diagnostic printed as `file:line:col: key: message`). All policy logic lives in
//! `warden-policy`; this module only parses arguments and prints.

use std::path::PathBuf;
use std::process::ExitCode;

use super::exit::Failure;

use clap::{Args, Subcommand};
use warden_inspect::{Actor, Protocol, TargetRef};
use warden_policy::{
    run_tests, PolicyErrors, PolicySet, RuleHit, SshTestRequest, TestAction, TestPayload, Verdict,
};

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Validate policy files and folders; print every problem; exit 2 if any.
    Check(PathsArgs),
    /// Run the tests embedded in policy files; exit 1 if any fails.
    Test(PathsArgs),
    /// Show the facts of one action, every rule that matches it, and the verdict.
    Explain(ExplainArgs),
    /// Send new policy file contents to the running gateway for review; applied once
    /// approved (see `policy_review:` in warden.yaml).
    Propose(super::policy_propose::ProposeArgs),
}

#[derive(Debug, Args)]
pub struct PathsArgs {
    /// Policy files or folders (folders: every *.yaml / *.yml inside, sorted).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// Policy files or folders.
    #[arg(long = "policies", required = true)]
    pub policies: Vec<PathBuf>,
    /// postgres | mysql | http | kubernetes | ssh
    #[arg(long, value_parser = parse_protocol)]
    pub protocol: Protocol,
    /// Target name.
    #[arg(long, default_value = "")]
    pub target: String,
    /// Target label as key=value (repeatable).
    #[arg(long = "target-label", value_parser = parse_label)]
    pub target_labels: Vec<(String, String)>,
    /// User name.
    #[arg(long, default_value = "")]
    pub user: String,
    /// User role (repeatable).
    #[arg(long = "role")]
    pub roles: Vec<String>,
    /// SQL text (postgres, mysql).
    #[arg(long, conflicts_with_all = ["method", "path", "command"])]
    pub sql: Option<String>,
    /// HTTP method (http, kubernetes).
    #[arg(long, requires = "path", conflicts_with = "command")]
    pub method: Option<String>,
    /// Request path (http, kubernetes).
    #[arg(long, conflicts_with = "command")]
    pub path: Option<String>,
    /// SSH exec command line.
    #[arg(long)]
    pub command: Option<String>,
    /// Print the action and verdict as JSON.
    #[arg(long)]
    pub json: bool,
}

fn parse_protocol(s: &str) -> Result<Protocol, String> {
    Protocol::parse(&s.to_ascii_lowercase()).ok_or_else(|| {
        format!("unknown protocol `{s}`; expected postgres, mysql, http, kubernetes or ssh")
    })
}

fn parse_label(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("expected key=value, got `{s}`")),
    }
}

pub fn run(cmd: PolicyCommand) -> ExitCode {
    match cmd {
        PolicyCommand::Check(a) => check(&a.paths),
        PolicyCommand::Test(a) => test(&a.paths),
        PolicyCommand::Explain(a) => explain(a),
        PolicyCommand::Propose(a) => super::policy_propose::run(a),
    }
}

fn load(paths: &[PathBuf]) -> Result<PolicySet, ExitCode> {
    PolicySet::load(paths).map_err(|e| report_invalid(&e))
}

fn report_invalid(e: &PolicyErrors) -> ExitCode {
    eprintln!("{e}");
    let n = e.0.len();
    eprintln!("{n} error{} in policy", if n == 1 { "" } else { "s" });
    Failure::Invalid.into()
}

fn check(paths: &[PathBuf]) -> ExitCode {
    let set = match load(paths) {
        Ok(s) => s,
        Err(code) => return code,
    };
    println!(
        "ok: {} rules, {} tests",
        set.rules().count(),
        set.tests().len()
    );
    ExitCode::SUCCESS
}

fn test(paths: &[PathBuf]) -> ExitCode {
    let set = match load(paths) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let report = run_tests(&set);
    for r in &report.results {
        let status = if r.passed { "PASS" } else { "FAIL" };
        match &r.failure {
            None => println!("{status} {}:{}: {}", r.file, r.line, r.name),
            Some(why) => println!("{status} {}:{}: {}: {why}", r.file, r.line, r.name),
        }
    }
    println!("{} passed, {} failed", report.passed, report.failed);
    if report.failed > 0 {
        Failure::Runtime.into()
    } else {
        ExitCode::SUCCESS
    }
}

fn payload(a: &ExplainArgs) -> Result<TestPayload, String> {
    let p = a.protocol;
    if let Some(sql) = &a.sql {
        if !matches!(p, Protocol::Postgres | Protocol::Mysql) {
            return Err(format!("--sql needs --protocol postgres or mysql, not {p}"));
        }
        return Ok(TestPayload::Sql(sql.clone()));
    }
    if let Some(path) = &a.path {
        let method = a
            .method
            .clone()
            .unwrap_or_else(|| "GET".into())
            .to_ascii_uppercase();
        return match p {
            Protocol::Http => Ok(TestPayload::Http {
                method,
                path: path.clone(),
            }),
            Protocol::Kubernetes => Ok(TestPayload::Kubernetes {
                method,
                path: path.clone(),
            }),
            _ => Err(format!(
                "--method/--path need --protocol http or kubernetes, not {p}"
            )),
        };
    }
    if let Some(cmd) = &a.command {
        if p != Protocol::Ssh {
            return Err(format!("--command needs --protocol ssh, not {p}"));
        }
        return Ok(TestPayload::Ssh(SshTestRequest::Exec(cmd.clone())));
    }
    Ok(TestPayload::None)
}

fn explain(a: ExplainArgs) -> ExitCode {
    let payload = match payload(&a) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("warden policy explain: {e}");
            return Failure::Invalid.into();
        }
    };
    let set = match load(&a.policies) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let spec = TestAction {
        protocol: a.protocol,
        target: TargetRef {
            name: a.target.clone(),
            labels: a.target_labels.iter().cloned().collect(),
        },
        user: Actor {
            name: a.user.clone(),
            roles: a.roles.clone(),
            client_addr: None,
            alerts: Vec::new(),
        },
        payload,
    };
    let action = spec.to_action();
    let verdict = set.evaluate(&action);
    if a.json {
        let out = serde_json::json!({ "action": action, "verdict": verdict });
        match serde_json::to_string_pretty(&out) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("warden policy explain: {e}");
                return Failure::Runtime.into();
            }
        }
        return ExitCode::SUCCESS;
    }
    println!("facts:");
    let facts = serde_json::to_string_pretty(&action.facts).unwrap_or_default();
    for line in facts.lines() {
        println!("  {line}");
    }
    print_hits(&set, "matching rules", &verdict.matched);
    if !verdict.dry_run.is_empty() {
        print_hits(
            &set,
            "dry-run rules (would apply, not enforced)",
            &verdict.dry_run,
        );
    }
    print_verdict(&verdict);
    ExitCode::SUCCESS
}

fn print_hits(set: &PolicySet, title: &str, hits: &[RuleHit]) {
    println!("{title}:");
    if hits.is_empty() {
        println!("  (none)");
    }
    for h in hits {
        let at = set
            .rules()
            .find(|r| r.name == h.rule)
            .map(|r| format!(" ({}:{}:{})", r.file, r.line, r.column))
            .unwrap_or_else(|| " (built-in default)".to_string());
        println!("  {:<5} {}{at}", h.decision.as_str(), h.rule);
    }
}

fn print_verdict(v: &Verdict) {
    println!("verdict: {} by {}", v.decision.as_str(), v.rule);
    println!("message: {}", v.message);
    if let Some(a) = &v.approval {
        let mut who: Vec<String> = a
            .approver_roles
            .iter()
            .map(|r| format!("role {r}"))
            .collect();
        who.extend(a.approver_users.iter().map(|u| format!("user {u}")));
        println!(
            "approval: {} of [{}], timeout {}s, {}",
            a.required,
            who.join(", "),
            a.timeout.as_secs(),
            if a.wait {
                "client waits"
            } else {
                "retry mode (client re-sends after approval)"
            }
        );
    }
}
