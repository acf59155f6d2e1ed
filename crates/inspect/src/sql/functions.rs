//! The allow-list of functions known to be pure (no writes, no session or server side
//! effects). A call to anything else makes a statement opaque: in PostgreSQL and MySQL a
//! function can write (`nextval`, `dblink_exec`, `lo_import`, `set_config`,
//! `pg_terminate_backend`, any user-defined function), so this list must only ever
//! contain builtins that cannot change state. When unsure, leave a name out.

use sqlparser::ast::ObjectName;

use super::{objects, Dialect};

/// Pure builtins, lower case, sorted (binary search).
const PURE: &[&str] = &[
    "abs",
    "age",
    "array_agg",
    "array_length",
    "array_position",
    "array_to_string",
    "ascii",
    "avg",
    "bit_length",
    "bool_and",
    "bool_or",
    "btrim",
    "cardinality",
    "cbrt",
    "ceil",
    "ceiling",
    "char_length",
    "character_length",
    "chr",
    "coalesce",
    "concat",
    "concat_ws",
    "count",
    "current_database",
    "current_date",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_user",
    "date",
    "date_add",
    "date_format",
    "date_part",
    "date_sub",
    "date_trunc",
    "datediff",
    "day",
    "dense_rank",
    "exp",
    "extract",
    "first_value",
    "floor",
    "format",
    "from_unixtime",
    "greatest",
    "group_concat",
    "hour",
    "if",
    "ifnull",
    "initcap",
    "instr",
    "isnull",
    "json_agg",
    "json_array",
    "json_build_array",
    "json_build_object",
    "json_extract",
    "json_object",
    "jsonb_agg",
    "jsonb_build_array",
    "jsonb_build_object",
    "lag",
    "last_value",
    "lead",
    "least",
    "left",
    "length",
    "ln",
    "localtime",
    "localtimestamp",
    "locate",
    "log",
    "lower",
    "lpad",
    "ltrim",
    "max",
    "md5",
    "min",
    "minute",
    "mod",
    "month",
    "now",
    "nth_value",
    "ntile",
    "nullif",
    "octet_length",
    "percent_rank",
    "position",
    "pow",
    "power",
    "quote_ident",
    "quote_literal",
    "rank",
    "regexp_match",
    "regexp_matches",
    "regexp_replace",
    "repeat",
    "replace",
    "reverse",
    "right",
    "round",
    "row",
    "row_number",
    "rpad",
    "rtrim",
    "second",
    "session_user",
    "sign",
    "split_part",
    "sqrt",
    "starts_with",
    "stddev",
    "str_to_date",
    "string_agg",
    "strpos",
    "substr",
    "substring",
    "sum",
    "timestamp",
    "to_char",
    "to_date",
    "to_number",
    "to_timestamp",
    "translate",
    "trim",
    "trunc",
    "unix_timestamp",
    "upper",
    "user",
    "variance",
    "version",
    "year",
];

/// Set-returning builtins that are pure and may appear in FROM.
const PURE_TABLE_FUNCTIONS: &[&str] = &[
    "generate_series",
    "json_array_elements",
    "json_each",
    "jsonb_array_elements",
    "jsonb_each",
    "unnest",
];

/// Whether a call to `name` is known to have no side effects. Schema-qualified names
/// are pure only when the schema is the builtin one (`pg_catalog`).
pub(crate) fn is_pure(name: &ObjectName, dialect: Dialect) -> bool {
    builtin_name(name, dialect).is_some_and(|n| PURE.binary_search(&n.as_str()).is_ok())
}

/// Whether a function used as a table in FROM is a known pure builtin.
pub(crate) fn is_pure_table_function(name: &ObjectName, dialect: Dialect) -> bool {
    builtin_name(name, dialect).is_some_and(|n| PURE_TABLE_FUNCTIONS.contains(&n.as_str()))
}

fn builtin_name(name: &ObjectName, dialect: Dialect) -> Option<String> {
    match name.0.len() {
        1 => {}
        2 if dialect == Dialect::Postgres => {
            let schema = objects::name(&ObjectName(vec![name.0[0].clone()]), dialect);
            if schema != "pg_catalog" {
                return None;
            }
        }
        _ => return None,
    }
    // Function names are case-insensitive in both dialects unless quoted in PostgreSQL.
    let n = objects::last_part(name, Dialect::Postgres)?;
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_list_is_sorted_for_binary_search() {
        let mut sorted = PURE.to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, PURE);
    }
}
