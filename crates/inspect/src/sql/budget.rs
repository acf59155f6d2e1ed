//! A bound on the work sqlparser may do for one statement.
//!
//! sqlparser backtracks: where a construct is ambiguous it tries one reading
//! (`maybe_parse`) and, when that fails, parses the same tokens again another way. Nested,
//! those retries multiply — with PostgreSQL's dialect every function argument was first
//! parsed as the *name* of a named argument, so `f(f(f(…)))` took 2^depth parses: the
//! `sql_inspect` fuzz target found a 147-byte statement that kept a core busy for seconds
//! (a client could stall a gateway worker with one line). Two defences here:
//!
//! * **PostgreSQL's named arguments are read by name only.** PostgreSQL's named notation
//!   is `name => value` / `name := value` with `name` an identifier, which is what
//!   sqlparser tries when `supports_named_fn_args_with_expr_name` is off: an identifier
//!   and an operator, a constant amount of work, not a whole expression.
//! * **A step budget for every parse.** Each expression the parser starts counts one
//!   step; past the budget (proportional to the statement's tokens) every further step
//!   fails with `RecursionLimitExceeded`, the one error sqlparser's backtracking passes
//!   up instead of trying another reading. The statement is then refused as too complex
//!   to inspect (unparsed, fail closed) after a bounded amount of work, whatever other
//!   retry path a hostile statement finds.
//!
//! [`Bounded`] wraps the dialect for the parser; every method PostgreSQL's or MySQL's
//! dialect overrides is delegated (and `dialect()` answers the inner dialect's type, so
//! sqlparser's `dialect_of!` checks see PostgreSQL or MySQL). This module must never
//! change how a statement within the budget parses, apart from the named-argument rule
//! above; `tests` compares both over the fuzz corpus.

use std::any::TypeId;
use std::cell::Cell;

use sqlparser::ast::{Expr, Statement};
use sqlparser::dialect::{Dialect as SqlDialect, Precedence};
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError};

/// Steps allowed per significant token of the statement, and in any case.
const STEPS_PER_TOKEN: u32 = 32;
const STEPS_BASE: u32 = 4096;

/// The steps the statement `chunk` may take: by its significant (non-whitespace) tokens.
pub(crate) fn budget_of(chunk: &[sqlparser::tokenizer::TokenWithSpan]) -> u32 {
    let significant = chunk
        .iter()
        .filter(|t| !matches!(t.token, sqlparser::tokenizer::Token::Whitespace(_)))
        .count();
    budget_for(significant)
}

/// The steps a statement of `tokens` significant tokens may take.
fn budget_for(tokens: usize) -> u32 {
    u32::try_from(tokens)
        .unwrap_or(u32::MAX)
        .saturating_mul(STEPS_PER_TOKEN)
        .saturating_add(STEPS_BASE)
}

/// A dialect that counts the parser's steps against a budget (module docs).
#[derive(Debug)]
pub(crate) struct Bounded {
    inner: &'static dyn SqlDialect,
    steps: Cell<u32>,
    limit: u32,
    /// sqlparser's own reading of named arguments (tests: the dialect as it parses
    /// without this module, under the same budget).
    named_by_expr: bool,
}

impl Bounded {
    pub(crate) fn new(inner: &'static dyn SqlDialect, limit: u32) -> Bounded {
        Bounded {
            inner,
            steps: Cell::new(0),
            limit,
            named_by_expr: false,
        }
    }

    #[cfg(test)]
    pub(crate) fn plain(inner: &'static dyn SqlDialect, limit: u32) -> Bounded {
        Bounded {
            named_by_expr: true,
            ..Bounded::new(inner, limit)
        }
    }

    /// Whether the parse ran out of budget (its error then says nothing useful).
    pub(crate) fn exhausted(&self) -> bool {
        self.steps.get() > self.limit
    }

    #[cfg(test)]
    pub(crate) fn steps(&self) -> u32 {
        self.steps.get()
    }
}

impl SqlDialect for Bounded {
    fn dialect(&self) -> TypeId {
        self.inner.dialect()
    }

    fn parse_prefix(&self, parser: &mut Parser) -> Option<Result<Expr, ParserError>> {
        let steps = self.steps.get().saturating_add(1);
        self.steps.set(steps);
        if steps > self.limit {
            return Some(Err(ParserError::RecursionLimitExceeded));
        }
        self.inner.parse_prefix(parser)
    }

    fn supports_named_fn_args_with_expr_name(&self) -> bool {
        self.named_by_expr && self.inner.supports_named_fn_args_with_expr_name()
    }

    // Everything below: delegated unchanged.

    fn identifier_quote_style(&self, identifier: &str) -> Option<char> {
        self.inner.identifier_quote_style(identifier)
    }
    fn is_delimited_identifier_start(&self, ch: char) -> bool {
        self.inner.is_delimited_identifier_start(ch)
    }
    fn is_identifier_start(&self, ch: char) -> bool {
        self.inner.is_identifier_start(ch)
    }
    fn is_identifier_part(&self, ch: char) -> bool {
        self.inner.is_identifier_part(ch)
    }
    fn is_custom_operator_part(&self, ch: char) -> bool {
        self.inner.is_custom_operator_part(ch)
    }
    fn get_next_precedence(&self, parser: &Parser) -> Option<Result<u8, ParserError>> {
        self.inner.get_next_precedence(parser)
    }
    fn prec_value(&self, prec: Precedence) -> u8 {
        self.inner.prec_value(prec)
    }
    fn parse_infix(
        &self,
        parser: &mut Parser,
        expr: &Expr,
        precedence: u8,
    ) -> Option<Result<Expr, ParserError>> {
        self.inner.parse_infix(parser, expr, precedence)
    }
    fn parse_statement(&self, parser: &mut Parser) -> Option<Result<Statement, ParserError>> {
        self.inner.parse_statement(parser)
    }
    fn is_table_factor_alias(&self, explicit: bool, kw: &Keyword, parser: &mut Parser) -> bool {
        self.inner.is_table_factor_alias(explicit, kw, parser)
    }
    fn supports_unicode_string_literal(&self) -> bool {
        self.inner.supports_unicode_string_literal()
    }
    fn supports_filter_during_aggregation(&self) -> bool {
        self.inner.supports_filter_during_aggregation()
    }
    fn supports_group_by_expr(&self) -> bool {
        self.inner.supports_group_by_expr()
    }
    fn allow_extract_custom(&self) -> bool {
        self.inner.allow_extract_custom()
    }
    fn allow_extract_single_quotes(&self) -> bool {
        self.inner.allow_extract_single_quotes()
    }
    fn supports_create_index_with_clause(&self) -> bool {
        self.inner.supports_create_index_with_clause()
    }
    fn supports_explain_with_utility_options(&self) -> bool {
        self.inner.supports_explain_with_utility_options()
    }
    fn supports_listen_notify(&self) -> bool {
        self.inner.supports_listen_notify()
    }
    fn supports_factorial_operator(&self) -> bool {
        self.inner.supports_factorial_operator()
    }
    fn supports_comment_on(&self) -> bool {
        self.inner.supports_comment_on()
    }
    fn supports_load_extension(&self) -> bool {
        self.inner.supports_load_extension()
    }
    fn supports_named_fn_args_with_colon_operator(&self) -> bool {
        self.inner.supports_named_fn_args_with_colon_operator()
    }
    fn supports_empty_projections(&self) -> bool {
        self.inner.supports_empty_projections()
    }
    fn supports_nested_comments(&self) -> bool {
        self.inner.supports_nested_comments()
    }
    fn supports_string_escape_constant(&self) -> bool {
        self.inner.supports_string_escape_constant()
    }
    fn supports_numeric_literal_underscores(&self) -> bool {
        self.inner.supports_numeric_literal_underscores()
    }
    fn supports_array_typedef_with_brackets(&self) -> bool {
        self.inner.supports_array_typedef_with_brackets()
    }
    fn supports_geometric_types(&self) -> bool {
        self.inner.supports_geometric_types()
    }
    fn supports_set_names(&self) -> bool {
        self.inner.supports_set_names()
    }
    fn supports_alter_column_type_using(&self) -> bool {
        self.inner.supports_alter_column_type_using()
    }
    fn supports_notnull_operator(&self) -> bool {
        self.inner.supports_notnull_operator()
    }
    fn supports_interval_options(&self) -> bool {
        self.inner.supports_interval_options()
    }
    fn supports_string_literal_backslash_escape(&self) -> bool {
        self.inner.supports_string_literal_backslash_escape()
    }
    fn supports_string_literal_concatenation(&self) -> bool {
        self.inner.supports_string_literal_concatenation()
    }
    fn ignores_wildcard_escapes(&self) -> bool {
        self.inner.ignores_wildcard_escapes()
    }
    fn supports_numeric_prefix(&self) -> bool {
        self.inner.supports_numeric_prefix()
    }
    fn require_interval_qualifier(&self) -> bool {
        self.inner.require_interval_qualifier()
    }
    fn supports_limit_comma(&self) -> bool {
        self.inner.supports_limit_comma()
    }
    fn supports_create_table_select(&self) -> bool {
        self.inner.supports_create_table_select()
    }
    fn supports_insert_set(&self) -> bool {
        self.inner.supports_insert_set()
    }
    fn supports_user_host_grantee(&self) -> bool {
        self.inner.supports_user_host_grantee()
    }
    fn supports_table_hints(&self) -> bool {
        self.inner.supports_table_hints()
    }
    fn requires_single_line_comment_whitespace(&self) -> bool {
        self.inner.requires_single_line_comment_whitespace()
    }
    fn supports_match_against(&self) -> bool {
        self.inner.supports_match_against()
    }
    fn supports_comma_separated_set_assignments(&self) -> bool {
        self.inner.supports_comma_separated_set_assignments()
    }
    fn supports_data_type_signed_suffix(&self) -> bool {
        self.inner.supports_data_type_signed_suffix()
    }
    fn supports_cross_join_constraint(&self) -> bool {
        self.inner.supports_cross_join_constraint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::{inspect, parse_with, tokens, Dialect};

    const DIALECTS: [Dialect; 2] = [Dialect::Postgres, Dialect::Mysql];

    /// The chunks of `text` as `inspect` cuts them (None when it does not tokenise).
    fn chunks(
        text: &str,
        dialect: Dialect,
    ) -> Option<Vec<Vec<sqlparser::tokenizer::TokenWithSpan>>> {
        tokens::tokenize(text, dialect)
            .ok()
            .map(tokens::split_statements)
    }

    /// Steps the bounded parse of `text` (one statement) takes, with no limit.
    fn steps(text: &str, dialect: Dialect) -> u32 {
        let chunk = chunks(text, dialect).unwrap().pop().unwrap();
        let bounded = Bounded::new(tokens::sql_dialect(dialect), u32::MAX);
        assert!(parse_with(chunk, &bounded).is_ok(), "{text} parses");
        bounded.steps()
    }

    fn nested_calls(depth: usize) -> String {
        format!("SELECT {}1{}", "f(".repeat(depth), ")".repeat(depth))
    }

    #[test]
    fn nested_function_calls_take_steps_in_proportion_to_their_depth() {
        for dialect in DIALECTS {
            let (at_8, at_16) = (
                steps(&nested_calls(8), dialect),
                steps(&nested_calls(16), dialect),
            );
            // Each level starts a constant number of expressions: twice the depth costs
            // about twice the steps (it was 2^depth for PostgreSQL: 256 times).
            assert!(
                at_16 <= 3 * at_8,
                "{dialect:?}: {at_8} steps at depth 8, {at_16} at 16"
            );
            assert!(!inspect(&nested_calls(40), dialect).unparsed);
        }
    }

    #[test]
    fn named_arguments_still_parse_by_name() {
        let text = "SELECT make_interval(days => 10, hours := 2), f(\"Name\" => 1)";
        let facts = inspect(text, Dialect::Postgres);
        assert!(!facts.unparsed, "{:?}", facts.parse_error);
    }

    #[test]
    fn the_fuzzers_slow_statement_is_decided_after_bounded_work() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fuzz/corpus/sql_inspect/regression-exponential-function-arguments"
        );
        let text = String::from_utf8_lossy(&std::fs::read(path).unwrap()).into_owned();
        for dialect in DIALECTS {
            for chunk in chunks(&text, dialect).unwrap() {
                let budget = budget_of(&chunk);
                let bounded = Bounded::new(tokens::sql_dialect(dialect), u32::MAX);
                let _ = parse_with(chunk, &bounded);
                assert!(
                    bounded.steps() <= budget,
                    "{dialect:?}: {} steps, budget {budget}",
                    bounded.steps()
                );
            }
        }
    }

    #[test]
    fn a_statement_past_its_budget_is_too_complex_not_an_ordinary_error() {
        for dialect in DIALECTS {
            let chunk = chunks("SELECT 1 + 2 + 3 + 4 + 5 + 6 + 7 + 8", dialect)
                .unwrap()
                .pop()
                .unwrap();
            let bounded = Bounded::new(tokens::sql_dialect(dialect), 5);
            // sqlparser's error says "recursion limit exceeded"; `parse_one` reads
            // `exhausted` and reports the statement as too complex instead.
            assert!(parse_with(chunk, &bounded).is_err());
            assert!(bounded.exhausted());
        }
    }

    /// Within the budget the wrapper parses exactly as the dialect it wraps: every
    /// statement of the `sql_inspect` fuzz corpus (seeded from the test cases) gives the
    /// same statement text, or fails both ways. (The inputs named regression-* are
    /// left out: one of them is the statement the plain dialect takes seconds over.)
    #[test]
    fn the_wrapper_parses_the_fuzz_corpus_as_the_plain_dialects_do() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/corpus/sql_inspect");
        let mut compared = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("regression-")
            {
                continue;
            }
            let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
            for dialect in DIALECTS {
                let Some(chunks) = chunks(&text, dialect) else {
                    continue;
                };
                for chunk in chunks {
                    // The plain dialect, under a budget: on inputs where it would go
                    // exponential there is nothing to compare.
                    let plain_dialect =
                        Bounded::plain(tokens::sql_dialect(dialect), budget_of(&chunk));
                    let plain = parse_with(chunk.clone(), &plain_dialect)
                        .map(|s| s.to_string())
                        .ok();
                    if plain_dialect.exhausted() {
                        continue;
                    }
                    let bounded = Bounded::new(tokens::sql_dialect(dialect), u32::MAX);
                    let ours = parse_with(chunk, &bounded).map(|s| s.to_string()).ok();
                    assert_eq!(plain, ours, "{dialect:?}, {}", path.display());
                    compared += 1;
                }
            }
        }
        assert!(compared > 1000, "only {compared} statements compared");
    }
}
