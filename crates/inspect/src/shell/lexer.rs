//! POSIX shell tokens: words after quote removal (expansions kept as written and
//! flagged), control operators, redirections and here-document bodies.
//!
//! Never evaluates anything: `$VAR`, `$(...)`, backticks and globs stay text, and the
//! word says that it holds them, so the caller can mark the command line `opaque`.
//! Unterminated quotes or substitutions are an error (the line is `unparsed`).

/// One shell word.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Word {
    /// The word after quote removal; expansions are kept verbatim (`$HOME`, `$(id)`).
    pub text: String,
    /// Some part of the word was quoted or escaped.
    pub quoted: bool,
    /// The word holds a parameter, arithmetic or command expansion.
    pub dynamic: bool,
    /// Unquoted `*`, `?` or `[`: pathname expansion may change the word.
    pub glob: bool,
    /// Unquoted `{..,..}` or `{a..b}`: brace expansion may change the word.
    pub brace: bool,
    /// `NAME=` or `NAME+=` prefix (unquoted): the variable name.
    pub assignment: Option<String>,
    /// Sources of `$(...)`, backticks and `<(...)`/`>(...)` inside the word.
    pub substitutions: Vec<String>,
    /// An expansion whose effect cannot even be parsed (e.g. arithmetic holding `$(`).
    pub unknowable: bool,
    /// A quoted part holds `$(` or a backtick as plain text (code kept for later eval).
    pub quoted_code: bool,
}

/// A here-document attached to its `<<` redirection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HereDoc {
    pub body: String,
    /// Unquoted delimiter: the body undergoes expansions (`$(...)` runs).
    pub expands: bool,
}

/// One token of a command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token {
    Word(Word),
    /// `;` `&` `&&` `||` `|` `|&` `(` `)` `;;` `;&` `;;&` and `\n`.
    Op(&'static str),
    /// A redirection operator with its optional fd prefix (`2>`, `<<-`, `&>>`).
    Redirect {
        op: String,
        heredoc: Option<HereDoc>,
    },
}

/// Why a command line could not be tokenised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LexError(pub &'static str);

use super::ansi_c::ansi_c;

const CONTROL_OPS: [&str; 11] = [";;&", ";;", ";&", "&&", "||", "|&", ";", "&", "|", "(", ")"];
const REDIRECT_OPS: [&str; 12] = [
    "&>>", "<<<", "<<-", "&>", "<<", "<&", "<>", ">>", ">&", ">|", "<", ">",
];

/// Split a command line into tokens.
pub(crate) fn tokenize(input: &str) -> Result<Vec<Token>, LexError> {
    let mut lx = Lexer {
        s: input.chars().collect(),
        i: 0,
        tokens: Vec::new(),
        pending: Vec::new(),
    };
    lx.run()?;
    Ok(lx.tokens)
}

struct PendingHereDoc {
    token: usize,
    delimiter: String,
    strip_tabs: bool,
    expands: bool,
}

struct Lexer {
    s: Vec<char>,
    i: usize,
    tokens: Vec<Token>,
    pending: Vec<PendingHereDoc>,
}

fn is_meta(c: char) -> bool {
    matches!(
        c,
        ' ' | '\t' | '\n' | ';' | '&' | '|' | '(' | ')' | '<' | '>'
    )
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl Lexer {
    fn peek(&self, off: usize) -> Option<char> {
        self.s.get(self.i + off).copied()
    }

    fn starts_with(&self, op: &str) -> bool {
        op.chars().enumerate().all(|(k, c)| self.peek(k) == Some(c))
    }

    fn run(&mut self) -> Result<(), LexError> {
        while let Some(c) = self.peek(0) {
            match c {
                ' ' | '\t' => self.i += 1,
                '\\' if self.peek(1) == Some('\n') => self.i += 2,
                '\n' => {
                    self.i += 1;
                    self.tokens.push(Token::Op("\n"));
                    self.read_heredocs();
                }
                '#' => {
                    while self.peek(0).is_some_and(|c| c != '\n') {
                        self.i += 1;
                    }
                }
                '<' | '>' if self.peek(1) == Some('(') => self.word()?,
                _ if is_meta(c) => self.operator(None)?,
                _ => self.word()?,
            }
        }
        // A here-document whose body never started: bash reads it as empty.
        for p in std::mem::take(&mut self.pending) {
            self.attach_heredoc(p.token, String::new(), p.expands);
        }
        Ok(())
    }

    fn operator(&mut self, fd: Option<String>) -> Result<(), LexError> {
        if let Some(op) = REDIRECT_OPS.iter().find(|op| self.starts_with(op)) {
            self.i += op.chars().count();
            let op = format!("{}{op}", fd.unwrap_or_default());
            self.tokens.push(Token::Redirect { op, heredoc: None });
            return Ok(());
        }
        if let Some(op) = CONTROL_OPS.iter().find(|op| self.starts_with(op)) {
            self.i += op.len();
            self.tokens.push(Token::Op(op));
            return Ok(());
        }
        Err(LexError("unexpected operator character"))
    }

    fn word(&mut self) -> Result<(), LexError> {
        let mut w = Word::default();
        let mut digits_only = true;
        let mut brace_open = false;
        let mut brace_sep = false;
        let mut bracket_open = false;
        while let Some(c) = self.peek(0) {
            if (c == '<' || c == '>') && self.peek(1) == Some('(') && w.text.is_empty() {
                // Process substitution: a command whose output becomes a file name.
                self.i += 2;
                let inner = self.balanced('(', ')')?;
                w.text.push_str(&format!("{c}({inner})"));
                w.substitutions.push(inner);
                w.dynamic = true;
                digits_only = false;
                continue;
            }
            if is_meta(c) {
                break;
            }
            if !c.is_ascii_digit() {
                digits_only = false;
            }
            self.i += 1;
            match c {
                '\\' => match self.peek(0) {
                    Some('\n') => self.i += 1,
                    Some(n) => {
                        self.i += 1;
                        w.text.push(n);
                        w.quoted = true;
                    }
                    None => w.text.push('\\'),
                },
                '\'' => {
                    let start = self.i;
                    while self.peek(0).is_some_and(|c| c != '\'') {
                        self.i += 1;
                    }
                    if self.peek(0).is_none() {
                        return Err(LexError("unterminated single quote"));
                    }
                    let part: String = self.s[start..self.i].iter().collect();
                    self.i += 1;
                    w.quoted_code |= part.contains("$(") || part.contains('`');
                    w.text.push_str(&part);
                    w.quoted = true;
                }
                '"' => self.double_quoted(&mut w)?,
                '$' => self.dollar(&mut w, false)?,
                '`' => self.backtick(&mut w)?,
                '*' | '?' => {
                    w.glob = true;
                    w.text.push(c);
                }
                '[' => {
                    bracket_open = true;
                    w.text.push(c);
                }
                ']' => {
                    w.glob |= bracket_open;
                    w.text.push(c);
                }
                '{' => {
                    brace_open = true;
                    w.text.push(c);
                }
                ',' if brace_open => {
                    brace_sep = true;
                    w.text.push(c);
                }
                '.' if brace_open && self.peek(0) == Some('.') => {
                    brace_sep = true;
                    w.text.push(c);
                }
                '}' => {
                    w.brace |= brace_open && brace_sep;
                    w.text.push(c);
                }
                '=' if w.assignment.is_none() && !w.quoted && !w.dynamic => {
                    let name = w.text.strip_suffix('+').unwrap_or(&w.text);
                    if is_name(name) {
                        w.assignment = Some(name.to_string());
                        w.text.push('=');
                        if self.peek(0) == Some('(') {
                            // Array assignment `a=(x y)`.
                            self.i += 1;
                            let inner = self.balanced('(', ')')?;
                            w.quoted_code |= inner.contains("$(") || inner.contains('`');
                            w.dynamic |= inner.contains('$') || inner.contains('`');
                            w.text.push_str(&format!("({inner})"));
                        }
                    } else {
                        w.text.push('=');
                    }
                }
                _ => w.text.push(c),
            }
        }
        let next = self.peek(0);
        if digits_only && !w.text.is_empty() && matches!(next, Some('<' | '>')) {
            return self.operator(Some(w.text));
        }
        self.push_word(w);
        Ok(())
    }

    fn push_word(&mut self, w: Word) {
        if let Some(Token::Redirect { op, .. }) = self.tokens.last() {
            let here_string = op.ends_with("<<<");
            if (op.ends_with("<<") && !here_string) || op.ends_with("<<-") {
                self.pending.push(PendingHereDoc {
                    token: self.tokens.len() - 1,
                    delimiter: w.text.clone(),
                    strip_tabs: op.ends_with('-'),
                    expands: !w.quoted,
                });
            }
        }
        self.tokens.push(Token::Word(w));
    }

    fn double_quoted(&mut self, w: &mut Word) -> Result<(), LexError> {
        w.quoted = true;
        loop {
            let Some(c) = self.peek(0) else {
                return Err(LexError("unterminated double quote"));
            };
            self.i += 1;
            match c {
                '"' => return Ok(()),
                '\\' => match self.peek(0) {
                    Some('\n') => self.i += 1,
                    Some(n @ ('$' | '`' | '"' | '\\')) => {
                        self.i += 1;
                        w.text.push(n);
                    }
                    _ => w.text.push('\\'),
                },
                '$' => self.dollar(w, true)?,
                '`' => self.backtick(w)?,
                _ => w.text.push(c),
            }
        }
    }

    /// After a `$`.
    fn dollar(&mut self, w: &mut Word, in_dq: bool) -> Result<(), LexError> {
        match self.peek(0) {
            Some('\'') if !in_dq => {
                self.i += 1;
                let (decoded, next) = ansi_c(&self.s, self.i)?;
                self.i = next;
                w.text.push_str(&decoded);
                w.quoted = true;
            }
            Some('"') if !in_dq => {
                self.i += 1;
                self.double_quoted(w)?;
            }
            Some('(') => {
                self.i += 1;
                let inner = self.balanced('(', ')')?;
                w.dynamic = true;
                w.text.push_str(&format!("$({inner})"));
                if inner.starts_with('(') && inner.ends_with(')') {
                    // Arithmetic `$((...))`: not a command, but may hold one.
                    w.unknowable |= inner.contains("$(") || inner.contains('`');
                } else {
                    w.substitutions.push(inner);
                }
            }
            Some('{') => {
                self.i += 1;
                let inner = self.balanced('{', '}')?;
                w.dynamic = true;
                w.unknowable |= inner.contains("$(") || inner.contains('`');
                w.text.push_str(&format!("${{{inner}}}"));
            }
            Some(c) if c.is_ascii_alphabetic() || c == '_' => {
                w.dynamic = true;
                w.text.push('$');
                while let Some(c) = self
                    .peek(0)
                    .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                {
                    w.text.push(c);
                    self.i += 1;
                }
            }
            Some(c) if c.is_ascii_digit() || "@*#?$!-".contains(c) => {
                w.dynamic = true;
                w.text.push('$');
                w.text.push(c);
                self.i += 1;
            }
            _ => w.text.push('$'),
        }
        Ok(())
    }

    fn backtick(&mut self, w: &mut Word) -> Result<(), LexError> {
        let mut inner = String::new();
        loop {
            let Some(c) = self.peek(0) else {
                return Err(LexError("unterminated backtick"));
            };
            self.i += 1;
            match c {
                '`' => break,
                '\\' => match self.peek(0) {
                    Some(n @ ('`' | '$' | '\\')) => {
                        self.i += 1;
                        inner.push(n);
                    }
                    _ => inner.push('\\'),
                },
                _ => inner.push(c),
            }
        }
        w.dynamic = true;
        w.text.push_str(&format!("`{inner}`"));
        w.substitutions.push(inner);
        Ok(())
    }

    /// Scan to the `close` matching an already consumed `open`, skipping quoted text;
    /// returns the text in between.
    fn balanced(&mut self, open: char, close: char) -> Result<String, LexError> {
        let start = self.i;
        let mut depth = 1usize;
        while let Some(c) = self.peek(0) {
            self.i += 1;
            match c {
                '\\' => self.i += 1,
                '\'' => {
                    while self.peek(0).is_some_and(|c| c != '\'') {
                        self.i += 1;
                    }
                    self.i += 1;
                }
                '"' => {
                    while let Some(c) = self.peek(0).filter(|c| *c != '"') {
                        self.i += if c == '\\' { 2 } else { 1 };
                    }
                    self.i += 1;
                }
                '`' => {
                    while let Some(c) = self.peek(0).filter(|c| *c != '`') {
                        self.i += if c == '\\' { 2 } else { 1 };
                    }
                    self.i += 1;
                }
                _ if c == open => depth += 1,
                _ if c == close => {
                    depth -= 1;
                    if depth == 0 {
                        return Ok(self.s[start..self.i - 1].iter().collect());
                    }
                }
                _ => {}
            }
        }
        Err(LexError("unterminated substitution or expansion"))
    }

    fn read_heredocs(&mut self) {
        for p in std::mem::take(&mut self.pending) {
            let mut body = String::new();
            while self.i < self.s.len() {
                let start = self.i;
                while self.peek(0).is_some_and(|c| c != '\n') {
                    self.i += 1;
                }
                let line: String = self.s[start..self.i].iter().collect();
                if self.peek(0) == Some('\n') {
                    self.i += 1;
                }
                let cmp = if p.strip_tabs {
                    line.trim_start_matches('\t')
                } else {
                    &line
                };
                if cmp == p.delimiter {
                    break;
                }
                body.push_str(&line);
                body.push('\n');
            }
            self.attach_heredoc(p.token, body, p.expands);
        }
    }

    fn attach_heredoc(&mut self, token: usize, body: String, expands: bool) {
        if let Some(Token::Redirect { heredoc, .. }) = self.tokens.get_mut(token) {
            *heredoc = Some(HereDoc { body, expands });
        }
    }
}
