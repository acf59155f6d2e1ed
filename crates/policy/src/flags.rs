//! `ssh.args` patterns: command-line flags and operand globs.
//!
//! A flag pattern such as `-rf` holds when every one of its letters is set on the
//! command line, however it is spelled: `-rf`, `-fr`, `-r -f`, or long options whose
//! first letter is the flag (`--recursive --force`). This over-approximates (a long
//! option counts for its first letter) on purpose: a deny or hold rule must not miss a
//! respelled flag. `--long` patterns match `--long` and `--long=value` exactly. Anything
//! else is a glob matched against each operand (non-flag argument).

use globset::{Glob, GlobMatcher};

/// One compiled entry of `ssh.args`.
#[derive(Debug, Clone)]
pub enum ArgPattern {
    /// `-rf`: all these short letters present.
    Short(Vec<char>),
    /// `--force`: this long option present.
    Long(String),
    /// An operand glob (`/etc/**`, `0.0.0.0/0`).
    Operand(GlobMatcher),
}

impl ArgPattern {
    /// Compile one pattern; `Err` carries the glob error text.
    pub fn parse(pattern: &str) -> Result<ArgPattern, String> {
        if let Some(long) = pattern.strip_prefix("--") {
            if long.is_empty() {
                return Err("`--` is not a flag".into());
            }
            return Ok(ArgPattern::Long(long.to_string()));
        }
        if let Some(short) = pattern.strip_prefix('-') {
            if !short.is_empty() {
                return Ok(ArgPattern::Short(short.chars().collect()));
            }
        }
        Glob::new(pattern)
            .map(|g| ArgPattern::Operand(g.compile_matcher()))
            .map_err(|e| e.to_string())
    }

    /// True when the arguments (argv without the program) satisfy this pattern.
    pub fn matches(&self, args: &[String]) -> bool {
        match self {
            ArgPattern::Short(letters) => letters.iter().all(|c| has_short(args, *c)),
            ArgPattern::Long(name) => options(args).any(|a| {
                a.strip_prefix("--").is_some_and(|l| {
                    l == name
                        || l.strip_prefix(name.as_str())
                            .is_some_and(|r| r.starts_with('='))
                })
            }),
            ArgPattern::Operand(glob) => operands(args).any(|a| glob.is_match(a)),
        }
    }
}

/// Arguments before a `--` end-of-options marker that look like options.
fn options(args: &[String]) -> impl Iterator<Item = &str> {
    args.iter()
        .map(String::as_str)
        .take_while(|a| *a != "--")
        .filter(|a| a.len() > 1 && a.starts_with('-'))
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

fn has_short(args: &[String], c: char) -> bool {
    options(args).any(|a| match a.strip_prefix("--") {
        Some(long) => long.starts_with(c),
        None => a[1..].contains(c),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn short_flags_match_any_spelling() {
        let p = ArgPattern::parse("-rf").unwrap();
        for yes in [
            "-rf /",
            "-fr /",
            "-r -f /",
            "/ -f -r",
            "--recursive --force /",
            "-vrf x",
        ] {
            assert!(p.matches(&args(yes)), "{yes}");
        }
        for no in ["-r /", "-f /", "/", "-- -rf", "rf"] {
            assert!(!p.matches(&args(no)), "{no}");
        }
    }

    #[test]
    fn long_flags_match_exactly() {
        let p = ArgPattern::parse("--force").unwrap();
        assert!(p.matches(&args("--force x")));
        assert!(p.matches(&args("--force=yes x")));
        assert!(!p.matches(&args("--forceful x")));
        assert!(!p.matches(&args("-f x")));
    }

    #[test]
    fn operands_are_globs() {
        let p = ArgPattern::parse("/etc/*").unwrap();
        assert!(p.matches(&args("-i /etc/passwd")));
        assert!(!p.matches(&args("/tmp/etc/passwd")));
        let any = ArgPattern::parse("0.0.0.0/0").unwrap();
        assert!(any.matches(&args("-A INPUT -s 0.0.0.0/0 -j ACCEPT")));
    }
}
