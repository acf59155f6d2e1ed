//! Shells and language interpreters: `sh -c STRING` runs STRING (inspected), a shell
//! or interpreter reading a script file or its input is opaque, and inline code
//! (`python -c`, `perl -e`, `awk '...system(...)'`) is opaque. Never reports a shell
//! or interpreter run as harmless when the code it runs is not visible.

use super::lexer::Word;
use super::options::options;
use super::wrappers::Effect;

/// Shells whose `-c STRING` runs STRING and which otherwise read a script or stdin.
pub(crate) const SHELLS: [&str; 14] = [
    "sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "rbash", "yash", "posh", "csh", "tcsh",
    "fish", "oksh",
];

pub(crate) fn shell<'w>(program: &str, words: &'w [Word]) -> Vec<Effect<'w>> {
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

/// Interpreters: inline code or code read from stdin is opaque; a script file is not.
pub(crate) fn interpreter<'w>(program: &str, words: &'w [Word]) -> Option<Vec<Effect<'w>>> {
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
