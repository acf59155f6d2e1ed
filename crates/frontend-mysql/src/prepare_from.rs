//! `PREPARE name FROM '<statement>'` in SQL text. The inspector cannot parse this MySQL
//! form (it would make the whole text `unparsed`, which the defaults hold), yet the
//! statement in the string is exactly what a later `EXECUTE name` runs. So Warden reads
//! the string the way the server will — tokenised with the MySQL dialect, unescaped under
//! the session's tracked `sql_mode` — and decides the statement inside it together with
//! the rest of the text: a `DROP` inside is denied like a plain `DROP`, an unbounded
//! `DELETE` inside is held like a plain one.
//!
//! Only the plain form is read: `PREPARE` `name` `FROM` and one string literal, with
//! nothing else in the statement. Anything else — `FROM @var`, adjacent literals
//! (`'DROP ' 'TABLE t'`), introducers (`_utf8mb4'...'`), a `PREPARE` written inside an
//! executable comment, a literal with a backslash while the session reads backslashes
//! literally, a double-quoted literal under `ANSI_QUOTES` — is left to the inspector,
//! which holds it (unparsed or opaque).
//!
//! Must never make a text look safer than it is: the facts returned are those of the text
//! without its `PREPARE` statements plus those of every prepared statement, and a text
//! whose pieces cannot be cut exactly is returned unchanged (no facts).

use std::ops::Range;

use sqlparser::dialect::MySqlDialect;
use sqlparser::tokenizer::{Location, Token, TokenWithSpan, Tokenizer, Whitespace};
use warden_inspect::sql::SqlFacts;

use super::lexing::SqlMode;

/// One `PREPARE name FROM '<literal>'` statement: where it is in the text and the
/// statement it prepares, unescaped.
#[derive(Debug, PartialEq, Eq)]
pub struct PrepareFrom {
    /// Byte range of `PREPARE ... '<literal>'` in the text.
    pub span: Range<usize>,
    /// The statement's name as [`statement_name`] reads it (`None`: not a name Warden
    /// follows).
    pub name: Option<String>,
    /// The statement inside the literal, as the server reads it.
    pub inner: String,
}

/// Every plain `PREPARE ... FROM '<literal>'` statement of `text` (see the module docs for
/// what is left alone). Empty when there is none or `text` cannot be tokenised.
pub fn find(text: &str, mode: SqlMode) -> Vec<PrepareFrom> {
    if !mentions_prepare(text) {
        return Vec::new();
    }
    each_statement(text, |cut, tokens| one_statement(cut, tokens, mode))
}

/// Whether `PREPARE` is written anywhere in `text` (the cheap test before tokenising).
pub(crate) fn mentions_prepare(text: &str) -> bool {
    text.as_bytes()
        .windows(7)
        .any(|w| w.eq_ignore_ascii_case(b"PREPARE"))
}

/// `f` applied to the significant tokens (no whitespace, no comments) of each
/// `;`-separated statement of `text`, skipping statements with an executable comment
/// (`/*! */`, `/*M! */`: the server reads their contents, the tokenizer does not).
/// Empty when `text` cannot be tokenised.
pub(crate) fn each_statement<T>(
    text: &str,
    mut f: impl FnMut(&Cut<'_>, &[&TokenWithSpan]) -> Option<T>,
) -> Vec<T> {
    let Ok(tokens) = Tokenizer::new(&MySqlDialect {}, text)
        .with_unescape(false)
        .tokenize_with_location()
    else {
        return Vec::new();
    };
    let cut = Cut {
        text,
        offsets: LineOffsets::new(text),
    };
    tokens
        .split(|t| t.token == Token::SemiColon)
        .filter(|chunk| !chunk.iter().any(|t| is_executable_comment(&t.token)))
        .filter_map(|chunk| {
            let significant: Vec<&TokenWithSpan> = chunk
                .iter()
                .filter(|t| !matches!(t.token, Token::Whitespace(_)))
                .collect();
            f(&cut, &significant)
        })
        .collect()
}

/// A text and where its tokens are in it.
pub(crate) struct Cut<'a> {
    text: &'a str,
    offsets: LineOffsets,
}

impl Cut<'_> {
    /// The byte range from the start of `first` to the end of `last`.
    pub(crate) fn span(&self, first: &TokenWithSpan, last: &TokenWithSpan) -> Option<Range<usize>> {
        let start = self.offsets.byte(self.text, first.span.start)?;
        let end = self.offsets.byte(self.text, last.span.end)?;
        self.text.get(start..end)?;
        Some(start..end)
    }

    pub(crate) fn text(&self) -> &str {
        self.text
    }
}

/// The facts of `text` with its `PREPARE ... FROM '<literal>'` statements decided on
/// what they prepare; `None` when it has none. `inspect` gives the facts of one text.
pub fn facts(text: &str, mode: SqlMode, inspect: impl Fn(&str) -> SqlFacts) -> Option<SqlFacts> {
    let found = find(text, mode);
    if found.is_empty() {
        return None;
    }
    let mut rest = text.to_owned();
    for p in found.iter().rev() {
        rest.replace_range(p.span.clone(), "");
    }
    let mut merged = inspect(&rest);
    for p in &found {
        let inner = inspect(&p.inner);
        merged.statements.extend(inner.statements);
        if inner.unparsed {
            merged.unparsed = true;
            merged.parse_error = merged.parse_error.or(inner.parse_error);
        }
    }
    Some(merged)
}

pub(crate) fn is_word(t: &Token, word: &str) -> bool {
    matches!(t, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(word))
}

fn is_executable_comment(t: &Token) -> bool {
    matches!(t, Token::Whitespace(Whitespace::MultiLineComment(c)) if c.starts_with('!') || c.starts_with("M!"))
}

/// A prepared statement's name the way the server compares names, for the names Warden
/// follows: ASCII letters, digits, `_` and `$`, plain or in backquotes, compared without
/// case. `None` for any other token or name (the server's comparison of other names —
/// accents, trailing spaces — is not one Warden repeats).
pub fn statement_name(t: &Token) -> Option<String> {
    let Token::Word(w) = t else { return None };
    let plain = matches!(w.quote_style, None | Some('`'));
    let simple = !w.value.is_empty()
        && w.value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$');
    (plain && simple).then(|| w.value.to_ascii_lowercase())
}

fn one_statement(
    cut: &Cut<'_>,
    significant: &[&TokenWithSpan],
    mode: SqlMode,
) -> Option<PrepareFrom> {
    let [prepare, name, from, literal] = significant else {
        return None;
    };
    if !is_word(&prepare.token, "PREPARE")
        || !matches!(name.token, Token::Word(_))
        || !is_word(&from.token, "FROM")
    {
        return None;
    }
    let (raw, quote) = match &literal.token {
        Token::SingleQuotedString(s) => (s, '\''),
        Token::DoubleQuotedString(s) if !mode.ansi_quotes => (s, '"'),
        _ => return None,
    };
    if raw.contains('\\') && mode.backslash_literal() {
        return None;
    }
    let span = cut.span(prepare, literal)?;
    let text = &cut.text()[span.clone()];
    // The cut must be exactly the statement the tokens describe.
    if !text.get(..7)?.eq_ignore_ascii_case("PREPARE") || !text.ends_with(quote) {
        return None;
    }
    Some(PrepareFrom {
        span,
        name: statement_name(&name.token),
        inner: unescape(raw, quote, mode),
    })
}

/// The contents of a quoted literal (as written between its quotes) as the server reads
/// them: the quote doubled stands for itself, and — unless `NO_BACKSLASH_ESCAPES` —
/// `\0 \b \n \r \t \Z` are control characters, `\%` and `\_` stay as written (they are
/// LIKE escapes), and `\` before any other character stands for that character.
pub fn unescape(raw: &str, quote: char, mode: SqlMode) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if c == quote && chars.peek() == Some(&quote) {
            chars.next();
            out.push(quote);
        } else if c == '\\' && !mode.no_backslash_escapes {
            match chars.next() {
                Some('0') => out.push('\0'),
                Some('b') => out.push('\u{8}'),
                Some('n') => out.push('\n'),
                Some('r') => out.push('\r'),
                Some('t') => out.push('\t'),
                Some('Z') => out.push('\u{1a}'),
                Some(k @ ('%' | '_')) => {
                    out.push('\\');
                    out.push(k);
                }
                Some(other) => out.push(other),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Byte offsets of sqlparser locations (1-based lines, 1-based columns counted in
/// characters).
struct LineOffsets {
    starts: Vec<usize>,
}

impl LineOffsets {
    fn new(text: &str) -> LineOffsets {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineOffsets { starts }
    }

    fn byte(&self, text: &str, at: Location) -> Option<usize> {
        let line_start = *self
            .starts
            .get(usize::try_from(at.line).ok()?.checked_sub(1)?)?;
        let column = usize::try_from(at.column).ok()?.checked_sub(1)?;
        let line = &text[line_start..];
        match line.char_indices().nth(column) {
            Some((i, _)) => Some(line_start + i),
            None if line.chars().count() == column => Some(text.len()),
            None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULT: SqlMode = SqlMode {
        no_backslash_escapes: false,
        ansi_quotes: false,
    };

    fn inners(text: &str, mode: SqlMode) -> Vec<String> {
        find(text, mode).into_iter().map(|p| p.inner).collect()
    }

    #[test]
    fn finds_the_plain_form_and_its_exact_span() {
        let text = "SELECT 1;\n  prepare `s` FROM 'DROP TABLE t' ; SELECT 'é'; PREPARE u FROM \"DELETE FROM t\"";
        let found = find(text, DEFAULT);
        assert_eq!(found.len(), 2);
        assert_eq!(
            &text[found[0].span.clone()],
            "prepare `s` FROM 'DROP TABLE t'"
        );
        assert_eq!(found[0].inner, "DROP TABLE t");
        assert_eq!(
            &text[found[1].span.clone()],
            "PREPARE u FROM \"DELETE FROM t\""
        );
        assert_eq!(found[1].inner, "DELETE FROM t");
    }

    #[test]
    fn leaves_every_other_form_alone() {
        for text in [
            "PREPARE s FROM @q",
            "PREPARE s FROM 'DROP ' 'TABLE t'",
            "PREPARE s FROM _utf8mb4'DROP TABLE t'",
            "/*!50000 PREPARE s FROM 'DROP TABLE t' */",
            "PREPARE s /*!FROM*/ 'DROP TABLE t'",
            "SELECT 'PREPARE s FROM ''DROP TABLE t'''",
            "EXECUTE s",
        ] {
            assert!(find(text, DEFAULT).is_empty(), "{text}");
        }
        let ansi = SqlMode {
            ansi_quotes: true,
            ..DEFAULT
        };
        assert!(find("PREPARE s FROM \"DROP TABLE t\"", ansi).is_empty());
        assert_eq!(
            inners("PREPARE s FROM 'DROP TABLE t'", ansi),
            ["DROP TABLE t"]
        );
        let nbe = SqlMode {
            no_backslash_escapes: true,
            ..DEFAULT
        };
        assert!(find(r"PREPARE s FROM 'DROP TABLE t\'", nbe).is_empty());
    }

    #[test]
    fn unescapes_like_the_server() {
        assert_eq!(
            unescape(r"a''b\'c\\d\ne\%f\_g\qh", '\'', DEFAULT),
            "a'b'c\\d\ne\\%f\\_gqh"
        );
        assert_eq!(unescape(r#"a""b\"c"#, '"', DEFAULT), "a\"b\"c");
        let nbe = SqlMode {
            no_backslash_escapes: true,
            ansi_quotes: false,
        };
        assert_eq!(unescape(r"a''b\n", '\'', nbe), r"a'b\n");
        assert_eq!(
            inners(r"PREPARE s FROM 'DROP TABLE `t\`'", DEFAULT),
            ["DROP TABLE `t`"]
        );
    }

    #[test]
    fn facts_decide_what_is_prepared() {
        let inspect =
            |t: &str| warden_inspect::sql::inspect(t, warden_inspect::sql::Dialect::Mysql);
        let f = facts("SELECT 1; PREPARE s FROM 'DROP TABLE t'", DEFAULT, inspect).expect("found");
        let kinds: Vec<&str> = f.statements.iter().map(|s| s.kind.name()).collect();
        assert_eq!(kinds, ["select", "drop"]);
        assert!(!f.unparsed);
        let f = facts("PREPARE s FROM 'DELETE FROM t'", DEFAULT, inspect).expect("found");
        assert!(f.statements[0].without_where);
        // a comment left open inside the string cannot hide the rest of the text
        let f = facts(
            "PREPARE s FROM 'SELECT 1 /*'; DROP TABLE u; SELECT '*/'",
            DEFAULT,
            inspect,
        )
        .expect("found");
        assert!(f.statements.iter().any(|s| s.kind.name() == "drop") || f.unparsed);
        assert!(facts("SELECT 1", DEFAULT, inspect).is_none());
        // what is left of a text made only of PREPAREs has no statement (see
        // SessionInfo::only_prepares)
        for rest in [" ", " ; ", "  ;\n -- done\n", " ; /* x */ ;"] {
            let f = inspect(rest);
            assert!(f.statements.is_empty() && !f.unparsed, "{rest:?}: {f:?}");
        }
    }
}
