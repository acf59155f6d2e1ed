//! The *literal shape* of a SQL string: the text with every plain number and every plain
//! single-quoted string replaced by a placeholder (`?n`, `?s`), so that statements that
//! differ only in their literal values (`... WHERE aid = 1`, `... WHERE aid = 2`) share
//! one cache entry for their inspection facts.
//!
//! Sound only because inspection never lets a plain literal's *value* change the facts
//! (kinds, objects, WHERE presence, writes, opacity): the one exception, `EXPLAIN
//! (ANALYZE 'off')`, is excluded by refusing any text that mentions `explain`; where the
//! parser reads a literal as a name (`ANALYZE 'orders'`), [`facts_use_literal`] tells the
//! cache to keep those facts under the exact text only. To stay
//! sound the lexer here is deliberately narrow: it returns `None` — no shape, the caller
//! falls back to the exact text — for anything it could misread: comments (`--`, `/*`,
//! MySQL `#`), dollar quotes and parameters (`$`), double quotes and backticks, backslashes
//! anywhere, prefixed strings (`E'..'`, `N'..'`, `X'..'`, `U&'..'`), `?`, braces, non-ASCII
//! outside strings, and numbers that run into letters, dots or underscores (`1e`, `0x1f`,
//! `1_000`, `1.2.3`). `tests/sql_shape.rs` checks the claim differentially: for generated
//! and corpus statements, facts(text) == facts(text with different literal values).
//!
//! Must never return the same shape for two texts whose facts can differ.

/// Placeholder for a number literal (`?` never survives in a shaped text otherwise).
const NUMBER: &str = "?n";
/// Placeholder for a single-quoted string literal.
const STRING: &str = "?s";

/// Punctuation that can appear outside literals in a shaped statement.
fn plain_punct(b: u8) -> bool {
    matches!(
        b,
        b'(' | b')'
            | b','
            | b'.'
            | b'='
            | b'<'
            | b'>'
            | b'+'
            | b'-'
            | b'*'
            | b'/'
            | b'%'
            | b';'
            | b':'
            | b'['
            | b']'
            | b'|'
            | b'&'
            | b'!'
            | b'^'
            | b'~'
            | b' '
            | b'\t'
            | b'\n'
            | b'\r'
    )
}

fn ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The literal shape of `text`, or `None` when the text uses anything outside the narrow
/// grammar above (then only the exact text may be cached).
pub fn literal_shape(text: &str) -> Option<String> {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    // Start of the current run of bytes copied verbatim.
    let mut copied = 0;
    while i < b.len() {
        let c = b[i];
        let prev = if i == 0 { b' ' } else { b[i - 1] };
        if c == b'\'' {
            // A quote right after an identifier byte or `&` is a prefixed string.
            if ident_byte(prev) || prev == b'&' {
                return None;
            }
            let end = string_end(b, i + 1)?;
            out.push_str(text.get(copied..i)?);
            out.push_str(STRING);
            i = end;
            copied = i;
            continue;
        }
        if c.is_ascii_digit() && !ident_byte(prev) {
            if prev == b'.' {
                return None;
            }
            let end = number_end(b, i)?;
            out.push_str(text.get(copied..i)?);
            out.push_str(NUMBER);
            i = end;
            copied = i;
            continue;
        }
        if ident_byte(c) {
            i += 1;
            continue;
        }
        if !plain_punct(c) {
            return None;
        }
        let next = b.get(i + 1).copied().unwrap_or(b' ');
        if (c == b'-' && next == b'-') || (c == b'/' && next == b'*') || (c == b'*' && next == b'/')
        {
            return None;
        }
        i += 1;
    }
    out.push_str(text.get(copied..)?);
    if mentions_explain(&out) {
        return None;
    }
    Some(out)
}

/// Index just past the closing quote of a string whose body starts at `from`; `''` is
/// an escaped quote. `None` for an unterminated string or a backslash inside it.
fn string_end(b: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    loop {
        match b.get(i)? {
            b'\\' => return None,
            b'\'' if b.get(i + 1) == Some(&b'\'') => i += 2,
            b'\'' => return Some(i + 1),
            _ => i += 1,
        }
    }
}

/// Index just past a number starting at `from`: digits, an optional fraction, an
/// optional exponent. `None` when the number runs into anything identifier-like.
fn number_end(b: &[u8], from: usize) -> Option<usize> {
    let digits = |mut i: usize| {
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        i
    };
    let mut i = digits(from);
    if b.get(i) == Some(&b'.') && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
        i = digits(i + 1);
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        let mut j = i + 1;
        if matches!(b.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        if !b.get(j).is_some_and(u8::is_ascii_digit) {
            return None;
        }
        i = digits(j);
    }
    match b.get(i) {
        Some(&n) if ident_byte(n) || n == b'.' => None,
        _ => Some(i),
    }
}

/// True when a literal's value shows up in the facts of `text` as an object name (or a
/// dot-separated part of one, compared case-insensitively): the parser read a literal as
/// a name (`ANALYZE 'orders'` names the table `orders`), so facts of another text with
/// the same shape could differ. Callers must then not share these facts under the shape.
pub fn facts_use_literal(text: &str, facts: &super::SqlFacts) -> bool {
    let values = literal_values(text);
    if values.is_empty() {
        return false;
    }
    let names_a_value = |name: &str| {
        values.iter().any(|v| {
            name.eq_ignore_ascii_case(v) || name.split('.').any(|p| p.eq_ignore_ascii_case(v))
        })
    };
    facts
        .statements
        .iter()
        .flat_map(|st| st.objects.iter())
        .any(|o| names_a_value(o))
}

/// The values of the plain string literals (`''` unescaped) and number literals of a text
/// that has a literal shape.
fn literal_values(text: &str) -> Vec<String> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let prev = if i == 0 { b' ' } else { b[i - 1] };
        if b[i] == b'\'' {
            let Some(end) = string_end(b, i + 1) else {
                break;
            };
            let body = text.get(i + 1..end - 1).unwrap_or_default();
            out.push(body.replace("''", "'"));
            i = end;
        } else if b[i].is_ascii_digit() && !ident_byte(prev) {
            let end = number_end(b, i).unwrap_or(b.len());
            out.push(text.get(i..end).unwrap_or_default().to_string());
            i = end.max(i + 1);
        } else {
            i += 1;
        }
    }
    out
}

fn mentions_explain(shaped: &str) -> bool {
    shaped
        .as_bytes()
        .windows(7)
        .any(|w| w.eq_ignore_ascii_case(b"explain"))
}

#[cfg(test)]
mod tests {
    use super::literal_shape;

    #[test]
    fn literals_become_placeholders() {
        assert_eq!(
            literal_shape("SELECT abalance FROM pgbench_accounts WHERE aid = 42;").as_deref(),
            Some("SELECT abalance FROM pgbench_accounts WHERE aid = ?n;")
        );
        assert_eq!(
            literal_shape("UPDATE t SET a = 'it''s', b = -1.5e3 WHERE id IN (1,2)").as_deref(),
            Some("UPDATE t SET a = ?s, b = -?n WHERE id IN (?n,?n)")
        );
        assert_eq!(
            literal_shape("select t1.c2 from t1").as_deref(),
            Some("select t1.c2 from t1")
        );
    }

    #[test]
    fn a_literal_read_as_a_name_is_seen() {
        use crate::sql::{inspect, Dialect};
        for text in ["ANALYZE ''", "ANALYZE 'off'", "ANALYZE 'Orders'"] {
            let facts = inspect(text, Dialect::Postgres);
            assert!(super::facts_use_literal(text, &facts), "{text}: {facts:?}");
        }
        for text in [
            "SELECT * FROM orders WHERE id = 1",
            "UPDATE t1 SET a = 'x' WHERE id = 2",
        ] {
            let facts = inspect(text, Dialect::Postgres);
            assert!(!super::facts_use_literal(text, &facts), "{text}: {facts:?}");
        }
    }

    #[test]
    fn anything_it_could_misread_has_no_shape() {
        for text in [
            "SELECT 1 -- comment",
            "SELECT /* c */ 1",
            "SELECT 1 # mysql comment",
            "SELECT $1",
            "SELECT $$x$$",
            "SELECT \"Col\" FROM t",
            "SELECT `c` FROM t",
            "SELECT E'a\\'b'",
            "SELECT 'a\\'; DROP TABLE t; --'",
            "SELECT N'x'",
            "SELECT U&'x'",
            "SELECT x'ff'",
            "SELECT data ? 'k' FROM t",
            "SELECT 'unterminated",
            "SELECT 1e FROM t",
            "SELECT 0x1f",
            "SELECT 1_000",
            "SELECT 1.2.3",
            "SELECT .5",
            "EXPLAIN (ANALYZE 'off') DELETE FROM t",
            "explain analyze select 1",
            "SELECT {fn now()}",
            "SELECT 'é' FROM tëst",
        ] {
            assert_eq!(literal_shape(text), None, "{text}");
        }
    }

    #[test]
    fn texts_differing_only_in_literals_share_a_shape() {
        let a = literal_shape("DELETE FROM t WHERE id = 1 AND n = 'x'");
        let b = literal_shape("DELETE FROM t WHERE id = 99999 AND n = 'a '' ; drop table t'");
        assert!(a.is_some());
        assert_eq!(a, b);
        assert_ne!(a, literal_shape("DELETE FROM t WHERE id = 'x' AND n = 1"));
    }
}
