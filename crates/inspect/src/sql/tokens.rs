//! Tokenising one SQL string and cutting it into statements, before any parsing.
//!
//! Three things happen here, all on sqlparser's tokens (never on raw text):
//! * MySQL executable comments (`/*! ... */`, `/*!50001 ... */`, MariaDB `/*M! ... */`)
//!   are *executed* by the server, so their bodies are tokenised and spliced in place of
//!   the comment. Treating them as comments would hide `SELECT 1 /*! ; DROP TABLE t */`.
//! * PostgreSQL `U&"..."` identifiers are decoded into ordinary quoted identifiers, since
//!   the tokenizer sees them as `U`, `&`, `"..."`. A `UESCAPE` clause is refused.
//! * The token stream is split at top-level `;` into statements, and a statement whose
//!   operator chains are too long is refused (deep expression trees would exhaust the
//!   stack of whoever walks or drops them).
//!
//! Anything this module cannot do exactly is an error, which makes the string unparsed.
//!
//! Tokens carry empty spans, exactly as `Parser::with_tokens` would give them, so the
//! parser sees the same input as before while the token vector goes to it unconverted.

use sqlparser::dialect::{Dialect as SqlDialect, MySqlDialect, PostgreSqlDialect};
use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::{Span, Token, TokenWithSpan, Tokenizer, Whitespace, Word};

use super::Dialect;

/// Deepest operator nesting a statement may have (see `within_complexity_bounds`).
pub(crate) const MAX_EXPR_DEPTH: usize = 400;

pub(crate) static POSTGRES: PostgreSqlDialect = PostgreSqlDialect {};
pub(crate) static MYSQL: MySqlDialect = MySqlDialect {};

pub(crate) fn sql_dialect(dialect: Dialect) -> &'static dyn SqlDialect {
    match dialect {
        Dialect::Postgres => &POSTGRES,
        Dialect::Mysql => &MYSQL,
    }
}

/// Most tokens reserved up front (a token is at least one character, usually more).
const MAX_PRESIZED_TOKENS: usize = 1024;

/// Tokenise `text`, expanding what the server would expand. Comments and whitespace are
/// kept (the parser skips them) except executable comments, which are replaced.
pub(crate) fn tokenize(text: &str, dialect: Dialect) -> Result<Vec<TokenWithSpan>, String> {
    let mut tokens = Vec::with_capacity((text.len() / 2).min(MAX_PRESIZED_TOKENS) + 2);
    Tokenizer::new(sql_dialect(dialect), text)
        .tokenize_with_location_into_buf(&mut tokens)
        .map_err(|e| e.to_string())?;
    for t in &mut tokens {
        t.span = Span::empty();
    }
    match dialect {
        Dialect::Mysql => expand_executable_comments(tokens, 0),
        Dialect::Postgres => decode_unicode_identifiers(tokens).map(strip_inheritance_only),
    }
}

fn is_bare_word(t: &Token, word: &str) -> bool {
    matches!(t, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(word))
}

/// PostgreSQL's `FROM ONLY t` / `UPDATE ONLY t` / `JOIN ONLY t` exclude inheritance
/// children; sqlparser reads `ONLY` there as a table named `only` aliased `t`. `ONLY` is
/// reserved in PostgreSQL, so dropping it at those positions keeps the real table name.
fn strip_inheritance_only(tokens: Vec<TokenWithSpan>) -> Vec<TokenWithSpan> {
    if !tokens.iter().any(|t| is_bare_word(&t.token, "only")) {
        return tokens;
    }
    let mut out: Vec<TokenWithSpan> = Vec::with_capacity(tokens.len());
    let mut last_significant: Option<usize> = None;
    for token in tokens {
        if is_bare_word(&token.token, "only") {
            let after_table_keyword = last_significant.is_some_and(|i| {
                ["from", "update", "join", "table"]
                    .iter()
                    .any(|k| is_bare_word(&out[i].token, k))
            });
            if after_table_keyword {
                continue;
            }
        }
        if !matches!(token.token, Token::Whitespace(_)) {
            last_significant = Some(out.len());
        }
        out.push(token);
    }
    out
}

/// The body of a MySQL/MariaDB executable comment, without its marker and version.
fn executable_body(comment: &str) -> Option<&str> {
    let rest = comment
        .strip_prefix('!')
        .or_else(|| comment.strip_prefix("M!"))?;
    // A version number (`50001`, `100201`) directly follows the marker.
    Some(rest.trim_start_matches(|c: char| c.is_ascii_digit()))
}

fn expand_executable_comments(
    tokens: Vec<TokenWithSpan>,
    depth: usize,
) -> Result<Vec<TokenWithSpan>, String> {
    if depth > 4 {
        return Err("executable comments nested too deeply".into());
    }
    let executable = |t: &TokenWithSpan| matches!(&t.token, Token::Whitespace(Whitespace::MultiLineComment(c)) if executable_body(c).is_some());
    if !tokens.iter().any(executable) {
        return Ok(tokens);
    }
    let mut out = Vec::with_capacity(tokens.len());
    for token in tokens {
        let body = match &token.token {
            Token::Whitespace(Whitespace::MultiLineComment(c)) => executable_body(c),
            _ => None,
        };
        let Some(body) = body else {
            out.push(token);
            continue;
        };
        let inner = Tokenizer::new(&MYSQL, body)
            .tokenize()
            .map_err(|e| format!("in executable comment: {e}"))?
            .into_iter()
            .map(TokenWithSpan::wrap)
            .collect();
        // Keep the body apart from its neighbours, as the server does.
        out.push(TokenWithSpan::wrap(Token::Whitespace(Whitespace::Space)));
        out.extend(expand_executable_comments(inner, depth + 1)?);
        out.push(TokenWithSpan::wrap(Token::Whitespace(Whitespace::Space)));
    }
    Ok(out)
}

fn decode_unicode_identifiers(tokens: Vec<TokenWithSpan>) -> Result<Vec<TokenWithSpan>, String> {
    let is_u = |t: &Token| matches!(t, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case("u"));
    if !tokens
        .windows(2)
        .any(|w| is_u(&w[0].token) && w[1].token == Token::Ampersand)
    {
        return Ok(tokens);
    }
    let mut out: Vec<TokenWithSpan> = Vec::with_capacity(tokens.len());
    let mut iter = tokens.into_iter().map(|t| t.token).peekable();
    while let Some(token) = iter.next() {
        if !is_u(&token) || iter.peek() != Some(&Token::Ampersand) {
            out.push(TokenWithSpan::wrap(token));
            continue;
        }
        let amp = iter.next().unwrap_or(Token::Ampersand);
        match iter.peek() {
            Some(Token::Word(w)) if w.quote_style == Some('"') => {
                let value = decode_unicode_escapes(&w.value)?;
                iter.next();
                out.push(TokenWithSpan::wrap(Token::Word(Word {
                    value,
                    quote_style: Some('"'),
                    keyword: Keyword::NoKeyword,
                })));
                let next_word = iter.clone().find(|t| !matches!(t, Token::Whitespace(_)));
                if matches!(&next_word, Some(Token::Word(w)) if w.value.eq_ignore_ascii_case("uescape"))
                {
                    return Err("U&\"...\" UESCAPE is not supported by inspection".into());
                }
            }
            _ => {
                out.push(TokenWithSpan::wrap(token));
                out.push(TokenWithSpan::wrap(amp));
            }
        }
    }
    Ok(out)
}

/// Decode PostgreSQL's `\XXXX`, `\+XXXXXX` and `\\` escapes (default escape character).
fn decode_unicode_escapes(s: &str) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let rest = chars.as_str();
        let (len, skip) = match rest.chars().next() {
            Some('\\') => {
                out.push('\\');
                chars.next();
                continue;
            }
            Some('+') => (6, 1),
            _ => (4, 0),
        };
        let hex = rest
            .get(skip..skip + len)
            .ok_or("bad unicode escape in U&\"...\"")?;
        let code = u32::from_str_radix(hex, 16).map_err(|_| "bad unicode escape in U&\"...\"")?;
        let ch = char::from_u32(code).ok_or("bad unicode code point in U&\"...\"")?;
        if ch == '\0' {
            return Err("NUL in U&\"...\" identifier".into());
        }
        out.push(ch);
        for _ in 0..skip + len {
            chars.next();
        }
    }
    Ok(out)
}

/// Split at top-level `;`. Statements made only of whitespace/comments are dropped.
///
/// Cuts from the end, so every token is moved at most once whatever the number of
/// statements, and a string with no `;` (the common case) is not copied at all.
pub(crate) fn split_statements(mut tokens: Vec<TokenWithSpan>) -> Vec<Vec<TokenWithSpan>> {
    let mut out = Vec::new();
    while let Some(i) = tokens
        .iter()
        .rposition(|t| matches!(t.token, Token::SemiColon))
    {
        let tail = tokens.split_off(i + 1);
        tokens.truncate(i);
        push_if_real(&mut out, tail);
    }
    push_if_real(&mut out, tokens);
    out.reverse();
    out
}

fn push_if_real(out: &mut Vec<Vec<TokenWithSpan>>, chunk: Vec<TokenWithSpan>) {
    if chunk
        .iter()
        .any(|t| !matches!(t.token, Token::Whitespace(_)))
    {
        out.push(chunk);
    }
}

/// Whether a statement's expressions are shallow enough to parse, walk and drop safely.
///
/// Binary operators chain into left-deep trees that sqlparser builds without recursion
/// (so its recursion limit does not apply) but that any walk or drop recurses through.
/// The depth estimate counts operators in comma-free runs, summed over the enclosing
/// parentheses, which bounds the tree depth from above.
pub(crate) fn within_complexity_bounds(chunk: &[TokenWithSpan]) -> bool {
    // Operators counted at each open parenthesis level; the sum is the depth estimate.
    let mut runs: Vec<usize> = vec![0];
    let mut depth = 0usize;
    for t in chunk {
        match &t.token {
            Token::Whitespace(_) => continue,
            Token::Comma => {
                if let Some(top) = runs.last_mut() {
                    depth -= *top;
                    *top = 0;
                }
                continue;
            }
            Token::LParen | Token::LBracket => {
                runs.push(0);
                continue;
            }
            Token::RParen | Token::RBracket => {
                if runs.len() > 1 {
                    if let Some(top) = runs.pop() {
                        depth -= top;
                    }
                }
                continue;
            }
            Token::Word(w) if !(w.quote_style.is_none() && is_operator_word(w.keyword)) => continue,
            Token::Number(..)
            | Token::SingleQuotedString(_)
            | Token::DoubleQuotedString(_)
            | Token::NationalStringLiteral(_)
            | Token::EscapedStringLiteral(_)
            | Token::UnicodeStringLiteral(_)
            | Token::HexStringLiteral(_)
            | Token::DollarQuotedString(_)
            | Token::Placeholder(_) => continue,
            _ => {}
        }
        if let Some(top) = runs.last_mut() {
            *top += 1;
        }
        depth += 1;
        if depth > MAX_EXPR_DEPTH {
            return false;
        }
    }
    true
}

/// Keywords that act as binary operators and can chain (a `match`, not a list scan:
/// this runs for every word of every statement).
fn is_operator_word(k: Keyword) -> bool {
    matches!(
        k,
        Keyword::AND
            | Keyword::OR
            | Keyword::XOR
            | Keyword::IS
            | Keyword::NOT
            | Keyword::LIKE
            | Keyword::ILIKE
            | Keyword::SIMILAR
            | Keyword::IN
            | Keyword::BETWEEN
            | Keyword::COLLATE
            | Keyword::AT
            | Keyword::OVERLAPS
            | Keyword::REGEXP
            | Keyword::RLIKE
            | Keyword::DIV
            | Keyword::MOD
            | Keyword::MEMBER
    )
}

/// The non-whitespace tokens of a statement (for the fallback classifier).
pub(crate) fn significant(chunk: &[TokenWithSpan]) -> impl Iterator<Item = &Token> {
    chunk
        .iter()
        .map(|t| &t.token)
        .filter(|t| !matches!(t, Token::Whitespace(_)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_unicode_escapes() {
        assert_eq!(
            decode_unicode_escapes(r"d\0061t\+000061").as_deref(),
            Ok("data")
        );
        assert!(decode_unicode_escapes(r"d\00").is_err());
        assert!(decode_unicode_escapes(r"\0000").is_err());
    }

    #[test]
    fn executable_comment_bodies() {
        assert_eq!(
            executable_body("!50001 DROP TABLE t "),
            Some(" DROP TABLE t ")
        );
        assert_eq!(executable_body("M!100201 x"), Some(" x"));
        assert_eq!(executable_body(" plain "), None);
        assert_eq!(executable_body("+ hint "), None);
    }
}
