//! Running embedded policy tests, and turning a test action into a real [`Action`].
//!
//! The action is built with the real inspectors, so a passing test means the proxies,
//! which use the same inspectors, get the same verdict.

use serde::Serialize;
use warden_inspect::http::{self, HttpFacts};
use warden_inspect::kube::{self, KubeFacts};
use warden_inspect::shell::{self, SshFacts};
use warden_inspect::sql::{self, Dialect};
use warden_inspect::{Action, Facts, Protocol};

use crate::set::PolicySet;
use crate::test_spec::{PolicyTest, SshTestRequest, TestAction, TestPayload};
use crate::verdict::Verdict;

impl TestAction {
    /// Inspect the payload and build the Action a proxy would hand the Gate.
    pub fn to_action(&self) -> Action {
        let (raw, facts) = match &self.payload {
            TestPayload::None => (String::new(), Facts::None),
            TestPayload::Sql(text) => {
                let dialect = match self.protocol {
                    Protocol::Mysql => Dialect::Mysql,
                    _ => Dialect::Postgres,
                };
                (text.clone(), Facts::Sql(sql::inspect(text, dialect).into()))
            }
            TestPayload::Http { method, path } => (
                format!("{method} {path}"),
                Facts::Http(http_facts(method, path)),
            ),
            TestPayload::Kubernetes { method, path } => {
                let http = http_facts(method, path);
                let kube = kube_facts(&http);
                (format!("{method} {path}"), Facts::Kubernetes { http, kube })
            }
            TestPayload::Ssh(req) => {
                let raw = match req {
                    SshTestRequest::Exec(c) => c.clone(),
                    SshTestRequest::Shell => "shell".into(),
                    SshTestRequest::Subsystem(s) => format!("subsystem {s}"),
                    SshTestRequest::Forwarding(None) => "forwarding".into(),
                    SshTestRequest::Forwarding(Some(to)) => format!("forwarding {to}"),
                };
                (raw, Facts::Ssh(ssh_facts(req)))
            }
        };
        Action {
            protocol: self.protocol,
            user: self.user.clone(),
            target: self.target.clone(),
            session: None,
            raw,
            facts,
        }
    }
}

/// HTTP facts as the HTTP front-end reads them. A request the inspector rejects (the
/// proxy refuses it before policy) is marked `unparsed` here, so it can never pass.
fn http_facts(method: &str, target: &str) -> HttpFacts {
    http::inspect(method, target, std::iter::empty()).unwrap_or_else(|_| HttpFacts {
        method: method.to_ascii_uppercase(),
        path: target.to_string(),
        unparsed: true,
        ..HttpFacts::default()
    })
}

fn kube_facts(http: &HttpFacts) -> KubeFacts {
    if http.unparsed {
        return KubeFacts {
            unparsed: true,
            ..KubeFacts::default()
        };
    }
    kube::inspect(&http.method, &http.path, http.query.as_deref())
}

fn ssh_facts(req: &SshTestRequest) -> SshFacts {
    match req {
        SshTestRequest::Exec(command) => shell::inspect_exec(command),
        SshTestRequest::Shell => SshFacts::shell(),
        SshTestRequest::Subsystem(s) => SshFacts::subsystem(s),
        SshTestRequest::Forwarding(None) => SshFacts::forwarding(),
        SshTestRequest::Forwarding(Some(to)) => match to.rsplit_once(':') {
            Some((host, port)) => match port.parse() {
                Ok(port) => SshFacts::forwarding_to(host.trim_matches(['[', ']']), port),
                Err(_) => SshFacts::forwarding(),
            },
            None => SshFacts::forwarding(),
        },
    }
}

/// The outcome of one embedded test.
#[derive(Debug, Clone, Serialize)]
pub struct TestResult {
    pub name: String,
    pub file: String,
    pub line: usize,
    pub passed: bool,
    /// Why it failed (expected vs got, missing rules).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    pub verdict: Verdict,
}

/// Every test's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct TestReport {
    pub results: Vec<TestResult>,
    pub passed: usize,
    pub failed: usize,
}

/// Run every embedded test of `set` against `set`.
pub fn run_tests(set: &PolicySet) -> TestReport {
    let results: Vec<TestResult> = set.tests().iter().map(|t| run_one(set, t)).collect();
    let passed = results.iter().filter(|r| r.passed).count();
    TestReport {
        failed: results.len() - passed,
        passed,
        results,
    }
}

fn run_one(set: &PolicySet, test: &PolicyTest) -> TestResult {
    let verdict = set.evaluate(&test.action.to_action());
    let mut problems = Vec::new();
    if verdict.decision != test.expect {
        problems.push(format!(
            "expected {}, got {} (by {})",
            test.expect.as_str(),
            verdict.decision.as_str(),
            verdict.rule
        ));
    }
    for want in &test.rules {
        let hit = verdict
            .matched
            .iter()
            .chain(&verdict.dry_run)
            .any(|h| &h.rule == want);
        if !hit {
            problems.push(format!("rule `{want}` did not match"));
        }
    }
    TestResult {
        name: test.name.clone(),
        file: test.file.clone(),
        line: test.line,
        passed: problems.is_empty(),
        failure: (!problems.is_empty()).then(|| problems.join("; ")),
        verdict,
    }
}
