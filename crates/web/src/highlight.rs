//! Syntax highlighting of the held text (SQL keywords, strings, numbers, comments)
//! as escaped HTML. The whole text is always rendered: nothing is ever cut.

use maud::{html, Markup};

const KEYWORDS: &[&str] = &[
    "ALTER",
    "AND",
    "AS",
    "BEGIN",
    "BY",
    "CASCADE",
    "COMMIT",
    "COPY",
    "CREATE",
    "DELETE",
    "DISTINCT",
    "DROP",
    "EXECUTE",
    "EXISTS",
    "FROM",
    "GRANT",
    "GROUP",
    "HAVING",
    "IN",
    "INDEX",
    "INSERT",
    "INTO",
    "IS",
    "JOIN",
    "LIMIT",
    "NOT",
    "NULL",
    "ON",
    "OR",
    "ORDER",
    "RETURNING",
    "REVOKE",
    "ROLLBACK",
    "SELECT",
    "SET",
    "TABLE",
    "TRUNCATE",
    "UPDATE",
    "USING",
    "VALUES",
    "WHERE",
    "WITH",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Plain,
    Keyword,
    Str,
    Num,
    Comment,
}

fn tokens(text: &str) -> Vec<(Class, &str)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        let c = bytes[i];
        let class = if c == b'-' && bytes.get(i + 1) == Some(&b'-') {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
            Class::Comment
        } else if c == b'/' && bytes.get(i + 1) == Some(&b'*') {
            i += 2;
            while i < bytes.len() && !(bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/')) {
                i += 1;
            }
            i = (i + 2).min(bytes.len());
            Class::Comment
        } else if c == b'\'' {
            i += 1;
            while i < bytes.len() {
                if bytes[i] == b'\'' {
                    if bytes.get(i + 1) == Some(&b'\'') {
                        i += 2;
                        continue;
                    }
                    i += 1;
                    break;
                }
                i += 1;
            }
            Class::Str
        } else if c.is_ascii_digit() {
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'.') {
                i += 1;
            }
            Class::Num
        } else if c.is_ascii_alphabetic() || c == b'_' {
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            let word = &text[start..i];
            if KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(word)) {
                Class::Keyword
            } else {
                Class::Plain
            }
        } else {
            // Advance by one whole UTF-8 character.
            i += text[i..].chars().next().map_or(1, char::len_utf8);
            Class::Plain
        };
        // All boundaries above are ASCII bytes or char ends, so slicing is valid.
        out.push((class, &text[start..i]));
    }
    out
}

/// The text as a `<pre><code>` block, highlighted when it is SQL.
pub fn code_block(text: &str, sql: bool) -> Markup {
    html! {
        pre.code data-len=(text.len()) {
            code {
                @if sql {
                    @for (class, tok) in tokens(text) {
                        @match class {
                            Class::Plain => (tok),
                            Class::Keyword => span.kw { (tok) },
                            Class::Str => span.str { (tok) },
                            Class::Num => span.num { (tok) },
                            Class::Comment => span.com { (tok) },
                        }
                    }
                } @else {
                    (text)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_is_kept_and_escaped() {
        let sql = "DELETE FROM t WHERE n = 'a''<b>' -- é\n/* x */ AND id = 42";
        let joined: String = tokens(sql).iter().map(|(_, t)| *t).collect();
        assert_eq!(joined, sql);
        let html = code_block(sql, true).into_string();
        assert!(html.contains("<span class=\"kw\">DELETE</span>"));
        assert!(html.contains("&lt;b&gt;"));
        assert!(!html.contains("<b>"));
        assert!(html.contains("<span class=\"num\">42</span>"));
    }

    #[test]
    fn unterminated_string_and_comment_do_not_panic() {
        for s in ["'abc", "/* abc", "--", "é'", "0x"] {
            let joined: String = tokens(s).iter().map(|(_, t)| *t).collect();
            assert_eq!(joined, s);
        }
    }
}
