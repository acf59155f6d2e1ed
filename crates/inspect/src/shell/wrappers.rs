//! Programs that run other programs: wrappers (`sudo`, `env`, `timeout`, `xargs` ...),
//! shells with `-c`, interpreters with inline code, and builtins that evaluate text.
//!
//! For each known program this says what else runs ([`Effect`]) so that the real
//! command is inspected too. Must never let a wrapper hide the command it runs: when the
//! inner command cannot be known, the effect is [`Effect::Opaque`].

use super::lexer::Word;

/// What running one simple command implies beyond the program itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Effect<'w> {
    /// These words are run as a command (`sudo rm -rf /` → `rm -rf /`).
    RunArgv { via: String, words: &'w [Word] },
    /// This word's text is run as shell code (`sh -c '...'`).
    RunScript { via: String, script: &'w Word },
    /// This text is run as shell code (`watch a b` runs `sh -c "a b"`).
    RunText { via: String, text: String },
    /// The effect cannot be known statically.
    Opaque(String),
    /// Worth recording, not a reason to distrust the line.
    Note(String),
}

/// Shells whose `-c STRING` runs STRING and which otherwise read a script or stdin.
const SHELLS: [&str; 14] = [
    "sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "rbash", "yash", "posh", "csh", "tcsh",
    "fish", "oksh",
];

/// Variables whose value changes which code runs for every later command.
pub(crate) const DANGEROUS_VARIABLES: [&str; 12] = [
    "PATH",
    "LD_PRELOAD",
    "LD_LIBRARY_PATH",
    "LD_AUDIT",
    "BASH_ENV",
    "ENV",
    "IFS",
    "SHELLOPTS",
    "BASHOPTS",
    "PS4",
    "PROMPT_COMMAND",
    "PYTHONSTARTUP",
];

/// Options as a getopt-style program reads them.
struct Options<'w> {
    /// (option name without dashes, value) in order.
    seen: Vec<(String, Option<&'w Word>)>,
    /// Index of the first operand (`words.len()` when there is none).
    operand: usize,
}

impl Options<'_> {
    fn has(&self, names: &[&str]) -> bool {
        self.seen.iter().any(|(n, _)| names.contains(&n.as_str()))
    }
}

/// Read options from `words[1..]` up to the first operand or `--`. `short_values` are
/// short options that take a value (attached or the next word), `long_values` long
/// ones (`--name=v` or `--name v`). `plus` also treats `+x` as an option (shells).
fn options<'w>(
    words: &'w [Word],
    short_values: &str,
    long_values: &[&str],
    plus: bool,
) -> Options<'w> {
    let mut seen = Vec::new();
    let mut i = 1;
    while let Some(w) = words.get(i) {
        let t = w.text.as_str();
        if t == "--" {
            i += 1;
            break;
        }
        if let Some(long) = t.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, _)) => (n, true),
                None => (long, false),
            };
            if !inline && long_values.contains(&name) {
                seen.push((name.to_string(), words.get(i + 1)));
                i += 2;
            } else {
                seen.push((name.to_string(), None));
                i += 1;
            }
            continue;
        }
        let is_option = t.len() > 1 && (t.starts_with('-') || (plus && t.starts_with('+')));
        if !is_option || w.dynamic {
            break;
        }
        i += 1;
        for (k, c) in t.char_indices().skip(1) {
            if short_values.contains(c) {
                if k + c.len_utf8() == t.len() {
                    seen.push((c.to_string(), words.get(i)));
                    i += 1;
                } else {
                    seen.push((c.to_string(), None));
                }
                break;
            }
            seen.push((c.to_string(), None));
        }
    }
    Options {
        seen,
        operand: i.min(words.len()),
    }
}

fn rest(words: &[Word], from: usize) -> &[Word] {
    words.get(from..).unwrap_or(&[])
}

/// Run the operands from `from` as a command, when there are any.
fn run_from<'w>(via: &str, words: &'w [Word], from: usize) -> Vec<Effect<'w>> {
    let inner = rest(words, from);
    if inner.is_empty() {
        return Vec::new();
    }
    vec![Effect::RunArgv {
        via: via.to_string(),
        words: inner,
    }]
}

/// A `-c`/`--command` value anywhere in the words (su, runuser, flock, script permute
/// their options).
fn command_option(words: &[Word]) -> Option<&Word> {
    let mut i = 1;
    while let Some(w) = words.get(i) {
        let t = w.text.as_str();
        if t == "--command" || t == "--session-command" {
            return words.get(i + 1);
        }
        if t.starts_with("--command=") || t.starts_with("--session-command=") {
            return Some(w);
        }
        if t.len() > 1 && t.starts_with('-') && !t.starts_with("--") && t.ends_with('c') {
            return words.get(i + 1);
        }
        i += 1;
    }
    None
}

/// A `--command=...` word stands for its value.
fn script_effect<'w>(via: &str, w: &'w Word) -> Effect<'w> {
    match w.text.split_once('=') {
        Some((opt, value)) if opt.starts_with("--") => Effect::RunText {
            via: via.to_string(),
            text: value.to_string(),
        },
        _ => Effect::RunScript {
            via: via.to_string(),
            script: w,
        },
    }
}

/// What else running `words` (program `program`, the basename of `words[0]`) runs.
pub(crate) fn effects<'w>(program: &str, words: &'w [Word]) -> Vec<Effect<'w>> {
    if SHELLS.contains(&program) {
        return shell(program, words);
    }
    if let Some(effects) = interpreter(program, words) {
        return effects;
    }
    match program {
        "sudo" => sudo(words),
        "doas" => {
            let o = options(words, "uC", &[], false);
            if o.operand >= words.len() {
                return vec![Effect::Opaque(
                    "doas without a command opens a shell".into(),
                )];
            }
            run_from("doas", words, o.operand)
        }
        "su" | "runuser" | "script" => match command_option(words) {
            Some(w) => vec![script_effect(&format!("{program} -c"), w)],
            None if program == "runuser" => {
                let o = options(
                    words,
                    "ugGw",
                    &["user", "group", "supp-group", "whitelist-environment"],
                    false,
                );
                if o.has(&["u", "user"]) && o.operand < words.len() {
                    run_from("runuser", words, o.operand)
                } else {
                    vec![Effect::Opaque(
                        "runuser without a command opens a shell".into(),
                    )]
                }
            }
            None => vec![Effect::Opaque(format!(
                "{program} without -c opens a shell reading its input"
            ))],
        },
        "env" => env(words),
        "nohup" | "builtin" | "setsid" => {
            let o = options(words, "", &[], false);
            run_from(program, words, o.operand)
        }
        "nice" => {
            let o = options(words, "n", &["adjustment"], false);
            run_from("nice", words, o.operand)
        }
        "timeout" => {
            let o = options(words, "sk", &["signal", "kill-after"], false);
            run_from("timeout", words, o.operand + 1)
        }
        "stdbuf" => {
            let o = options(words, "ioe", &["input", "output", "error"], false);
            run_from("stdbuf", words, o.operand)
        }
        "ionice" => {
            let o = options(
                words,
                "cnpPu",
                &["class", "classdata", "pid", "pgid", "uid"],
                false,
            );
            if o.has(&["p", "P", "u", "pid", "pgid", "uid"]) {
                return Vec::new();
            }
            run_from("ionice", words, o.operand)
        }
        "chroot" => {
            let o = options(words, "", &["userspec", "groups"], false);
            if o.operand + 1 >= words.len() {
                return vec![Effect::Opaque(
                    "chroot without a command opens a shell".into(),
                )];
            }
            run_from("chroot", words, o.operand + 1)
        }
        "flock" => match command_option(words) {
            Some(w) => vec![script_effect("flock -c", w)],
            None => {
                let o = options(
                    words,
                    "wE",
                    &["timeout", "wait", "conflict-exit-code"],
                    false,
                );
                run_from("flock", words, o.operand + 1)
            }
        },
        "taskset" => {
            let o = options(words, "", &[], false);
            if o.has(&["p", "pid"]) {
                return Vec::new();
            }
            run_from("taskset", words, o.operand + 1)
        }
        "time" => {
            let o = options(words, "fo", &["format", "output"], false);
            run_from("time", words, o.operand)
        }
        "command" => {
            let o = options(words, "", &[], false);
            if o.has(&["v", "V"]) {
                return Vec::new();
            }
            run_from("command", words, o.operand)
        }
        "exec" => {
            let o = options(words, "a", &[], false);
            run_from("exec", words, o.operand)
        }
        "busybox" => match words.get(1) {
            Some(w) if !w.text.starts_with('-') => run_from("busybox", words, 1),
            _ => Vec::new(),
        },
        "strace" | "ltrace" => {
            let o = options(words, "abeEIoOpPsSuUXn", &[], false);
            run_from(program, words, o.operand)
        }
        "watch" => watch(words),
        "xargs" => {
            let o = options(
                words,
                "adEILnPs",
                &[
                    "arg-file",
                    "delimiter",
                    "max-args",
                    "max-procs",
                    "max-chars",
                    "process-slot-var",
                ],
                false,
            );
            let mut out = run_from("xargs", words, o.operand);
            out.push(Effect::Opaque(
                "xargs appends arguments read from its input".into(),
            ));
            out
        }
        "find" => find(words),
        "eval" => {
            let mut out = vec![Effect::Opaque("eval runs text built at run time".into())];
            let text: Vec<&str> = rest(words, 1).iter().map(|w| w.text.as_str()).collect();
            if !text.is_empty() {
                out.push(Effect::RunText {
                    via: "eval".into(),
                    text: text.join(" "),
                });
            }
            out
        }
        "source" | "." => vec![Effect::Opaque(format!(
            "`{program}` runs commands from a file"
        ))],
        "trap" => vec![Effect::Opaque("trap stores code to run later".into())],
        "alias" | "enable" | "fc" => vec![Effect::Opaque(format!(
            "`{program}` changes what later words run"
        ))],
        "hash" if words.iter().any(|w| w.text.starts_with("-p")) => {
            vec![Effect::Opaque("hash -p rebinds a command name".into())]
        }
        "sudoedit" => vec![Effect::Note("sudoedit edits files as another user".into())],
        _ => Vec::new(),
    }
}

fn shell<'w>(program: &str, words: &'w [Word]) -> Vec<Effect<'w>> {
    let o = options(words, "oO", &["rcfile", "init-file"], true);
    if o.has(&["c"]) {
        return match words.get(o.operand) {
            Some(script) => vec![Effect::RunScript {
                via: format!("{program} -c"),
                script,
            }],
            None => vec![Effect::Note(format!(
                "{program} -c without a command string"
            ))],
        };
    }
    let only_info = !o.seen.is_empty()
        && o.seen
            .iter()
            .all(|(n, _)| matches!(n.as_str(), "version" | "help"));
    if only_info && o.operand >= words.len() {
        return Vec::new();
    }
    if o.operand < words.len() && !o.has(&["s"]) {
        return vec![Effect::Opaque(format!("{program} runs a script file"))];
    }
    vec![Effect::Opaque(format!(
        "{program} reads commands from its input"
    ))]
}

fn sudo(words: &[Word]) -> Vec<Effect<'_>> {
    let o = options(
        words,
        "aCcDgpRrTtUu",
        &[
            "auth-type",
            "close-from",
            "login-class",
            "chdir",
            "group",
            "prompt",
            "chroot",
            "role",
            "type",
            "command-timeout",
            "other-user",
            "user",
        ],
        false,
    );
    if o.has(&["e", "edit"]) {
        return vec![Effect::Note("sudo -e edits files as another user".into())];
    }
    if o.operand >= words.len() {
        if o.has(&["s", "i", "shell", "login"]) {
            return vec![Effect::Opaque(
                "sudo opens a shell reading its input".into(),
            )];
        }
        return Vec::new();
    }
    run_from("sudo", words, o.operand)
}

fn env(words: &[Word]) -> Vec<Effect<'_>> {
    let o = options(words, "uCSP", &["unset", "chdir", "split-string"], false);
    let mut out = Vec::new();
    let mut i = o.operand;
    // `env -` is `env -i`.
    if words.get(i).is_some_and(|w| w.text == "-") {
        i += 1;
    }
    while let Some(w) = words.get(i) {
        let Some((name, _)) = w.text.split_once('=') else {
            break;
        };
        if DANGEROUS_VARIABLES.contains(&name) {
            out.push(Effect::Opaque(format!(
                "env sets {name}, which changes what runs"
            )));
        }
        i += 1;
    }
    if let Some((_, split)) = o.seen.iter().find(|(n, _)| n == "S" || n == "split-string") {
        let mut text: Vec<String> = split.iter().map(|w| w.text.clone()).collect();
        if split.is_none() {
            // `-Sstring` or `--split-string=string`: the value is attached.
            let attached = words.iter().skip(1).find_map(|w| {
                w.text
                    .strip_prefix("--split-string=")
                    .or_else(|| w.text.strip_prefix("-S"))
                    .map(str::to_string)
            });
            text.extend(attached);
        }
        text.extend(rest(words, i).iter().map(|w| w.text.clone()));
        out.push(Effect::RunText {
            via: "env -S".into(),
            text: text.join(" "),
        });
        return out;
    }
    out.extend(run_from("env", words, i));
    out
}

fn watch(words: &[Word]) -> Vec<Effect<'_>> {
    let o = options(words, "nq", &["interval", "equexit"], false);
    if o.has(&["x", "exec"]) {
        return run_from("watch -x", words, o.operand);
    }
    let text: Vec<&str> = rest(words, o.operand)
        .iter()
        .map(|w| w.text.as_str())
        .collect();
    if text.is_empty() {
        return Vec::new();
    }
    if rest(words, o.operand).iter().any(|w| w.dynamic) {
        return vec![Effect::Opaque("watch runs an expanded command".into())];
    }
    vec![Effect::RunText {
        via: "watch".into(),
        text: text.join(" "),
    }]
}

fn find(words: &[Word]) -> Vec<Effect<'_>> {
    let mut out = Vec::new();
    let mut i = 1;
    while let Some(w) = words.get(i) {
        i += 1;
        match w.text.as_str() {
            "-exec" | "-execdir" | "-ok" | "-okdir" => {
                let start = i;
                while words.get(i).is_some_and(|w| w.text != ";" && w.text != "+") {
                    i += 1;
                }
                if i > start {
                    out.push(Effect::RunArgv {
                        via: "find -exec".into(),
                        words: &words[start..i],
                    });
                }
                out.push(Effect::Opaque(
                    "find -exec runs a command for every file found".into(),
                ));
                i += 1;
            }
            "-delete" => out.push(Effect::Opaque(
                "find -delete removes every file found".into(),
            )),
            _ => {}
        }
    }
    out
}

/// Interpreters: inline code or code read from stdin is opaque; a script file is not.
fn interpreter<'w>(program: &str, words: &'w [Word]) -> Option<Vec<Effect<'w>>> {
    let (short_values, inline): (&str, &[&str]) = match program {
        p if p.starts_with("python") || p.starts_with("pypy") => ("mWXQ", &["c"]),
        p if p.starts_with("perl") => ("", &["e", "E"]),
        p if p.starts_with("ruby") => ("", &["e"]),
        "node" | "nodejs" | "bun" => ("r", &["e", "p", "eval", "print"]),
        "deno" => return Some(deno(words)),
        p if p.starts_with("php") => ("dcfz", &["r", "R", "B", "E", "F"]),
        "lua" | "luajit" => ("l", &["e"]),
        "Rscript" | "R" => ("", &["e", "expr"]),
        "osascript" => ("", &["e"]),
        "tclsh" | "wish" | "expect" | "jshell" | "irb" | "ghci" => ("c", &["c"]),
        "pwsh" | "powershell" | "powershell.exe" => return Some(powershell(words)),
        "awk" | "gawk" | "mawk" | "nawk" => return Some(awk(program, words)),
        _ => return None,
    };
    let o = options(words, short_values, &[], false);
    if let Some((flag, _)) = o.seen.iter().find(|(n, _)| inline.contains(&n.as_str())) {
        return Some(vec![Effect::Opaque(format!(
            "{program} -{flag} runs inline code"
        ))]);
    }
    let info_only = !o.seen.is_empty()
        && o.seen
            .iter()
            .all(|(n, _)| matches!(n.as_str(), "V" | "v" | "version" | "help" | "h"));
    if o.operand >= words.len() && !info_only && !o.has(&["m"]) {
        return Some(vec![Effect::Opaque(format!(
            "{program} reads code from its input"
        ))]);
    }
    if words.get(o.operand).is_some_and(|w| w.text == "-") {
        return Some(vec![Effect::Opaque(format!(
            "{program} reads code from its input"
        ))]);
    }
    Some(Vec::new())
}

fn deno(words: &[Word]) -> Vec<Effect<'_>> {
    match words.get(1).map(|w| w.text.as_str()) {
        Some("eval" | "repl") | None => vec![Effect::Opaque("deno runs inline code".into())],
        _ => Vec::new(),
    }
}

fn powershell(words: &[Word]) -> Vec<Effect<'_>> {
    let inline = words.iter().skip(1).any(|w| {
        let t = w.text.to_ascii_lowercase();
        t.starts_with("-c") || t.starts_with("-e") || t.starts_with("/c") || t.starts_with("/e")
    });
    let has_file = words
        .iter()
        .skip(1)
        .any(|w| w.text.to_ascii_lowercase().starts_with("-f"));
    if inline || !has_file {
        return vec![Effect::Opaque("powershell runs inline code".into())];
    }
    Vec::new()
}

fn awk<'w>(program: &str, words: &'w [Word]) -> Vec<Effect<'w>> {
    let o = options(
        words,
        "Fvfil",
        &["field-separator", "assign", "file", "include", "load"],
        false,
    );
    if o.has(&["f", "file"]) {
        return vec![Effect::Note(format!("{program} runs a program file"))];
    }
    let Some(code) = words.get(o.operand) else {
        return Vec::new();
    };
    let t = &code.text;
    if t.contains("system") || t.contains('|') || t.contains("getline") || code.dynamic {
        return vec![Effect::Opaque(format!(
            "{program} program can run commands"
        ))];
    }
    Vec::new()
}
