//! Command-line options as getopt-style programs read them, and small helpers that
//! turn "the operands from here on" into an [`Effect`]. Never reads past the words.

use super::lexer::Word;
use super::wrappers::Effect;

/// Options as a getopt-style program reads them.
pub(crate) struct Options<'w> {
    /// (option name without dashes, value) in order.
    pub seen: Vec<(String, Option<&'w Word>)>,
    /// Index of the first operand (`words.len()` when there is none).
    pub operand: usize,
}

impl Options<'_> {
    pub(crate) fn has(&self, names: &[&str]) -> bool {
        self.seen.iter().any(|(n, _)| names.contains(&n.as_str()))
    }
}

/// Read options from `words[1..]` up to the first operand or `--`. `short_values` are
/// short options that take a value (attached or the next word), `long_values` long
/// ones (`--name=v` or `--name v`). `plus` also treats `+x` as an option (shells).
pub(crate) fn options<'w>(
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

pub(crate) fn rest(words: &[Word], from: usize) -> &[Word] {
    words.get(from..).unwrap_or(&[])
}

/// Run the operands from `from` as a command, when there are any.
pub(crate) fn run_from<'w>(via: &str, words: &'w [Word], from: usize) -> Vec<Effect<'w>> {
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
pub(crate) fn command_option(words: &[Word]) -> Option<&Word> {
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
pub(crate) fn script_effect<'w>(via: &str, w: &'w Word) -> Effect<'w> {
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
