//! SSH channel facts: commands of an exec request split by POSIX shell word rules.
//!
//! Every simple command of a pipeline or list is listed, and so is every command that a
//! wrapper (`sudo`, `env`, `timeout`, `xargs`, `find -exec` ...) or a nested shell
//! (`bash -c '...'`) runs — the wrapper itself stays listed too, and the inner command
//! records the chain in [`ShellCommand::via`].
//!
//! Never guesses: when expansion makes the real command unknowable (`$(...)`,
//! backticks, `eval`, decoded-and-piped-to-shell input, variables in command position,
//! interpreters with inline code) the facts are `opaque`, with the reason in `notes`;
//! when the line is not valid shell syntax it is `unparsed`. Pure: no I/O.

mod analyze;
mod ansi_c;
mod brace;
mod flags;
mod interpreters;
mod lexer;
mod options;
mod parser;
mod place;
mod remote;
mod wrappers;
mod writes;

pub use writes::output_target;

use serde::{Deserialize, Serialize};

use analyze::Analysis;

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
    /// Redirections of the command, stripped from `argv` (`>/dev/null`, `2>&1`, `<<EOF`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redirects: Vec<String>,
    /// Wrappers this command runs under, outermost first (`["sudo", "bash -c"]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub via: Vec<String>,
    /// Paths the command writes (redirection targets and what well-known programs
    /// create, change or remove through their arguments), absolute or `~/…`, with `.`
    /// and `..` resolved and a preceding `cd` applied.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub writes: Vec<String>,
}

impl ShellCommand {
    /// True when every flag of `pattern` is set, however it is spelled: `-rf` holds for
    /// `-rf`, `-fr`, `-r -f`, and for `rm` also `-Rf` and `--recursive --force` (and
    /// GNU prefixes like `--rec`). `pattern` may hold several parts (`"-r --force"`).
    /// A pattern part that is not a flag must appear as an exact argument.
    pub fn has_flags(&self, pattern: &str) -> bool {
        let args = self.argv.get(1..).unwrap_or(&[]);
        match flags::wanted(&self.program, pattern) {
            Some(wanted) => {
                let set = flags::flags_of(&self.program, args);
                wanted.is_subset(&set)
            }
            None => pattern
                .split_whitespace()
                .all(|p| self.has_flags_part(p, args)),
        }
    }

    fn has_flags_part(&self, part: &str, args: &[String]) -> bool {
        if part.starts_with('-') && part.len() > 1 {
            self.has_flags(part)
        } else {
            args.iter().any(|a| a == part)
        }
    }

    /// The canonical flags set on this command (`recursive`, `force` for known
    /// programs; `-x` / `--name` otherwise).
    pub fn flags(&self) -> Vec<String> {
        flags::flags_of(&self.program, self.argv.get(1..).unwrap_or(&[]))
            .into_iter()
            .collect()
    }
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
    /// Port forwarding: `host:port` (`[v6]:port`) — the destination of `ssh -L`/`-W`
    /// (direct-tcpip), the address the host listens on for `ssh -R` (tcpip-forward).
    /// `None` for other requests and for agent/X11/socket forwarding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forward_to: Option<String>,
    #[serde(default)]
    pub opaque: bool,
    #[serde(default)]
    pub unparsed: bool,
    /// Why the line is opaque or unparsed, and other things worth auditing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl SshFacts {
    /// An interactive shell request: nothing is known about what will be typed.
    pub fn shell() -> SshFacts {
        SshFacts {
            request: SshRequest::Shell,
            interactive: true,
            ..SshFacts::default()
        }
    }

    /// A subsystem request (`sftp`, ...).
    pub fn subsystem(name: &str) -> SshFacts {
        SshFacts {
            request: SshRequest::Subsystem,
            subsystem: Some(name.to_string()),
            ..SshFacts::default()
        }
    }

    /// A forwarding request without an address (agent, X11, Unix sockets).
    pub fn forwarding() -> SshFacts {
        SshFacts {
            request: SshRequest::Forwarding,
            forwarding: true,
            ..SshFacts::default()
        }
    }

    /// A port forwarding request for `host:port` (see [`SshFacts::forward_to`]).
    pub fn forwarding_to(host: &str, port: u32) -> SshFacts {
        let host = host.to_ascii_lowercase();
        let addr = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        SshFacts {
            forward_to: Some(addr),
            ..SshFacts::forwarding()
        }
    }
}

/// Longest command line inspected; longer ones are `unparsed` (bounds the work done
/// per request).
pub const MAX_COMMAND_LEN: usize = 256 * 1024;

/// Inspect the command of an SSH `exec` request.
pub fn inspect_exec(command: &str) -> SshFacts {
    from_analysis(SshRequest::Exec, false, command)
}

/// Inspect one line typed in an interactive shell (best effort: the shell's state,
/// aliases and functions are unknown).
pub fn inspect_interactive_line(line: &str) -> SshFacts {
    from_analysis(SshRequest::InteractiveLine, true, line)
}

fn from_analysis(request: SshRequest, interactive: bool, text: &str) -> SshFacts {
    let mut a = Analysis::default();
    if text.len() > MAX_COMMAND_LEN {
        a.unparsed = true;
        a.notes.push("command too long to inspect".into());
    } else if text.contains('\0') {
        // sshd hands the command to the shell as a C string: it ends at the NUL, so
        // what runs is not what the whole text says.
        a.unparsed = true;
        a.notes.push("NUL byte in the command".into());
    } else {
        a.text(text, 0, &[]);
    }
    SshFacts {
        request,
        commands: a.commands,
        interactive,
        subsystem: None,
        forwarding: false,
        forward_to: None,
        opaque: a.opaque,
        unparsed: a.unparsed,
        notes: a.notes,
    }
}
