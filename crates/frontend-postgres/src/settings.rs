//! Server settings that change how a statement must be read, as the session knows them
//! when it decides the next statement.
//!
//! * `standard_conforming_strings` (where string literals end): the server reports it in a
//!   ParameterStatus, but only when it answers ReadyForQuery. A statement that may change
//!   it (it names the setting, calls `set_config`, runs code Warden cannot see: DO, CALL,
//!   EXECUTE, any opaque or unparsed statement) is therefore a *barrier* for the
//!   statements the setting could change — those with a backslash (without one, a string
//!   literal ends in the same place either way): such a Query or Parse is decided only
//!   after the upstream's ReadyForQuery for the barrier has been relayed. In the extended
//!   protocol that ReadyForQuery comes only after the client's Sync, so one pipelined
//!   behind such an Execute before Sync is refused (42501).
//! * `search_path`: unqualified functions, operators and types resolve to the builtins
//!   first unless `pg_catalog` is listed after another schema. Once a forwarded statement
//!   names `search_path` (other than a SET whose new value keeps the builtins first), or
//!   the server reports a value that does not, the session inspects with
//!   [`Resolution::UserSchemasFirst`] for the rest of its life.
//!
//! Must never let a statement be decided with a reading of these settings older than a
//! statement already forwarded that may have changed them.

use warden_inspect::sql::{Resolution, SqlFacts, StatementKind};

/// The session's side of the bookkeeping (the relay counts ReadyForQuery messages).
#[derive(Default)]
pub struct Settings {
    /// ReadyForQuery messages the upstream owes for what was forwarded: one per Query
    /// (the client's or a refusal marker) and one per Sync.
    owed_ready: u64,
    /// Decide nothing before the relay has seen this many ReadyForQuery messages.
    settle_at: u64,
    /// An Execute that may change standard_conforming_strings was forwarded; no Sync yet.
    pub unsettled_pipeline: bool,
    /// A forwarded statement may have moved builtins down the search_path.
    search_path_moved: bool,
}

impl Settings {
    /// A Query (the client's or a marker) or a Sync went upstream.
    pub fn expect_ready(&mut self) {
        self.owed_ready += 1;
    }

    /// The Query just forwarded may change standard_conforming_strings.
    pub fn settle_after_this(&mut self) {
        self.settle_at = self.owed_ready;
    }

    /// A Sync went upstream (after [`Settings::expect_ready`]).
    pub fn synced(&mut self) {
        if self.unsettled_pipeline {
            self.unsettled_pipeline = false;
            self.settle_at = self.owed_ready;
        }
    }

    /// How many ReadyForQuery messages must have been relayed before the next decision.
    pub fn settle_at(&self) -> u64 {
        self.settle_at
    }

    /// Takes note of a forwarded statement that may move `search_path`.
    pub fn forwarded(&mut self, sql: &str, facts: &SqlFacts) {
        if moves_search_path(sql, facts) {
            self.search_path_moved = true;
        }
    }

    /// How to resolve unqualified names, given what the server reported (if it reports
    /// `search_path`: PostgreSQL 18 and later).
    pub fn resolution(&self, reported: Option<&str>) -> Resolution {
        if self.search_path_moved || reported.is_some_and(|v| !catalog_first(v)) {
            Resolution::UserSchemasFirst
        } else {
            Resolution::CatalogFirst
        }
    }
}

fn mentions(sql: &str, word: &str) -> bool {
    sql.as_bytes()
        .windows(word.len())
        .any(|w| w.eq_ignore_ascii_case(word.as_bytes()))
}

/// Whether `sql` may read differently with standard_conforming_strings off: only a
/// backslash can move where a string literal ends.
pub fn reads_differently(sql: &str) -> bool {
    sql.contains('\\')
}

/// Whether running `sql` may change standard_conforming_strings.
pub fn may_change_strings(sql: &str, facts: &SqlFacts) -> bool {
    facts.unparsed
        || facts.statements.iter().any(|s| {
            s.opaque
                || matches!(
                    s.kind,
                    StatementKind::Do | StatementKind::Call | StatementKind::Execute
                )
        })
        || mentions(sql, "standard_conforming_strings")
        || mentions(sql, "set_config")
}

/// Whether `sql` may move the builtins down the search_path: it names `search_path`, and
/// is neither a SHOW nor a plain `SET search_path` whose new value keeps `pg_catalog`
/// first.
fn moves_search_path(sql: &str, facts: &SqlFacts) -> bool {
    if !mentions(sql, "search_path") {
        return false;
    }
    let only_shows = !facts.statements.is_empty()
        && !facts.unparsed
        && facts
            .statements
            .iter()
            .all(|s| s.kind == StatementKind::Show);
    if only_shows {
        return false;
    }
    match plain_set_search_path(sql) {
        Some(value) => !catalog_first(value),
        None => true,
    }
}

/// The value of a single `SET [SESSION|LOCAL] search_path {TO|=} value`, if `sql` is
/// exactly that.
fn plain_set_search_path(sql: &str) -> Option<&str> {
    let s = sql.trim().trim_end_matches(';').trim_end();
    if s.contains(';') || s.contains("--") || s.contains("/*") {
        return None;
    }
    let mut rest = strip_word(s, "set")?;
    for scope in ["session", "local"] {
        if let Some(r) = strip_word(rest, scope) {
            rest = r;
        }
    }
    let rest = strip_word(rest, "search_path")?;
    strip_word(rest, "to").or_else(|| rest.strip_prefix('=').map(str::trim_start))
}

fn strip_word<'a>(s: &'a str, word: &str) -> Option<&'a str> {
    let head = s.get(..word.len())?;
    let tail = &s[word.len()..];
    let ends = tail.is_empty() || tail.starts_with(|c: char| c.is_whitespace() || c == '=');
    (head.eq_ignore_ascii_case(word) && ends).then(|| tail.trim_start())
}

/// Whether a search_path value keeps the builtins first: `pg_catalog` absent (then it is
/// searched implicitly before everything) or listed first. `DEFAULT` restores the value
/// the session started with.
pub fn catalog_first(value: &str) -> bool {
    let value = value.trim();
    if value.eq_ignore_ascii_case("default") {
        return true;
    }
    let mut schemas = value.split(',').map(|item| {
        let item = item.trim();
        match item.chars().next() {
            Some('"') | Some('\'') => item[1..].trim_end_matches(['"', '\'']).to_owned(),
            _ => item.to_ascii_lowercase(),
        }
    });
    match schemas.position(|s| s == "pg_catalog") {
        None | Some(0) => true,
        Some(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use warden_inspect::sql::{inspect, Dialect};

    fn moves(sql: &str) -> bool {
        moves_search_path(sql, &inspect(sql, Dialect::Postgres))
    }

    #[test]
    fn values_that_keep_the_builtins_first() {
        assert!(catalog_first("\"$user\", public"));
        assert!(catalog_first("pg_catalog, myschema"));
        assert!(catalog_first("''"));
        assert!(catalog_first("DEFAULT"));
        assert!(!catalog_first("myschema, pg_catalog"));
        assert!(!catalog_first("myschema, \"pg_catalog\""));
        assert!(!catalog_first("'myschema', 'pg_catalog'"));
    }

    #[test]
    fn statements_that_move_the_search_path() {
        assert!(moves("SET search_path = myschema, pg_catalog"));
        assert!(moves("set local search_path to myschema,pg_catalog;"));
        assert!(moves("SELECT set_config('search_path', 'public', false)"));
        assert!(moves("SET search_path = public; SELECT 1"));
        assert!(moves("DO $$ BEGIN SET search_path = x, pg_catalog; END $$"));
        assert!(!moves("SET search_path = public"));
        assert!(!moves("SET SESSION search_path TO \"$user\", public;"));
        assert!(!moves("SHOW search_path"));
        assert!(!moves("SELECT lower(name) FROM t"));
    }

    #[test]
    fn statements_that_may_change_string_reading() {
        let may = |sql: &str| may_change_strings(sql, &inspect(sql, Dialect::Postgres));
        assert!(may("SET standard_conforming_strings = off"));
        assert!(may("SELECT set_config($1, $2, false)"));
        assert!(may("DO $$ BEGIN PERFORM 1; END $$"));
        assert!(may("SELECT my_function()"));
        assert!(!may("SELECT 1"));
        assert!(!may("INSERT INTO t VALUES (1)"));
    }

    #[test]
    fn only_backslashes_read_differently() {
        assert!(reads_differently(r"SELECT 'a\'' ; DROP TABLE t; --'"));
        assert!(reads_differently(r"SELECT E'\n'"));
        assert!(!reads_differently("SELECT 'it''s', $$x$$, \"a b\""));
    }

    #[test]
    fn the_barrier_waits_for_the_ready_of_the_changing_statement() {
        let mut s = Settings::default();
        s.expect_ready();
        assert_eq!(s.settle_at(), 0, "an ordinary query is no barrier");
        s.expect_ready();
        s.settle_after_this();
        assert_eq!(s.settle_at(), 2);
        s.unsettled_pipeline = true;
        s.expect_ready();
        s.synced();
        assert_eq!(s.settle_at(), 3);
        assert!(!s.unsettled_pipeline);
    }
}
