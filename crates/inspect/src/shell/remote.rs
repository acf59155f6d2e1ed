//! Programs that run a command somewhere else (`ssh host CMD`, `kubectl exec POD -- CMD`,
//! `docker exec CTR CMD`) or run code passed in an option (`nc -e`, `socat EXEC:`,
//! `tar --to-command`, `rsync -e`, `vim -c`, `make --eval`, `gdb -ex`, `less +CMD`, `at`). The remote command is inspected as
//! if run here; code hidden in an option is opaque. Never reports such a program as a
//! plain one when it can run arbitrary commands.

use super::lexer::Word;
use super::options::{options, rest, run_from};
use super::wrappers::Effect;

/// Effects of remote-execution and code-in-option programs; `None` for other programs.
pub(crate) fn remote<'w>(program: &str, words: &'w [Word]) -> Option<Vec<Effect<'w>>> {
    let effects = match program {
        "ssh" => ssh(words),
        "kubectl" | "oc" => kubectl(program, words),
        "docker" | "podman" | "nerdctl" => container_exec(program, words),
        "nc" | "ncat" | "netcat" => code_option(
            program,
            words,
            &["-e", "-c", "--exec", "--sh-exec", "--lua-exec"],
        ),
        "socat" => {
            let runs = words.iter().skip(1).any(|w| {
                let t = w.text.to_ascii_lowercase();
                t.starts_with("exec:") || t.starts_with("system:")
            });
            opaque_if(runs, "socat EXEC:/SYSTEM: runs a command")
        }
        "tar" | "gtar" | "bsdtar" => code_option(
            program,
            words,
            &[
                "--to-command",
                "--checkpoint-action",
                "--use-compress-program",
                "-I",
                "--info-script",
                "--new-volume-script",
                "-F",
            ],
        ),
        "rsync" => code_option(program, words, &["-e", "--rsh", "--rsync-path"]),
        "vi" | "vim" | "nvim" | "ex" | "view" => {
            let runs = words.iter().skip(1).any(|w| {
                w.text == "-c" || w.text.starts_with('+') || w.text == "--cmd" || w.text == "-S"
            });
            opaque_if(runs, "the editor runs commands given on its command line")
        }
        "make" | "gmake" | "bmake" => code_option(program, words, &["--eval", "-E"]),
        "gdb" | "cgdb" | "gdb-multiarch" => code_option(
            program,
            words,
            &["-ex", "-iex", "--eval-command", "--init-eval-command"],
        ),
        "less" | "more" | "most" => {
            let runs = words.iter().skip(1).any(|w| w.text.starts_with('+'));
            opaque_if(runs, "the pager runs commands given on its command line")
        }
        "at" | "batch" => vec![Effect::Opaque(format!(
            "{program} schedules commands read from its input"
        ))],
        "crontab" => {
            let lists = words
                .iter()
                .skip(1)
                .all(|w| w.text == "-l" || w.text.starts_with("-u"));
            opaque_if(
                !lists || words.len() == 1,
                "crontab installs commands to run later",
            )
        }
        "git" => {
            let runs = words.iter().skip(1).any(|w| {
                w.text == "-c"
                    || w.text.starts_with("--config-env")
                    || w.text.starts_with("--exec-path")
                    || w.text.starts_with("--upload-pack")
                    || w.text.starts_with("--receive-pack")
            });
            opaque_if(
                runs,
                "git configuration on the command line can run commands",
            )
        }
        _ => return None,
    };
    Some(effects)
}

fn opaque_if(cond: bool, why: &str) -> Vec<Effect<'static>> {
    if cond {
        vec![Effect::Opaque(why.to_string())]
    } else {
        Vec::new()
    }
}

/// Opaque when any of `opts` is present (`-e x`, `-ex`, `--opt=x`, `--opt x`).
fn code_option<'w>(program: &str, words: &'w [Word], opts: &[&str]) -> Vec<Effect<'w>> {
    let runs = words.iter().skip(1).any(|w| {
        opts.iter().any(|o| {
            w.text == *o
                || (o.starts_with("--") && w.text.starts_with(&format!("{o}=")))
                || (!o.starts_with("--") && w.text.starts_with(o) && !w.text.starts_with("--"))
        })
    });
    opaque_if(
        runs,
        &format!("{program} runs a command given in an option"),
    )
}

/// `ssh [options] host [command ...]`: the command words are joined and run by the
/// remote user's shell.
fn ssh(words: &[Word]) -> Vec<Effect<'_>> {
    let o = options(words, "BbcDEeFIiJLlmOoPpQRSWw", &[], false);
    let mut out = Vec::new();
    let proxy = o.seen.iter().any(|(n, v)| {
        n == "o"
            && v.is_some_and(|v| {
                let t = v.text.to_ascii_lowercase();
                t.starts_with("proxycommand")
                    || t.starts_with("localcommand")
                    || t.starts_with("permitlocalcommand")
            })
    });
    if proxy
        || words
            .iter()
            .any(|w| w.text.to_ascii_lowercase().starts_with("-oproxycommand"))
    {
        out.push(Effect::Opaque(
            "ssh -o ProxyCommand/LocalCommand runs a local command".into(),
        ));
    }
    let command = rest(words, o.operand + 1);
    if o.operand >= words.len() {
        return out;
    }
    if command.is_empty() {
        out.push(Effect::Opaque(
            "ssh opens a remote shell reading its input".into(),
        ));
        return out;
    }
    if command.iter().any(|w| w.dynamic) {
        out.push(Effect::Opaque("ssh runs an expanded remote command".into()));
    }
    let text: Vec<&str> = command.iter().map(|w| w.text.as_str()).collect();
    out.push(Effect::RunText {
        via: "ssh".into(),
        text: text.join(" "),
    });
    out
}

/// `kubectl exec [options] POD -- CMD ...`: the words after `--`.
fn kubectl<'w>(program: &str, words: &'w [Word]) -> Vec<Effect<'w>> {
    let runs = words
        .iter()
        .skip(1)
        .take_while(|w| w.text != "--")
        .any(|w| matches!(w.text.as_str(), "exec" | "debug" | "run" | "attach"));
    if !runs {
        return Vec::new();
    }
    match words.iter().position(|w| w.text == "--") {
        Some(dash) => run_from(&format!("{program} exec"), words, dash + 1),
        None => vec![Effect::Opaque(format!(
            "{program} runs a command in a container without `--`"
        ))],
    }
}

/// `docker exec [options] CONTAINER CMD ...`.
fn container_exec<'w>(program: &str, words: &'w [Word]) -> Vec<Effect<'w>> {
    if words.get(1).map(|w| w.text.as_str()) != Some("exec") {
        if words.get(1).is_some_and(|w| w.text == "run") {
            return vec![Effect::Opaque(format!(
                "{program} run starts a container command"
            ))];
        }
        return Vec::new();
    }
    let tail = rest(words, 1);
    let o = options(
        tail,
        "euw",
        &["env", "env-file", "user", "workdir", "detach-keys"],
        false,
    );
    if o.operand + 1 >= tail.len() {
        return Vec::new();
    }
    run_from(&format!("{program} exec"), tail, o.operand + 1)
}
