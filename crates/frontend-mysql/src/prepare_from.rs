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
    /// The statement inside the literal, as the server reads it.
    pub inner: String,
}

/// Every plain `PREPARE ... FROM '<literal>'` statement of `text` (see the module docs for
/// what is left alone). Empty when there is none or `text` cannot be tokenised.
pub fn find(text: &str, mode: SqlMode) -> Vec<PrepareFrom> {
    if !text
        .as_bytes()
        .windows(7)
        .any(|w| w.eq_ignore_ascii_case(b"PREPARE"))
    {
        return Vec::new();
    }
    let Ok(tokens) = Tokenizer::new(&MySqlDialect {}, text)
        .with_unescape(false)
        .tokenize_with_location()
    else {
        return Vec::new();
    };
    let offsets = LineOffsets::new(text);
    tokens
        .split(|t| t.token == Token::SemiColon)
        .filter_map(|chunk| one_statement(text, chunk, mode, &offsets))
        .collect()
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

fn is_word(t: &Token, word: &str) -> bool {
    matches!(t, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(word))
}

fn is_executable_comment(t: &Token) -> bool {
    matches!(t, Token::Whitespace(Whitespace::MultiLineComment(c)) if c.starts_with('!') || c.starts_with("M!"))
}

fn one_statement(
    text: &str,
    chunk: &[TokenWithSpan],
    mode: SqlMode,
    offsets: &LineOffsets,
) -> Option<PrepareFrom> {
    if chunk.iter().any(|t| is_executable_comment(&t.token)) {
        return None;
    }
    let significant: Vec<&TokenWithSpan> = chunk
        .iter()
        .filter(|t| !matches!(t.token, Token::Whitespace(_)))
        .collect();
    let [prepare, name, from, literal] = significant.as_slice() else {
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
    let start = offsets.byte(text, prepare.span.start)?;
    let end = offsets.byte(text, literal.span.end)?;
    let cut = text.get(start..end)?;
    // The cut must be exactly the statement the tokens describe.
    if !cut.get(..7)?.eq_ignore_ascii_case("PREPARE") || !cut.ends_with(quote) {
        return None;
    }
    Some(PrepareFrom {
        span: start..end,
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
    }
}
