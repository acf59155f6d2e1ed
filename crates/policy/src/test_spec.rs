//! Embedded policy tests: the action a test describes and what it expects.
//!
//! A test's action is built by running the real inspectors over the text it gives
//! (`sql:`, `http:`, `kubernetes:`, `ssh:`), so a test exercises exactly what a proxy
//! would hand the Gate.

use serde::Serialize;
use warden_inspect::{Actor, Protocol, TargetRef};

use crate::verdict::Decision;

/// The protocol payload of a test action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TestPayload {
    /// No payload (a connection being opened).
    None,
    Sql(String),
    Http {
        method: String,
        path: String,
    },
    Kubernetes {
        method: String,
        path: String,
    },
    Ssh(SshTestRequest),
}

/// An SSH channel request in a test.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SshTestRequest {
    Exec(String),
    Shell,
    Subsystem(String),
    /// Port forwarding to `host:port` (`to:`), or agent/X11 forwarding without it.
    Forwarding(Option<String>),
}

/// A test's action before inspection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TestAction {
    pub protocol: Protocol,
    pub target: TargetRef,
    pub user: Actor,
    pub payload: TestPayload,
}

/// One embedded test.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyTest {
    pub name: String,
    pub file: String,
    pub line: usize,
    pub action: TestAction,
    pub expect: Decision,
    /// Rules that must be among those that matched.
    pub rules: Vec<String>,
}
