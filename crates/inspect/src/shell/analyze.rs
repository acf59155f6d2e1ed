//! From parsed simple commands to facts: assignments and redirections set aside,
//! wrappers and `sh -c` unwrapped (each level recorded in `via`), substitutions
//! inspected, and `opaque` set with a reason whenever the real command is unknowable.
//!
//! Bounded: nesting deeper than [`MAX_DEPTH`] is opaque, never a stack overflow.

use super::brace::expand_braces;
use super::interpreters::SHELLS;
use super::lexer::{tokenize, Word};
use super::parser::{parse, SimpleCommand};
use super::wrappers::{effects, Effect, DANGEROUS_VARIABLES};
use super::writes::{self, Cwd};
use super::ShellCommand;

/// How many levels of `sh -c`, substitutions and wrappers are followed.
pub(crate) const MAX_DEPTH: usize = 8;

/// Notes kept per command line; more are dropped (the line is long enough to read).
const MAX_NOTES: usize = 32;

/// Everything learned about one command line.
#[derive(Debug, Default)]
pub(crate) struct Analysis {
    pub commands: Vec<ShellCommand>,
    pub opaque: bool,
    pub unparsed: bool,
    pub notes: Vec<String>,
    /// Where relative paths start for the next command (`cd` moves it).
    cwd: Cwd,
}

impl Analysis {
    fn opaque(&mut self, why: impl Into<String>) {
        self.opaque = true;
        self.note(why);
    }

    fn note(&mut self, why: impl Into<String>) {
        let why = why.into();
        if self.notes.len() < MAX_NOTES && !self.notes.contains(&why) {
            self.notes.push(why);
        }
    }

    /// Inspect shell source text.
    pub(crate) fn text(&mut self, text: &str, depth: usize, via: &[String]) {
        if depth > MAX_DEPTH {
            self.opaque("shell nesting too deep to follow");
            return;
        }
        let tokens = match tokenize(text) {
            Ok(t) => t,
            Err(e) => {
                self.unparsed = true;
                self.note(e.0);
                return;
            }
        };
        let parsed = match parse(tokens) {
            Ok(p) => p,
            Err(e) => {
                self.unparsed = true;
                self.note(e.0);
                return;
            }
        };
        let words = || {
            parsed
                .commands
                .iter()
                .flat_map(|c| {
                    c.words
                        .iter()
                        .chain(c.redirections.iter().map(|r| &r.target))
                })
                .chain(parsed.loose_words.iter())
        };
        if words().any(|w| w.quoted_code) && words().any(|w| w.dynamic) {
            // `x='a[$(id)]'; echo $((x))` runs id: quoted code may be evaluated later.
            self.opaque("quoted `$(`/backtick text with expansions on the same line");
        }
        for w in &parsed.loose_words {
            self.substitutions(w, depth, via);
        }
        for cmd in &parsed.commands {
            self.simple(cmd, depth, via);
        }
    }

    fn simple(&mut self, cmd: &SimpleCommand, depth: usize, via: &[String]) {
        let targets = cmd.redirections.iter().map(|r| &r.target);
        for w in cmd.words.iter().chain(targets) {
            self.substitutions(w, depth, via);
        }
        for r in &cmd.redirections {
            if let Some(doc) = &r.heredoc {
                if doc.expands && (doc.body.contains("$(") || doc.body.contains('`')) {
                    self.opaque("here-document with command substitution");
                }
            }
        }
        let redirects: Vec<String> = cmd
            .redirections
            .iter()
            .map(|r| format!("{}{}", r.op, r.target.text))
            .collect();
        let first = cmd.words.iter().position(|w| w.assignment.is_none());
        for w in &cmd.words[..first.unwrap_or(cmd.words.len())] {
            self.assignment(w);
        }
        let Some(first) = first else {
            return;
        };
        let ctx = Context {
            depth,
            via: via.to_vec(),
            stdin_fed: cmd.stdin_fed(),
            redirects,
            stdin_code: cmd
                .redirections
                .iter()
                .filter_map(|r| match (&r.heredoc, r.op.ends_with("<<<")) {
                    (Some(doc), _) => Some(doc.body.clone()),
                    (None, true) => Some(r.target.text.clone()),
                    _ => None,
                })
                .collect(),
        };
        self.argv(&cmd.words[first..], &ctx);
    }

    fn assignment(&mut self, w: &Word) {
        if let Some(name) = &w.assignment {
            if DANGEROUS_VARIABLES.contains(&name.as_str()) {
                self.opaque(format!("assignment to {name} changes what runs"));
            }
        }
    }

    fn substitutions(&mut self, w: &Word, depth: usize, via: &[String]) {
        if w.unknowable {
            self.opaque("expansion that runs a command");
        }
        for inner in &w.substitutions {
            self.opaque("command substitution");
            let mut via = via.to_vec();
            via.push("$(...)".into());
            self.text(inner, depth + 1, &via);
        }
    }

    fn argv(&mut self, words: &[Word], ctx: &Context) {
        if ctx.depth > MAX_DEPTH {
            self.opaque("shell nesting too deep to follow");
            return;
        }
        let Some(first) = words.first() else {
            return;
        };
        if first.dynamic || first.unknowable {
            self.opaque("expansion in command position");
        }
        if first.glob {
            self.opaque("pathname pattern in command position");
        }
        if first.brace {
            self.opaque("brace expansion in command position");
        }
        if first.text.starts_with('=') {
            // zsh replaces `=rm` with the path of `rm`.
            self.opaque("`=word` in command position (zsh path expansion)");
        }
        let mut argv = Vec::with_capacity(words.len());
        for w in words {
            if w.brace && !w.quoted && !w.dynamic {
                match expand_braces(&w.text) {
                    Some(expanded) => argv.extend(expanded),
                    None => {
                        self.opaque("brace expansion too large to follow");
                        argv.push(w.text.clone());
                    }
                }
            } else {
                if w.brace {
                    self.opaque("brace expansion with quoted or expanded parts");
                }
                argv.push(w.text.clone());
            }
        }
        let program = basename(&first.text).to_string();
        self.dynamic_arguments(&program, &words[1..]);
        let written = match writes::writes(&self.cwd, &program, &argv[1..], &ctx.redirects) {
            Ok(w) => w,
            Err(path) => {
                self.opaque(format!(
                    "{program} writes `{path}`, which cannot be placed (relative to an unknown directory, or above the login directory)"
                ));
                Vec::new()
            }
        };
        if matches!(program.as_str(), "cd" | "pushd") {
            self.cwd = if words[1..]
                .iter()
                .any(|w| w.dynamic || w.unknowable || w.glob)
            {
                Cwd::Unknown
            } else {
                writes::cd(&self.cwd, &argv[1..])
            };
        }
        self.commands.push(ShellCommand {
            argv,
            program: program.clone(),
            redirects: ctx.redirects.clone(),
            via: ctx.via.clone(),
            writes: written,
        });
        for effect in effects(&program, words) {
            match effect {
                Effect::RunArgv { via, words } => self.argv(words, &ctx.nested(via)),
                Effect::RunScript { via, script } => {
                    if script.dynamic || script.unknowable {
                        self.opaque(format!("{via} runs an expanded string"));
                    }
                    // Substitutions were inspected already; the rest of an expanded
                    // string is still worth reading (`sh -c "rm -rf $DIR"`).
                    if script.substitutions.is_empty() {
                        let nested = ctx.nested(via);
                        self.text(&script.text, nested.depth, &nested.via);
                    }
                }
                Effect::RunText { via, text } => {
                    let nested = ctx.nested(via);
                    self.text(&text, nested.depth, &nested.via);
                }
                Effect::Opaque(why) => self.opaque(why),
                Effect::Note(why) => self.note(why),
            }
        }
        if ctx.stdin_fed && self.opaque && self.notes.iter().any(|n| n.contains("from its input")) {
            self.note("code fed to an interpreter through a pipe, file or here-document");
        }
        if SHELLS.contains(&program.as_str()) && !ctx.stdin_code.is_empty() {
            // `bash <<EOF ... EOF`, `sh <<< 'cmd'`: the code is right here; read it so
            // that deny rules still see its commands (the line stays opaque).
            let mut nested = ctx.nested(format!("{program} <<"));
            nested.stdin_code.clear();
            for code in &ctx.stdin_code {
                self.text(code, nested.depth, &nested.via);
            }
        }
    }
}

/// Programs whose arguments cannot change what runs or what is deleted: an expansion
/// in their arguments is not a reason for `opaque`.
const EXPANSION_SAFE_PROGRAMS: [&str; 13] = [
    "echo", "printf", "cd", "pwd", "test", "[", "[[", "true", "false", "export", "local",
    "declare", "typeset",
];

/// Builtins whose `NAME=value` arguments are assignments.
const ASSIGNING_BUILTINS: [&str; 5] = ["export", "local", "declare", "typeset", "readonly"];

impl Analysis {
    /// An argument holding an expansion can become any flag or path (`F=-rf; rm $F x`,
    /// `rm -rf /$EMPTY`), so rules on arguments cannot be trusted for that command.
    fn dynamic_arguments(&mut self, program: &str, args: &[Word]) {
        if ASSIGNING_BUILTINS.contains(&program) {
            for a in args {
                let name = a.text.split_once('=').map_or(a.text.as_str(), |(n, _)| n);
                let name = name.strip_suffix('+').unwrap_or(name);
                if DANGEROUS_VARIABLES.contains(&name) {
                    self.opaque(format!("assignment to {name} changes what runs"));
                }
            }
        }
        if EXPANSION_SAFE_PROGRAMS.contains(&program) {
            return;
        }
        if args.iter().any(|a| a.dynamic || a.unknowable) {
            self.opaque(format!(
                "{program} has an argument built by expansion: its value is unknown"
            ));
        }
    }
}

/// Where a simple command sits.
struct Context {
    depth: usize,
    via: Vec<String>,
    stdin_fed: bool,
    redirects: Vec<String>,
    /// Here-document bodies and here-strings fed to the command's standard input.
    stdin_code: Vec<String>,
}

impl Context {
    fn nested(&self, via: String) -> Context {
        let mut chain = self.via.clone();
        chain.push(via);
        Context {
            depth: self.depth + 1,
            via: chain,
            stdin_fed: self.stdin_fed,
            redirects: self.redirects.clone(),
            stdin_code: self.stdin_code.clone(),
        }
    }
}

/// `/usr/bin/rm` → `rm`.
pub(crate) fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}
