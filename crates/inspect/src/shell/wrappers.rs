//! Programs that run other programs: wrappers (`sudo`, `env`, `timeout`, `xargs` ...),
//! shells with `-c`, interpreters with inline code, and builtins that evaluate text.
//!
//! For each known program this says what else runs ([`Effect`]) so that the real
//! command is inspected too. Must never let a wrapper hide the command it runs: when the
//! inner command cannot be known, the effect is [`Effect::Opaque`].

use super::interpreters::{interpreter, shell, SHELLS};
use super::lexer::Word;
use super::options::{command_option, options, rest, run_from, script_effect};
use super::remote::remote;

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
/// What else running `words` (program `program`, the basename of `words[0]`) runs.
pub(crate) fn effects<'w>(program: &str, words: &'w [Word]) -> Vec<Effect<'w>> {
    if SHELLS.contains(&program) {
        return shell(program, words);
    }
    if let Some(effects) = interpreter(program, words) {
        return effects;
    }
    if let Some(effects) = remote(program, words) {
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
        "nohup" | "builtin" | "setsid" | "coproc" => {
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
