//! The paths a simple command writes: output redirections and the files well-known
//! programs create, change or remove through their arguments (`tee F`, `cp … DEST`,
//! `mv SRC… DEST`, `install`, `ln`, `dd of=F`, `sed -i … F`, `truncate`, `touch`, `rm`,
//! `chmod`/`chown`, `tar -x -C DIR`, `rsync … DEST`, `curl -o F`, editors, account
//! tools …). Paths are made absolute against the directory a preceding `cd` chose (or
//! the login directory, written `~`) and `.`/`..` are resolved lexically, so
//! `cd /etc && tee hosts` and `/tmp/../etc/hosts` both write `/etc/hosts`.
//!
//! Limits, documented in docs/policy-language.md: symbolic links are not followed (no
//! I/O here); programs not listed write nothing as far as this module knows; a relative
//! path that climbs above an unknown directory cannot be placed and is reported as
//! `None` (the caller makes the line opaque). Pure: never reads the file system.

use super::analyze::basename;
use super::place::resolve;
pub(crate) use super::place::{cd, Cwd};

/// The file an output redirection writes to (`>/etc/hosts`, `2>> log`, `&>out`), or
/// `None` for input redirections, here-documents and fd duplications (`2>&1`).
pub fn output_target(redirect: &str) -> Option<&str> {
    let r = redirect.trim_start_matches(|c: char| c.is_ascii_digit());
    let target = ["&>>", "&>", ">>", ">|", ">"]
        .iter()
        .find_map(|op| r.strip_prefix(op))?;
    let target = target.trim_start();
    (!target.is_empty() && !target.starts_with('&')).then_some(target)
}

/// Options and operands of one command line, GNU style (options may follow operands;
/// `--` ends options). `short_values`: short options that take a value; `long_values`:
/// long options that take one (as `--x=V` or `--x V`).
struct Parsed<'a> {
    operands: Vec<&'a str>,
    opts: Vec<(String, Option<&'a str>)>,
}

impl<'a> Parsed<'a> {
    fn value(&self, names: &[&str]) -> Option<&'a str> {
        self.opts
            .iter()
            .rev()
            .find(|(n, v)| names.contains(&n.as_str()) && v.is_some())
            .and_then(|(_, v)| *v)
    }

    fn has(&self, names: &[&str]) -> bool {
        self.opts.iter().any(|(n, _)| names.contains(&n.as_str()))
    }
}

fn parse<'a>(args: &'a [String], short_values: &str, long_values: &[&str]) -> Parsed<'a> {
    let mut p = Parsed {
        operands: Vec::new(),
        opts: Vec::new(),
    };
    let mut i = 0;
    let mut only_operands = false;
    while i < args.len() {
        let a = args[i].as_str();
        i += 1;
        if only_operands || a == "-" || !a.starts_with('-') {
            p.operands.push(a);
        } else if a == "--" {
            only_operands = true;
        } else if let Some(long) = a.strip_prefix("--") {
            match long.split_once('=') {
                Some((n, v)) => p.opts.push((n.to_string(), Some(v))),
                None if long_values.contains(&long) => {
                    p.opts
                        .push((long.to_string(), args.get(i).map(String::as_str)));
                    i += 1;
                }
                None => p.opts.push((long.to_string(), None)),
            }
        } else {
            for (at, c) in a[1..].char_indices() {
                if short_values.contains(c) {
                    let rest = &a[1 + at + c.len_utf8()..];
                    if rest.is_empty() {
                        p.opts
                            .push((c.to_string(), args.get(i).map(String::as_str)));
                        i += 1;
                    } else {
                        p.opts.push((c.to_string(), Some(rest)));
                    }
                    break;
                }
                p.opts.push((c.to_string(), None));
            }
        }
    }
    p
}

/// `-t DIR` / `--target-directory=DIR`, else the last operand of at least two.
fn target_or_last<'a>(p: &Parsed<'a>) -> Vec<&'a str> {
    if let Some(t) = p.value(&["t", "target-directory"]) {
        return vec![t];
    }
    if p.operands.len() >= 2 {
        return p.operands.last().copied().into_iter().collect();
    }
    Vec::new()
}

const EDITORS: [&str; 12] = [
    "vi", "vim", "nvim", "nano", "emacs", "ed", "ex", "pico", "joe", "micro", "mcedit", "sudoedit",
];

const ACCOUNT_TOOLS: [&str; 12] = [
    "useradd", "usermod", "userdel", "adduser", "deluser", "groupadd", "groupmod", "groupdel",
    "passwd", "chpasswd", "chsh", "gpasswd",
];

/// Paths (as written) that `program` writes through its arguments `args`; `"."` means
/// "files in the current directory".
fn written<'a>(program: &str, args: &'a [String]) -> Vec<&'a str> {
    match program {
        "tee" | "sponge" | "rm" | "rmdir" | "unlink" | "mkfifo" => parse(args, "", &[])
            .operands
            .into_iter()
            .filter(|o| *o != "-")
            .collect(),
        "touch" => parse(args, "drt", &["date", "reference", "time"]).operands,
        "mkdir" => parse(args, "m", &["mode", "context"]).operands,
        "shred" => parse(args, "ns", &["iterations", "size", "random-source"]).operands,
        "truncate" => parse(args, "sro", &["size", "reference"]).operands,
        "mknod" => parse(args, "m", &["mode", "context"])
            .operands
            .into_iter()
            .take(1)
            .collect(),
        "cp" => target_or_last(&parse(args, "St", &["suffix", "target-directory"])),
        "ln" | "link" => {
            let p = parse(args, "St", &["suffix", "target-directory"]);
            match (p.operands.as_slice(), p.value(&["t", "target-directory"])) {
                (_, Some(t)) => vec![t],
                ([one], None) => vec![basename(one)],
                _ => target_or_last(&p),
            }
        }
        "mv" => {
            let p = parse(args, "St", &["suffix", "target-directory"]);
            let target = p.value(&["t", "target-directory"]);
            let mut out = p.operands;
            out.extend(target);
            out
        }
        "install" => {
            let p = parse(
                args,
                "mogSt",
                &[
                    "mode",
                    "owner",
                    "group",
                    "suffix",
                    "target-directory",
                    "strip-program",
                ],
            );
            if p.has(&["d", "directory"]) {
                p.operands
            } else {
                target_or_last(&p)
            }
        }
        "dd" => args.iter().filter_map(|a| a.strip_prefix("of=")).collect(),
        "sed" | "gsed" => sed(args),
        "chmod" => chmod(args),
        "chown" | "chgrp" | "chattr" | "setfacl" | "chcon" => {
            let p = match program {
                "chattr" => parse(args, "vp", &[]),
                "setfacl" => parse(
                    args,
                    "mMxX",
                    &[
                        "modify",
                        "modify-file",
                        "remove",
                        "remove-file",
                        "set",
                        "set-file",
                    ],
                ),
                _ => parse(args, "", &["from", "reference"]),
            };
            let skip = usize::from(
                matches!(program, "chown" | "chgrp" | "chcon") && p.value(&["reference"]).is_none(),
            );
            p.operands
                .into_iter()
                .skip(skip)
                .filter(|o| !(program == "chattr" && (o.starts_with('+') || o.starts_with('='))))
                .collect()
        }
        "sort" => parse(
            args,
            "koSTt",
            &[
                "key",
                "output",
                "buffer-size",
                "temporary-directory",
                "field-separator",
                "files0-from",
                "batch-size",
                "parallel",
                "compress-program",
            ],
        )
        .value(&["o", "output"])
        .into_iter()
        .collect(),
        "curl" => {
            let mut out = Vec::new();
            let mut it = args.iter();
            while let Some(a) = it.next() {
                if a == "-o" || a == "--output" || a == "--output-dir" {
                    out.extend(it.next().map(String::as_str));
                }
            }
            out
        }
        "wget" => {
            let p = parse(
                args,
                "OPo",
                &["output-document", "directory-prefix", "output-file"],
            );
            p.value(&["O", "output-document"])
                .into_iter()
                .chain(p.value(&["P", "directory-prefix"]))
                .collect()
        }
        "rsync" => rsync(args),
        "tar" | "gtar" | "bsdtar" => tar(args),
        "unzip" => {
            let p = parse(args, "dx", &[]);
            vec![p.value(&["d"]).unwrap_or(".")]
        }
        "patch" => {
            let p = parse(
                args,
                "dioBDFgpVYzr",
                &[
                    "directory",
                    "input",
                    "output",
                    "prefix",
                    "strip",
                    "reject-file",
                ],
            );
            match (
                p.value(&["o", "output"]),
                p.value(&["d", "directory"]),
                p.operands.first(),
            ) {
                (Some(o), _, _) => vec![o],
                (None, Some(d), _) => vec![d],
                (None, None, Some(f)) => vec![*f],
                _ => vec!["."],
            }
        }
        "find" => {
            let deletes = args.iter().any(|a| a == "-delete");
            let mut out: Vec<&str> = Vec::new();
            if deletes {
                out.extend(
                    args.iter()
                        .take_while(|a| !a.starts_with('-') && !a.starts_with('(') && *a != "!")
                        .map(String::as_str),
                );
            }
            let mut it = args.iter();
            while let Some(a) = it.next() {
                if matches!(a.as_str(), "-fprint" | "-fprint0" | "-fls" | "-fprintf") {
                    out.extend(it.next().map(String::as_str));
                }
            }
            out
        }
        "visudo" => {
            let p = parse(args, "f", &["file"]);
            vec![p.value(&["f", "file"]).unwrap_or("/etc/sudoers")]
        }
        "systemctl" => {
            let changes = args.iter().any(|a| {
                matches!(
                    a.as_str(),
                    "enable"
                        | "disable"
                        | "edit"
                        | "mask"
                        | "unmask"
                        | "set-default"
                        | "link"
                        | "preset"
                        | "preset-all"
                        | "revert"
                        | "add-wants"
                        | "add-requires"
                        | "set-property"
                )
            });
            if changes {
                vec!["/etc/systemd/system"]
            } else {
                Vec::new()
            }
        }
        p if EDITORS.contains(&p) => args
            .iter()
            .filter(|a| !a.starts_with('-') && !a.starts_with('+'))
            .map(String::as_str)
            .collect(),
        p if ACCOUNT_TOOLS.contains(&p) => {
            vec!["/etc/passwd", "/etc/shadow", "/etc/group", "/etc/gshadow"]
        }
        _ => Vec::new(),
    }
}

/// `chmod [flags] MODE FILE…` (a mode may look like a flag: `-w`) or
/// `chmod --reference=R FILE…`: the files.
fn chmod(args: &[String]) -> Vec<&str> {
    let mut operands = Vec::new();
    let mut reference = false;
    let mut only_operands = false;
    for a in args {
        let flag = !only_operands
            && a.starts_with('-')
            && (a.starts_with("--") || a[1..].chars().all(|c| "cfvR".contains(c)));
        if a == "--" && !only_operands {
            only_operands = true;
        } else if flag {
            reference |= a.starts_with("--reference");
        } else {
            operands.push(a.as_str());
        }
    }
    operands.into_iter().skip(usize::from(!reference)).collect()
}

/// `sed -i` edits its file operands in place (the first operand is the script unless
/// `-e`/`-f` gave it); without `-i` sed writes nothing but its output.
fn sed(args: &[String]) -> Vec<&str> {
    // GNU takes `-i` with an optional attached suffix (`-i.bak`, `-ibak`): split it off
    // so that the suffix is not read as more flags.
    let normalised: Vec<String> = args
        .iter()
        .map(|a| match a.find('i') {
            Some(at)
                if a.starts_with('-')
                    && !a.starts_with("--")
                    && !a[1..at].contains(['e', 'f', 'l']) =>
            {
                a[..=at].to_string()
            }
            _ => a.clone(),
        })
        .collect();
    let p = parse(&normalised, "efl", &["expression", "file", "line-length"]);
    let in_place =
        p.has(&["i", "in-place"]) || p.opts.iter().any(|(n, _)| n.starts_with("in-place"));
    if !in_place {
        return Vec::new();
    }
    let script_given = p.has(&["e", "expression", "f", "file"]);
    let files: Vec<&str> = p
        .operands
        .iter()
        .skip(usize::from(!script_given))
        .copied()
        .collect();
    files
        .into_iter()
        .filter_map(|f| args.iter().find(|a| a.as_str() == f).map(String::as_str))
        .collect()
}

/// `rsync … SRC… DEST` writes DEST (unless it is remote, `host:path`); the server side
/// of `rsync -e ssh` (`rsync --server [--sender] … . PATH`) writes PATH unless it is the
/// sender.
fn rsync(args: &[String]) -> Vec<&str> {
    if args.iter().any(|a| a == "--server") {
        if args.iter().any(|a| a == "--sender") {
            return Vec::new();
        }
        return args.last().map(String::as_str).into_iter().collect();
    }
    let p = parse(
        args,
        "eBfMT",
        &[
            "rsh",
            "rsync-path",
            "filter",
            "exclude",
            "include",
            "exclude-from",
            "include-from",
            "files-from",
            "temp-dir",
            "compare-dest",
            "copy-dest",
            "link-dest",
            "backup-dir",
            "suffix",
            "chmod",
            "chown",
            "log-file",
            "password-file",
            "partial-dir",
        ],
    );
    match p.operands.as_slice() {
        [_, .., dest] if !is_remote(dest) => vec![*dest],
        _ => Vec::new(),
    }
}

fn is_remote(path: &str) -> bool {
    path.starts_with("rsync://")
        || path
            .split('/')
            .next()
            .is_some_and(|head| head.contains(':'))
}

/// `tar -x`/`--extract` (also the old `tar xzf F` form) writes into `-C DIR` or the
/// current directory.
fn tar(args: &[String]) -> Vec<&str> {
    let old_style = args
        .first()
        .is_some_and(|a| !a.starts_with('-') && a.contains('x'));
    let p = parse(
        args,
        "fCbHIKLNTVgX",
        &[
            "file",
            "directory",
            "blocking-factor",
            "format",
            "use-compress-program",
            "starting-file",
            "newer",
            "tape-length",
            "files-from",
            "volno-file",
            "listed-incremental",
            "exclude-from",
            "exclude",
            "owner",
            "group",
            "mode",
            "transform",
        ],
    );
    let extracts = old_style || p.has(&["x", "extract", "get"]);
    if !extracts {
        return Vec::new();
    }
    vec![p.value(&["C", "directory"]).unwrap_or(".")]
}

/// The paths `program args` writes, placed against `cwd`, plus its redirections' targets.
/// `Err(path)` names the first path that cannot be placed.
pub(crate) fn writes(
    cwd: &Cwd,
    program: &str,
    args: &[String],
    redirects: &[String],
) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    let raw = written(program, args)
        .into_iter()
        .chain(redirects.iter().filter_map(|r| output_target(r)));
    for path in raw {
        if matches!(path, "/dev/null" | "/dev/stdout" | "/dev/stderr") {
            continue;
        }
        // A pattern in a folder part (`/e*/hosts`) can expand to any folder.
        if path
            .rsplit_once('/')
            .is_some_and(|(dir, _)| dir.contains(['*', '?', '[']))
        {
            return Err(path.to_string());
        }
        match resolve(cwd, path) {
            Some(p) if !out.contains(&p) => out.push(p),
            Some(_) => {}
            None => return Err(path.to_string()),
        }
    }
    Ok(out)
}
