//! Object-name normalisation: an identifier as the database resolves it.
//!
//! PostgreSQL folds unquoted identifiers to lower case and keeps quoted ones as written;
//! MySQL keeps table names as written (case sensitivity there depends on the server's
//! `lower_case_table_names`, which inspection cannot know) with backticks removed. Parts
//! are joined with `.`, so a qualified name reads `schema.table` and a bare one `table`.
//! This module must never invent a schema the user did not write (no `search_path` guess).

use sqlparser::ast::{Ident, ObjectName, ObjectNamePart};

use super::Dialect;

/// One identifier, folded the way `dialect` resolves it.
pub(crate) fn ident(id: &Ident, dialect: Dialect) -> String {
    match (dialect, id.quote_style) {
        (Dialect::Postgres, None) => id.value.to_lowercase(),
        _ => id.value.clone(),
    }
}

/// A possibly qualified name, folded part by part and joined with `.`.
pub(crate) fn name(obj: &ObjectName, dialect: Dialect) -> String {
    let len = obj
        .0
        .iter()
        .map(|p| p.as_ident().map_or(0, |i| i.value.len() + 1));
    let mut out = String::with_capacity(len.sum());
    for (i, part) in obj.0.iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        match part {
            ObjectNamePart::Identifier(id) => push_ident(&mut out, id, dialect),
            // Name parts computed by a function (Snowflake IDENTIFIER(..)): keep the
            // text so the object is visible, never drop it.
            ObjectNamePart::Function(f) => out.push_str(&f.to_string()),
        }
    }
    out
}

/// `ident` appended to `out` without a temporary string when the fold is plain ASCII.
fn push_ident(out: &mut String, id: &Ident, dialect: Dialect) {
    match (dialect, id.quote_style) {
        (Dialect::Postgres, None) if id.value.is_ascii() => {
            let start = out.len();
            out.push_str(&id.value);
            out[start..].make_ascii_lowercase();
        }
        (Dialect::Postgres, None) => out.push_str(&id.value.to_lowercase()),
        _ => out.push_str(&id.value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on(parts: &[(&str, Option<char>)]) -> ObjectName {
        ObjectName(
            parts
                .iter()
                .map(|(v, q)| {
                    ObjectNamePart::Identifier(match q {
                        Some(q) => Ident::with_quote(*q, *v),
                        None => Ident::new(*v),
                    })
                })
                .collect(),
        )
    }

    #[test]
    fn postgres_folds_unquoted_only() {
        let n = on(&[("Public", None), ("MixedCase", Some('"'))]);
        assert_eq!(name(&n, Dialect::Postgres), "public.MixedCase");
    }

    #[test]
    fn mysql_keeps_case() {
        let n = on(&[("Shop", None), ("Orders", Some('`'))]);
        assert_eq!(name(&n, Dialect::Mysql), "Shop.Orders");
    }
}
