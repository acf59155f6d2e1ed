//! `ssh.args` patterns: command-line flags and operand globs.
//!
//! A flag pattern (`-rf`, `--force`, `-r -f`) is answered by the shell inspector's
//! [`ShellCommand::has_flags`], which knows how each program reads its flags: `-rf`
//! holds for `-rf`, `-fr`, `-r -f`, and for `rm` also `-Rf` and `--recursive --force`.
//! Anything else is a glob matched against each operand (non-flag argument; everything
//! after `--` is an operand). In operand globs `*` stays within one path segment and
//! `**` crosses segments: `/etc/*` is `/etc/hosts`, `/etc/**` is anything under /etc.

use globset::{GlobBuilder, GlobMatcher};
use warden_inspect::shell::ShellCommand;

/// One compiled entry of `ssh.args`.
#[derive(Debug, Clone)]
pub enum ArgPattern {
    /// A flag pattern, passed to [`ShellCommand::has_flags`].
    Flags(String),
    /// An operand glob (`/etc/*`, `0.0.0.0/0`).
    Operand(GlobMatcher),
}

impl ArgPattern {
    /// Compile one pattern; `Err` carries the problem.
    pub fn parse(pattern: &str) -> Result<ArgPattern, String> {
        if pattern.trim() == "--" {
            return Err("`--` is not a flag".into());
        }
        if pattern.starts_with('-') && pattern.len() > 1 {
            return Ok(ArgPattern::Flags(pattern.to_string()));
        }
        GlobBuilder::new(pattern)
            .literal_separator(true)
            .build()
            .map(|g| ArgPattern::Operand(g.compile_matcher()))
            .map_err(|e| e.to_string())
    }

    /// True when the command satisfies this pattern.
    pub fn matches(&self, cmd: &ShellCommand) -> bool {
        match self {
            ArgPattern::Flags(p) => cmd.has_flags(p),
            ArgPattern::Operand(glob) => {
                operands(cmd.argv.get(1..).unwrap_or(&[])).any(|a| glob.is_match(a))
            }
        }
    }
}

/// Arguments that are not options (everything after `--` counts as an operand).
fn operands(args: &[String]) -> impl Iterator<Item = &str> {
    let mut after_marker = false;
    args.iter().map(String::as_str).filter(move |a| {
        if after_marker {
            return true;
        }
        if *a == "--" {
            after_marker = true;
            return false;
        }
        !(a.len() > 1 && a.starts_with('-'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(s: &str) -> ShellCommand {
        let argv: Vec<String> = s.split_whitespace().map(String::from).collect();
        ShellCommand {
            program: argv.first().cloned().unwrap_or_default(),
            argv,
            ..ShellCommand::default()
        }
    }

    #[test]
    fn flag_patterns_match_any_spelling() {
        let p = ArgPattern::parse("-rf").unwrap();
        for yes in [
            "rm -rf /",
            "rm -fr /",
            "rm -r -f /",
            "rm / -f -R",
            "rm --recursive --force /",
        ] {
            assert!(p.matches(&cmd(yes)), "{yes}");
        }
        for no in ["rm -r /", "rm -f /", "rm /", "rm -- -rf", "rm rf"] {
            assert!(!p.matches(&cmd(no)), "{no}");
        }
    }

    #[test]
    fn operands_are_globs() {
        let p = ArgPattern::parse("/etc/*").unwrap();
        assert!(p.matches(&cmd("vi /etc/passwd")));
        assert!(!p.matches(&cmd("vi /etc/ssh/sshd_config")));
        let p = ArgPattern::parse("/etc/**").unwrap();
        assert!(p.matches(&cmd("vi /etc/ssh/sshd_config")));
        assert!(!p.matches(&cmd("vi /tmp/etc/passwd")));
        let any = ArgPattern::parse("0.0.0.0/0").unwrap();
        assert!(any.matches(&cmd("iptables -A INPUT -s 0.0.0.0/0 -j ACCEPT")));
        assert!(ArgPattern::parse("--").is_err());
    }
}
