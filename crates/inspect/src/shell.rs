//! SSH channel facts: commands of an exec request split by POSIX shell word rules.
//!
//! Never guesses: when expansion makes the real command unknowable (`$(...)`,
//! backticks, `eval`, decoded-and-piped-to-shell input, variables in command position)
//! the facts are `opaque`.

use serde::{Deserialize, Serialize};

/// What kind of SSH channel request this is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SshRequest {
    #[default]
    Exec,
    /// Interactive shell (with or without a pty).
    Shell,
    Subsystem,
    /// Local/remote port forwarding or agent forwarding.
    Forwarding,
    /// One line an interactive user submitted (best effort, audited as a command).
    InteractiveLine,
}

/// One simple command: program and arguments after quote removal.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShellCommand {
    /// The program as written (`/bin/rm`), and `program` is its basename (`rm`).
    pub argv: Vec<String>,
    pub program: String,
}

/// What policy sees of an SSH channel request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SshFacts {
    pub request: SshRequest,
    /// Every simple command of the command line (pipelines, lists, `sh -c` unwrapped).
    #[serde(default)]
    pub commands: Vec<ShellCommand>,
    #[serde(default)]
    pub interactive: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subsystem: Option<String>,
    #[serde(default)]
    pub forwarding: bool,
    #[serde(default)]
    pub opaque: bool,
    #[serde(default)]
    pub unparsed: bool,
}
