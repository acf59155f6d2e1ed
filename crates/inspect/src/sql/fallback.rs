//! A conservative, token-based classifier for statements PostgreSQL or MySQL accept but
//! sqlparser cannot parse (`DO`, `VACUUM`, `LOCK`, `ALTER SYSTEM`, `COPY ... PROGRAM`
//! forms, `CLUSTER`, `LOAD`, ...).
//!
//! It reads sqlparser tokens (never raw text), names the kind from the leading keywords
//! only, and always marks the statement opaque and writing: nothing inside the statement
//! was analysed, so it must never read as harmless. It reports no objects. Statements
//! whose details matter to policy (SELECT, INSERT, UPDATE, DELETE, MERGE, WITH, ...) are
//! never classified here: when they fail to parse the whole string is unparsed.

use sqlparser::tokenizer::{Token, TokenWithSpan};

use super::StatementKind as K;
use super::{tokens, SqlStatement};

/// Classify a statement the parser rejected, or `None` when its leading keyword is not
/// one this module may classify (the caller then reports the string as unparsed).
pub(crate) fn classify(chunk: &[TokenWithSpan]) -> Option<SqlStatement> {
    let mut words = tokens::significant(chunk).map(|t| match t {
        Token::Word(w) if w.quote_style.is_none() => w.value.to_ascii_uppercase(),
        _ => String::new(),
    });
    let first = words.next()?;
    let second = words.next().unwrap_or_default();
    let kind = match first.as_str() {
        "DO" => K::Do,
        "VACUUM" => K::Vacuum,
        "ANALYZE" | "ANALYSE" => K::Analyze,
        "LOCK" => K::Lock,
        "COPY" => copy_kind(chunk),
        "CREATE" | "ALTER" | "DROP" if is_role_word(&second) => K::Role,
        "CREATE" => K::Create,
        "ALTER" => K::Alter,
        "DROP" => K::Drop,
        "TRUNCATE" => K::Truncate,
        "GRANT" => K::Grant,
        "REVOKE" => K::Revoke,
        "SET" | "RESET" if matches!(second.as_str(), "ROLE" | "SESSION" | "PASSWORD") => K::Role,
        "SET" if matches!(second.as_str(), "GLOBAL" | "PERSIST" | "PERSIST_ONLY") => K::Alter,
        "SET" | "RESET" => K::Set,
        "SHOW" => K::Show,
        "END" => K::Commit,
        "ABORT" => K::Rollback,
        "CALL" => K::Call,
        "EXECUTE" => K::Execute,
        "LOAD" | "CLUSTER" | "REINDEX" | "CHECKPOINT" | "REFRESH" | "SECURITY" | "REASSIGN"
        | "IMPORT" | "COMMENT" => K::Other,
        _ => return None,
    };
    Some(SqlStatement {
        kind,
        objects: Vec::new(),
        without_where: false,
        opaque: true,
        writes: true,
        nested: Vec::new(),
    })
}

fn is_role_word(w: &str) -> bool {
    matches!(w, "ROLE" | "USER" | "GROUP")
}

/// COPY direction from the first top-level FROM/TO keyword; PROGRAM anywhere wins.
fn copy_kind(chunk: &[TokenWithSpan]) -> K {
    let mut depth = 0usize;
    let mut direction = None;
    for t in tokens::significant(chunk) {
        match t {
            Token::LParen => depth += 1,
            Token::RParen => depth = depth.saturating_sub(1),
            Token::Word(w) if w.quote_style.is_none() => {
                let v = w.value.to_ascii_uppercase();
                if v == "PROGRAM" {
                    return K::CopyProgram;
                }
                if depth == 0 && direction.is_none() {
                    if v == "FROM" {
                        direction = Some(K::CopyFrom);
                    } else if v == "TO" {
                        direction = Some(K::CopyTo);
                    }
                }
            }
            _ => {}
        }
    }
    // Unknown direction: FROM (a write) is the conservative reading.
    direction.unwrap_or(K::CopyFrom)
}
