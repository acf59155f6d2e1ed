//! Tokens into simple commands: every command of every pipeline, list, subshell,
//! group, loop, `if` and `case` body, in order.
//!
//! Reserved words are skipped where they open or close a compound command, so the body
//! commands come out as ordinary simple commands. Never drops a command it does not
//! understand: a syntax error makes the whole line `unparsed`.

use super::lexer::{HereDoc, Token, Word};

/// A redirection of one simple command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Redirection {
    pub op: String,
    pub target: Word,
    pub heredoc: Option<HereDoc>,
}

/// One simple command before any interpretation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SimpleCommand {
    pub words: Vec<Word>,
    pub redirections: Vec<Redirection>,
    /// Standard input comes from the previous command of a pipeline.
    pub stdin_piped: bool,
}

impl SimpleCommand {
    fn is_empty(&self) -> bool {
        self.words.is_empty() && self.redirections.is_empty()
    }

    /// Standard input is fed by something other than the SSH client (pipe, here-doc,
    /// here-string, file).
    pub fn stdin_fed(&self) -> bool {
        self.stdin_piped
            || self.redirections.iter().any(|r| {
                let op = r.op.trim_start_matches(|c: char| c.is_ascii_digit());
                let fd = &r.op[..r.op.len() - op.len()];
                op.starts_with('<') && (fd.is_empty() || fd == "0")
            })
    }
}

/// Why a command line is not valid shell syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError(pub &'static str);

/// Words that open or close compound commands when they stand in command position.
const SKIPPED_RESERVED: [&str; 13] = [
    "{", "}", "!", "if", "then", "else", "elif", "fi", "do", "done", "while", "until", "esac",
];

#[derive(Default)]
struct Parser {
    out: Vec<SimpleCommand>,
    current: SimpleCommand,
    pending_redirect: Option<(String, Option<HereDoc>)>,
    /// Skip words until the next separator (`for x in a b c`).
    skip_to_separator: bool,
    /// Skip exactly this many following words (`case WORD in`, `function NAME`).
    skip_words: usize,
    open_cases: usize,
    in_case_pattern: bool,
    /// Inside `[[ ... ]]`: operators are words until `]]`.
    in_test: bool,
    depth: usize,
    /// After `|`, `&&`, `||`: a command must follow.
    needs_command: bool,
    next_stdin_piped: bool,
    /// The previous word was the `time` keyword (which takes `-p`).
    after_time: bool,
    /// Words that are not part of a simple command (`for` lists, `case` subjects and
    /// patterns, function names): still expanded by the shell.
    loose: Vec<Word>,
}

/// A parsed command line.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    pub commands: Vec<SimpleCommand>,
    /// Words outside simple commands whose expansions still run (`for x in $(cmd)`).
    pub loose_words: Vec<Word>,
}

/// Parse tokens into simple commands.
pub(crate) fn parse(tokens: Vec<Token>) -> Result<Parsed, SyntaxError> {
    let mut p = Parser::default();
    let mut tokens = tokens.into_iter().peekable();
    while let Some(tok) = tokens.next() {
        match tok {
            Token::Word(w) => p.word(w),
            Token::Redirect { op, heredoc } => {
                if p.pending_redirect.is_some() {
                    return Err(SyntaxError("redirection without a target"));
                }
                p.pending_redirect = Some((op, heredoc));
            }
            Token::Op(op) => {
                if p.pending_redirect.is_some() {
                    return Err(SyntaxError("redirection without a target"));
                }
                if p.in_test {
                    p.current.words.push(Word {
                        text: op.to_string(),
                        ..Word::default()
                    });
                    continue;
                }
                let is_fn_def = op == "("
                    && p.current.words.len() == 1
                    && p.current.redirections.is_empty()
                    && matches!(tokens.peek(), Some(Token::Op(")")));
                if is_fn_def {
                    tokens.next();
                    let name = std::mem::take(&mut p.current);
                    p.loose.extend(name.words);
                    continue;
                }
                p.op(op)?;
            }
        }
    }
    if p.pending_redirect.is_some() {
        return Err(SyntaxError("redirection without a target"));
    }
    if p.in_test {
        return Err(SyntaxError("unterminated [["));
    }
    p.flush();
    if p.needs_command {
        return Err(SyntaxError("operator without a command after it"));
    }
    if p.depth != 0 {
        return Err(SyntaxError("unbalanced parentheses"));
    }
    if p.open_cases > 0 || p.in_case_pattern {
        return Err(SyntaxError("unterminated case"));
    }
    Ok(Parsed {
        commands: p.out,
        loose_words: p.loose,
    })
}

impl Parser {
    fn word(&mut self, w: Word) {
        if let Some((op, heredoc)) = self.pending_redirect.take() {
            self.current.redirections.push(Redirection {
                op,
                target: w,
                heredoc,
            });
            return;
        }
        if self.in_test {
            let end = w.text == "]]" && !w.quoted;
            self.current.words.push(w);
            self.in_test = !end;
            return;
        }
        if self.in_case_pattern {
            if w.text == "esac" && !w.quoted {
                self.in_case_pattern = false;
                self.open_cases = self.open_cases.saturating_sub(1);
            }
            self.loose.push(w);
            return;
        }
        if self.skip_words > 0 {
            self.skip_words -= 1;
            if self.skip_words == 0 && self.open_cases > 0 && w.text == "in" {
                self.in_case_pattern = true;
            }
            self.loose.push(w);
            return;
        }
        if self.skip_to_separator {
            self.loose.push(w);
            return;
        }
        let command_position = self.current.words.is_empty() && !w.quoted && !w.dynamic;
        let after_time = std::mem::take(&mut self.after_time);
        if command_position {
            match w.text.as_str() {
                t if SKIPPED_RESERVED.contains(&t) => {
                    if t == "esac" {
                        self.open_cases = self.open_cases.saturating_sub(1);
                    }
                    return;
                }
                "for" | "select" => {
                    self.skip_to_separator = true;
                    return;
                }
                "case" => {
                    self.open_cases += 1;
                    self.skip_words = 2;
                    return;
                }
                "function" => {
                    self.skip_words = 1;
                    return;
                }
                "time" => {
                    self.after_time = true;
                    return;
                }
                "-p" if after_time => return,
                "[[" => self.in_test = true,
                _ => {}
            }
        }
        self.needs_command = false;
        if self.current.is_empty() {
            self.current.stdin_piped = self.next_stdin_piped;
            self.next_stdin_piped = false;
        }
        self.current.words.push(w);
    }

    fn op(&mut self, op: &'static str) -> Result<(), SyntaxError> {
        self.skip_to_separator = false;
        if self.in_case_pattern {
            if op == ")" {
                self.in_case_pattern = false;
            }
            return Ok(());
        }
        match op {
            "(" => {
                if !self.current.is_empty() {
                    return Err(SyntaxError("unexpected `(`"));
                }
                self.depth += 1;
            }
            ")" => {
                self.flush();
                if self.depth == 0 {
                    return Err(SyntaxError("unexpected `)`"));
                }
                self.depth -= 1;
            }
            "|" | "|&" | "&&" | "||" => {
                if (self.current.is_empty() && self.out.is_empty()) || self.needs_command {
                    return Err(SyntaxError("operator without a command before it"));
                }
                self.flush();
                self.needs_command = true;
                self.next_stdin_piped = op.starts_with('|') && op != "||";
            }
            ";;" | ";&" | ";;&" => {
                self.flush();
                if self.open_cases > 0 {
                    self.in_case_pattern = true;
                }
            }
            _ => self.flush(),
        }
        Ok(())
    }

    fn flush(&mut self) {
        let cmd = std::mem::take(&mut self.current);
        if !cmd.is_empty() {
            self.out.push(cmd);
        }
    }
}
