//! SQL text into classified statements, using `sqlparser` (PostgreSQL and MySQL dialects).
//!
//! Never guesses from text: when the parser fails the whole string is `unparsed`, and
//! when a statement's effect cannot be known (DO blocks, EXECUTE, COPY PROGRAM, unknown
//! functions) it is `opaque`. A dangerous statement must never be classified as harmless.

use serde::{Deserialize, Serialize};
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, TokenWithSpan};

mod budget;
mod classify;
mod fallback;
mod functions;
mod objects;
mod shape;
mod tokens;
mod walk;

pub use shape::{facts_use_literal, literal_shape};

/// How the server resolves unqualified names of functions, operators and types.
///
/// PostgreSQL searches `pg_catalog` first unless `search_path` lists it explicitly after
/// another schema; then a user function, operator or type in that schema can shadow a
/// builtin (`lower(x)` may call `myschema.lower`). The front-end knows which applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Resolution {
    /// Unqualified names resolve to the builtins first (the default `search_path`).
    #[default]
    CatalogFirst,
    /// Another schema may come before `pg_catalog`: no unqualified call is trusted as a
    /// builtin, and every operator, cast or other non-trivial expression is opaque.
    UserSchemasFirst,
}

/// Which SQL dialect to parse with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dialect {
    Postgres,
    Mysql,
}

/// The kind of one statement. `name()` is the word policies use (`statements: [drop]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatementKind {
    Select,
    Insert,
    Update,
    Delete,
    Merge,
    CopyFrom,
    CopyTo,
    CopyProgram,
    Create,
    Alter,
    Drop,
    Truncate,
    Grant,
    Revoke,
    /// CREATE/ALTER/DROP ROLE or USER, SET ROLE, SET SESSION AUTHORIZATION.
    Role,
    Set,
    Show,
    Call,
    Do,
    Execute,
    Prepare,
    Deallocate,
    Explain,
    ExplainAnalyze,
    Begin,
    Commit,
    Rollback,
    Savepoint,
    Vacuum,
    Analyze,
    Lock,
    Other,
}

impl StatementKind {
    /// The policy word for this kind.
    pub fn name(self) -> &'static str {
        use StatementKind::*;
        match self {
            Select => "select",
            Insert => "insert",
            Update => "update",
            Delete => "delete",
            Merge => "merge",
            CopyFrom => "copy_from",
            CopyTo => "copy_to",
            CopyProgram => "copy_program",
            Create => "create",
            Alter => "alter",
            Drop => "drop",
            Truncate => "truncate",
            Grant => "grant",
            Revoke => "revoke",
            Role => "role",
            Set => "set",
            Show => "show",
            Call => "call",
            Do => "do",
            Execute => "execute",
            Prepare => "prepare",
            Deallocate => "deallocate",
            Explain => "explain",
            ExplainAnalyze => "explain_analyze",
            Begin => "begin",
            Commit => "commit",
            Rollback => "rollback",
            Savepoint => "savepoint",
            Vacuum => "vacuum",
            Analyze => "analyze",
            Lock => "lock",
            Other => "other",
        }
    }

    /// Whether a policy word names this kind. Besides its own name, umbrella words
    /// match families: `copy` (all COPY forms), `transaction` (begin/commit/rollback/
    /// savepoint), `explain` (both EXPLAIN forms), `write` (anything that can change data
    /// or schema), `ddl` (create/alter/drop/truncate).
    pub fn matches_word(self, word: &str) -> bool {
        use StatementKind::*;
        if self.name() == word {
            return true;
        }
        match word {
            "copy" => matches!(self, CopyFrom | CopyTo | CopyProgram),
            "transaction" => matches!(self, Begin | Commit | Rollback | Savepoint),
            "explain" => matches!(self, Explain | ExplainAnalyze),
            "ddl" => matches!(self, Create | Alter | Drop | Truncate),
            "write" => self.is_write(),
            _ => false,
        }
    }

    /// Every policy word accepted in `sql.statements` (for validation and suggestions).
    pub const WORDS: &'static [&'static str] = &[
        "select",
        "insert",
        "update",
        "delete",
        "merge",
        "copy",
        "copy_from",
        "copy_to",
        "copy_program",
        "create",
        "alter",
        "drop",
        "truncate",
        "grant",
        "revoke",
        "role",
        "set",
        "show",
        "call",
        "do",
        "execute",
        "prepare",
        "deallocate",
        "explain",
        "explain_analyze",
        "begin",
        "commit",
        "rollback",
        "savepoint",
        "transaction",
        "vacuum",
        "analyze",
        "lock",
        "other",
        "ddl",
        "write",
    ];

    /// Kinds that can change data, schema or privileges by themselves.
    pub fn is_write(self) -> bool {
        use StatementKind::*;
        matches!(
            self,
            Insert
                | Update
                | Delete
                | Merge
                | CopyFrom
                | CopyProgram
                | Create
                | Alter
                | Drop
                | Truncate
                | Grant
                | Revoke
                | Role
                | Call
                | Do
                | Execute
                | ExplainAnalyze
                | Vacuum
                | Lock
        )
    }
}

/// One statement of a SQL string.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SqlStatement {
    pub kind: StatementKind,
    /// Objects touched, normalised as the database resolves them: unquoted identifiers
    /// folded (lower case for PostgreSQL), quotes removed, `schema.name` when qualified.
    pub objects: Vec<String>,
    /// UPDATE/DELETE (including ones hidden in CTEs or EXPLAIN ANALYZE) without WHERE.
    pub without_where: bool,
    /// The statement's effect cannot be known statically.
    pub opaque: bool,
    /// The statement can change data (writes inside CTEs / EXPLAIN ANALYZE count).
    pub writes: bool,
    /// Kinds of data-changing statements nested inside this one (writable CTEs,
    /// EXPLAIN ANALYZE DELETE, ...), so `statements: [delete]` also matches them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nested: Vec<StatementKind>,
}

/// Everything inspection learned from one SQL string.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SqlFacts {
    pub statements: Vec<SqlStatement>,
    /// The parser failed: nothing about the string is known.
    pub unparsed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parse_error: Option<String>,
}

/// Inspect one SQL string (one simple Query or one Parse message).
///
/// Every statement of a multi-statement string is reported. A statement sqlparser
/// rejects is either classified conservatively from its leading keywords (always opaque,
/// see `fallback`) or, when its kind matters to policy, makes the whole string
/// `unparsed`. An empty string or one made only of comments has zero statements.
pub fn inspect(text: &str, dialect: Dialect) -> SqlFacts {
    inspect_resolved(text, dialect, Resolution::CatalogFirst)
}

/// [`inspect`] for a session whose name resolution is `resolution` (see [`Resolution`]).
pub fn inspect_resolved(text: &str, dialect: Dialect, resolution: Resolution) -> SqlFacts {
    let tokens = match tokens::tokenize(text, dialect) {
        Ok(t) => t,
        Err(e) => return unparsed(e),
    };
    let mut facts = SqlFacts::default();
    for (index, chunk) in tokens::split_statements(tokens).into_iter().enumerate() {
        if !tokens::within_complexity_bounds(&chunk) {
            mark_unparsed(&mut facts, "statement too complex to inspect".into());
            continue;
        }
        match parse_one(chunk, dialect) {
            Ok(statement) => {
                let facts_of = statement_facts(&statement, dialect, resolution);
                facts.statements.push(facts_of)
            }
            Err(ParseFailure::TooComplex(e)) => mark_unparsed(&mut facts, e),
            Err(ParseFailure::Error(e)) => match fallback_for(text, dialect, index) {
                Some(statement) => facts.statements.push(statement),
                None => mark_unparsed(&mut facts, e),
            },
        }
    }
    facts
}

/// The fallback classification of statement `index` of `text`. The parser consumed the
/// tokens, and parse errors are rare, so the text is tokenised again here rather than
/// copying every statement's tokens on the hot path (tokenising is deterministic).
fn fallback_for(text: &str, dialect: Dialect, index: usize) -> Option<SqlStatement> {
    let tokens = tokens::tokenize(text, dialect).ok()?;
    let chunk = tokens::split_statements(tokens).into_iter().nth(index)?;
    fallback::classify(&chunk)
}

fn unparsed(error: String) -> SqlFacts {
    SqlFacts {
        statements: Vec::new(),
        unparsed: true,
        parse_error: Some(error),
    }
}

fn mark_unparsed(facts: &mut SqlFacts, error: String) {
    facts.unparsed = true;
    if facts.parse_error.is_none() {
        facts.parse_error = Some(error);
    }
}

/// Why one statement did not parse.
enum ParseFailure {
    /// sqlparser's own error: the statement may still be classified by its keywords.
    Error(String),
    /// The parser ran out of its step budget (`budget`): refused, never classified.
    TooComplex(String),
}

/// Parse exactly one statement from the tokens of one `;`-separated chunk, within the
/// step budget its length allows (`budget`).
fn parse_one(
    chunk: Vec<TokenWithSpan>,
    dialect: Dialect,
) -> Result<sqlparser::ast::Statement, ParseFailure> {
    let bounded = budget::Bounded::new(tokens::sql_dialect(dialect), budget::budget_of(&chunk));
    let parsed = parse_with(chunk, &bounded);
    if bounded.exhausted() {
        return Err(ParseFailure::TooComplex(
            "statement too complex to inspect (the parser's step budget ran out)".into(),
        ));
    }
    parsed.map_err(ParseFailure::Error)
}

/// Parse exactly one statement from `chunk` with `dialect`; anything left after it is an
/// error.
fn parse_with(
    mut chunk: Vec<TokenWithSpan>,
    dialect: &dyn sqlparser::dialect::Dialect,
) -> Result<sqlparser::ast::Statement, String> {
    // Give the statement back its terminator: some forms need it (COPY ... FROM STDIN
    // expects `;` before its inline data).
    chunk.push(TokenWithSpan::wrap(Token::SemiColon));
    let mut parser = Parser::new(dialect).with_tokens_with_locations(chunk);
    let statement = parser.parse_statement().map_err(|e| e.to_string())?;
    // Anything after the statement (sqlparser stops early, e.g. before a stray END) is
    // text the server would see and we would not.
    let _ = parser.consume_token(&Token::SemiColon);
    let next = parser.peek_token();
    if next.token != Token::EOF {
        return Err(format!("unexpected {} after the statement", next.token));
    }
    Ok(statement)
}

/// Facts of one parsed statement: the top-level kind merged with a full walk.
fn statement_facts(
    statement: &sqlparser::ast::Statement,
    dialect: Dialect,
    resolution: Resolution,
) -> SqlStatement {
    let base = classify::base(statement, dialect);
    let found = walk::walk(statement, dialect, resolution);
    let mut objects = base.objects;
    for o in found.objects {
        if !objects.contains(&o) {
            objects.push(o);
        }
    }
    if base.plan_only {
        // Plain EXPLAIN plans the inner statement without running it.
        return SqlStatement {
            kind: base.kind,
            objects,
            without_where: false,
            opaque: base.opaque,
            writes: false,
            nested: Vec::new(),
        };
    }
    let mut kind = base.kind;
    let mut nested = found.nested;
    let mut add_nested = |k: StatementKind| {
        if !nested.contains(&k) {
            nested.push(k);
        }
    };
    if found.select_into {
        if kind == StatementKind::Select {
            kind = StatementKind::Create;
        } else {
            add_nested(StatementKind::Create);
        }
    }
    if found.row_lock {
        if kind == StatementKind::Select {
            kind = StatementKind::Lock;
        } else {
            add_nested(StatementKind::Lock);
        }
    }
    nested.retain(|k| *k != kind);
    let writes = kind.is_write() || !nested.is_empty() || base.writes;
    SqlStatement {
        kind,
        objects,
        without_where: found.without_where,
        opaque: base.opaque || found.opaque,
        writes,
        nested,
    }
}
