//! Checks on statement text made before inspection, for the ways the server could read
//! a statement differently from Warden's inspector. Each is deliberately coarse: it
//! looks at every word of the text (inside comments and strings too), so it can refuse
//! an innocent statement but cannot be hidden from by quoting or `/*! */` comments.
//!
//! * `LOAD DATA LOCAL` / `LOAD XML LOCAL`: refused (the upstream is never offered
//!   `CLIENT_LOCAL_FILES` either, so this is defence in depth).
//! * Multi-byte character sets whose second byte can be `\` or `'` (big5, sjis, gbk,
//!   cp932, gb18030, ...): switching to one (`SET NAMES`, `SET CHARACTER SET`,
//!   `character_set_client = ...`, also from a variable) is refused, and so is a client
//!   handshake announcing one ([`unsafe_collation`]).
//! * `sql_mode` and the character set are **tracked**: a text that may change them
//!   ([`changes_session`]: `SET ... sql_mode`, `SET NAMES`, `SET CHARACTER SET`,
//!   `character_set_client`/`_connection`, `EXECUTE`, `CALL`) must be one statement on its
//!   own — the server would read the rest of a multi-statement text under the new
//!   setting — and Warden reads both back from the upstream session after it ran.
//!   `SET STATEMENT sql_mode = ... FOR ...` (MariaDB) is refused: its statement is read
//!   under a mode Warden never sees. When the session runs with `NO_BACKSLASH_ESCAPES`
//!   or `ANSI_QUOTES` (`ANSI`, `ORACLE`, ... include it), [`backslash_literal_reading`]
//!   gives a statement as the server reads it, and a statement whose two readings differ
//!   is refused.
//!
//! Must never rewrite what is forwarded: these only decide whether text may be decided.

/// What of the session's `sql_mode` changes how text is lexed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SqlMode {
    /// `\` is an ordinary character inside strings.
    pub no_backslash_escapes: bool,
    /// `"` quotes identifiers, not strings (set by `ANSI` too).
    pub ansi_quotes: bool,
}

impl SqlMode {
    /// From the value of `@@SESSION.sql_mode` (the server lists combination modes such
    /// as `ANSI` expanded, so `ANSI_QUOTES` is named when it applies).
    pub fn parse(mode: &str) -> SqlMode {
        let has = |m: &str| mode.split(',').any(|x| x.trim().eq_ignore_ascii_case(m));
        SqlMode {
            no_backslash_escapes: has("NO_BACKSLASH_ESCAPES"),
            ansi_quotes: has("ANSI_QUOTES"),
        }
    }

    /// Whether some quoted text is read with backslashes as ordinary characters
    /// (strings under `NO_BACKSLASH_ESCAPES`, `"` identifiers under `ANSI_QUOTES`),
    /// unlike the inspector's default reading.
    pub fn backslash_literal(self) -> bool {
        self.no_backslash_escapes || self.ansi_quotes
    }
}

/// Character sets where a multi-byte character may end in `0x5c` (`\`) or similar.
const UNSAFE_CHARSETS: &[&str] = &[
    "BIG5", "SJIS", "GBK", "CP932", "GB18030", "EUCJPMS", "UJIS", "GB2312",
];

/// Collation ids of those character sets (as a client announces in its handshake).
const UNSAFE_COLLATIONS: &[u8] = &[
    1, 84, // big5
    13, 88, // sjis
    28, 87, // gbk
    95, 96, // cp932
    97, 98, // eucjpms
    12, 91, // ujis
    24, 86, // gb2312
    248, 249, 250, // gb18030
];

/// Whether a character set name (as `@@character_set_client` reads) is one of the
/// unsafe multi-byte sets.
pub fn unsafe_charset(name: &str) -> bool {
    UNSAFE_CHARSETS
        .iter()
        .any(|c| c.eq_ignore_ascii_case(name.trim()))
}

/// Whether a handshake collation id belongs to an unsafe multi-byte character set.
pub fn unsafe_collation(id: u8) -> bool {
    UNSAFE_COLLATIONS.contains(&id)
}

/// Every word of `sql`, upper-cased, with whether it was preceded by `@`.
fn words(sql: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut at = false;
    let mut prev = ' ';
    for c in sql.chars() {
        if c.is_ascii_alphanumeric() || c == '_' || c == '$' {
            if current.is_empty() {
                at = prev == '@';
            }
            current.push(c.to_ascii_uppercase());
        } else if !current.is_empty() {
            out.push((std::mem::take(&mut current), at));
        }
        prev = c;
    }
    if !current.is_empty() {
        out.push((current, at));
    }
    out
}

/// Whether any of `list` (upper case) is a word of `sql`, anywhere (comments and strings
/// included).
pub fn mentions_any(sql: &str, list: &[&str]) -> bool {
    words(sql).iter().any(|(w, _)| list.contains(&w.as_str()))
}

/// Why Warden refuses to decide `sql` at all, if it does.
pub fn refusal(sql: &str) -> Option<String> {
    let w = words(sql);
    let has = |word: &str| w.iter().any(|(x, _)| x == word);
    let load = w.iter().position(|(x, _)| x == "LOAD");
    if let Some(i) = load {
        if w[i..].iter().any(|(x, _)| x == "LOCAL") {
            return Some(
                "LOAD ... LOCAL (reading a file from the client) is not allowed through Warden"
                    .into(),
            );
        }
    }
    for (i, (word, _)) in w.iter().enumerate() {
        let sets_charset = match word.as_str() {
            "NAMES" | "CHARSET" => i > 0 && w[i - 1].0 == "SET",
            "CHARACTER" => {
                i > 0 && w[i - 1].0 == "SET" && w.get(i + 1).is_some_and(|n| n.0 == "SET")
            }
            "CHARACTER_SET_CLIENT" | "CHARACTER_SET_CONNECTION" => true,
            _ => false,
        };
        if !sets_charset {
            continue;
        }
        let skip = usize::from(word == "CHARACTER") + 1;
        let value = w.get(i + skip);
        let unsafe_value = match value {
            Some((v, from_variable)) => *from_variable || UNSAFE_CHARSETS.contains(&v.as_str()),
            None => false,
        };
        if unsafe_value {
            return Some(
                "switching the connection to a multi-byte character set Warden cannot inspect safely (big5, sjis, gbk, cp932, gb18030, ...) or to one from a variable is not allowed".into(),
            );
        }
    }
    if has("SQL_MODE") && has("SET") && has("STATEMENT") {
        return Some("SET STATEMENT sql_mode = ... FOR ... is not allowed through Warden (the statement would be read under a mode Warden does not see); set sql_mode with its own SET".into());
    }
    None
}

/// Whether running `sql` may change the session's `sql_mode` or character set (so that
/// Warden must read them back afterwards, and `sql` must be a statement of its own).
pub fn changes_session(sql: &str) -> bool {
    let w = words(sql);
    let has = |word: &str| w.iter().any(|(x, _)| x == word);
    let sets = has("SET")
        && (has("SQL_MODE")
            || has("NAMES")
            || has("CHARSET")
            || has("CHARACTER")
            || has("CHARACTER_SET_CLIENT")
            || has("CHARACTER_SET_CONNECTION"));
    sets || has("EXECUTE") || has("CALL")
}

/// `sql` as the server reads it when a backslash is an ordinary character inside quotes
/// (`NO_BACKSLASH_ESCAPES`, or `"` under `ANSI_QUOTES`), written for the default
/// reading: every `\` doubled. `None` when there is no backslash (both readings agree).
pub fn backslash_literal_reading(sql: &str) -> Option<String> {
    sql.contains('\\').then(|| sql.replace('\\', "\\\\"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_local_is_refused_however_written() {
        assert!(refusal("LOAD DATA LOCAL INFILE '/etc/passwd' INTO TABLE t").is_some());
        assert!(refusal("load data /*!local*/ infile 'x' into table t").is_some());
        assert!(refusal("SELECT 1; LOAD XML LOCAL INFILE 'x' INTO TABLE t").is_some());
        assert!(refusal("LOAD DATA INFILE '/tmp/x' INTO TABLE t").is_none());
        assert!(refusal("SELECT local FROM t").is_none());
    }

    #[test]
    fn unsafe_charset_switches_are_refused() {
        assert!(refusal("SET NAMES gbk").is_some());
        assert!(refusal("/*!40101 SET NAMES sjis */").is_some());
        assert!(refusal("SET CHARACTER SET big5").is_some());
        assert!(refusal("SET character_set_client = @x").is_some());
        assert!(refusal("SET @@session.character_set_client = 'cp932'").is_some());
        assert!(refusal("SET NAMES utf8mb4").is_none());
        assert!(refusal("SELECT names FROM gbk").is_none());
        assert!(refusal("SET sql_mode = 'NO_BACKSLASH_ESCAPES'").is_none());
        assert!(refusal("SET STATEMENT sql_mode = 'ANSI' FOR SELECT \"a\\\" FROM t").is_some());
        assert!(refusal("SELECT @@sql_mode").is_none());
        assert!(unsafe_charset("gbk") && unsafe_charset(" SJIS") && !unsafe_charset("utf8mb4"));
        assert!(unsafe_collation(28) && !unsafe_collation(45));
    }

    #[test]
    fn session_changes_are_noticed_however_written() {
        for sql in [
            "SET sql_mode = 'NO_BACKSLASH_ESCAPES'",
            "/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */",
            "SET @@session.sql_mode = CONCAT(@@sql_mode, ',ANSI')",
            "SET NAMES latin1",
            "SET CHARACTER SET utf8mb4",
            "SET character_set_client = DEFAULT",
            "EXECUTE s",
            "CALL p()",
        ] {
            assert!(changes_session(sql), "{sql}");
        }
        assert!(!changes_session("SELECT @@sql_mode"));
        assert!(!changes_session("UPDATE t SET v = 1 WHERE id = 2"));
    }

    #[test]
    fn backslash_reading() {
        assert_eq!(backslash_literal_reading("SELECT 1"), None);
        assert_eq!(
            backslash_literal_reading(r"SELECT 'a\'").as_deref(),
            Some(r"SELECT 'a\\'")
        );
    }
}
