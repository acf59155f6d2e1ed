//! Command-line flags as a program reads them, so policy can ask "is `-rf` set?" and
//! get the same answer for `-rf`, `-fr`, `-r -f`, `-Rf` and `--recursive --force`.
//!
//! Over-approximates on purpose (an unknown cluster like `-n5` counts every letter, a
//! long option prefix counts as the option): a deny rule must not miss a respelling.

use std::collections::BTreeSet;

/// One flag of a known program: canonical name, short letters, long names, and the
/// flags it implies (`cp -a` is recursive).
struct FlagDef {
    canonical: &'static str,
    short: &'static str,
    long: &'static [&'static str],
    implies: &'static [&'static str],
}

const fn flag(
    canonical: &'static str,
    short: &'static str,
    long: &'static [&'static str],
) -> FlagDef {
    FlagDef {
        canonical,
        short,
        long,
        implies: &[],
    }
}

const RM: &[FlagDef] = &[
    flag("recursive", "rR", &["recursive"]),
    flag("force", "f", &["force"]),
    flag("dir", "d", &["dir"]),
    flag("interactive", "iI", &["interactive"]),
    flag("no-preserve-root", "", &["no-preserve-root"]),
];
const CP: &[FlagDef] = &[
    flag("recursive", "rR", &["recursive"]),
    flag("force", "f", &["force"]),
    FlagDef {
        canonical: "archive",
        short: "a",
        long: &["archive"],
        implies: &["recursive"],
    },
];
const MV: &[FlagDef] = &[flag("force", "f", &["force"])];
const CHMOD: &[FlagDef] = &[flag("recursive", "R", &["recursive"])];
const LN: &[FlagDef] = &[
    flag("force", "f", &["force"]),
    flag("symbolic", "s", &["symbolic"]),
];
const RSYNC: &[FlagDef] = &[
    flag("recursive", "r", &["recursive"]),
    FlagDef {
        canonical: "archive",
        short: "a",
        long: &["archive"],
        implies: &["recursive"],
    },
    flag("delete", "", &["delete"]),
];
const GIT: &[FlagDef] = &[flag("force", "f", &["force"])];
const SHRED: &[FlagDef] = &[
    flag("remove", "u", &["remove"]),
    flag("force", "f", &["force"]),
    flag("zero", "z", &["zero"]),
];
const MKDIR: &[FlagDef] = &[flag("parents", "p", &["parents"])];

fn table(program: &str) -> &'static [FlagDef] {
    match program {
        "rm" => RM,
        "cp" => CP,
        "mv" => MV,
        "chmod" | "chown" | "chgrp" => CHMOD,
        "ln" => LN,
        "rsync" => RSYNC,
        "git" => GIT,
        "shred" => SHRED,
        "mkdir" => MKDIR,
        _ => &[],
    }
}

fn canonical_short(defs: &[FlagDef], c: char) -> String {
    defs.iter()
        .find(|d| d.short.contains(c))
        .map_or_else(|| format!("-{c}"), |d| d.canonical.to_string())
}

fn canonical_long(defs: &[FlagDef], name: &str) -> String {
    let exact = defs.iter().find(|d| d.long.contains(&name));
    // GNU getopt accepts unambiguous prefixes: `--rec` is `--recursive`.
    let prefix = || {
        (!name.is_empty())
            .then(|| {
                defs.iter()
                    .find(|d| d.long.iter().any(|l| l.starts_with(name)))
            })
            .flatten()
    };
    exact
        .or_else(prefix)
        .map_or_else(|| format!("--{name}"), |d| d.canonical.to_string())
}

/// Canonical flags set on a command line (`argv` without the program), with
/// implications applied. Arguments after `--` are operands.
pub(crate) fn flags_of(program: &str, args: &[String]) -> BTreeSet<String> {
    let defs = table(program);
    let mut set = BTreeSet::new();
    for a in args.iter().take_while(|a| *a != "--") {
        if let Some(long) = a.strip_prefix("--") {
            let name = long.split_once('=').map_or(long, |(n, _)| n);
            set.insert(canonical_long(defs, name));
        } else if let Some(short) = a.strip_prefix('-') {
            set.extend(short.chars().map(|c| canonical_short(defs, c)));
        }
    }
    let implied: Vec<String> = defs
        .iter()
        .filter(|d| set.contains(d.canonical))
        .flat_map(|d| d.implies.iter().map(|s| s.to_string()))
        .collect();
    set.extend(implied);
    set
}

/// Canonical flags a policy pattern asks for (`-rf`, `--force`, `-r -f`); `None` when a
/// part of the pattern is not a flag.
pub(crate) fn wanted(program: &str, pattern: &str) -> Option<BTreeSet<String>> {
    let defs = table(program);
    let mut set = BTreeSet::new();
    for part in pattern.split_whitespace() {
        if let Some(long) = part.strip_prefix("--").filter(|l| !l.is_empty()) {
            set.insert(canonical_long(defs, long));
        } else if let Some(short) = part.strip_prefix('-').filter(|s| !s.is_empty()) {
            set.extend(short.chars().map(|c| canonical_short(defs, c)));
        } else {
            return None;
        }
    }
    (!set.is_empty()).then_some(set)
}
