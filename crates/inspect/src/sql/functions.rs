//! The allow-list of functions known to be pure (no writes, no session or server side
//! effects). A call to anything else makes a statement opaque: in PostgreSQL and MySQL a
//! function can write (`nextval`, `dblink_exec`, `lo_import`, `set_config`,
//! `pg_terminate_backend`, any user-defined function), so this list must only ever
//! contain builtins that cannot change state. When unsure, leave a name out.
//!
//! It includes the read-only catalog functions ordinary clients call at start-up and for
//! psql's `\d` family (`pg_get_*def`, `*_is_visible`, `format_type`, `has_*_privilege`,
//! size functions, ...). Never add functions that write, lock, assign transaction ids,
//! signal backends or read server files (`set_config`, `nextval`, `pg_advisory_lock`,
//! `txid_current`, `pg_terminate_backend`, `pg_read_file`, `pg_ls_dir`, `lo_*`, ...).

use sqlparser::ast::ObjectName;

use super::{Dialect, Resolution};

/// Pure builtins, lower case, sorted (binary search).
const PURE: &[&str] = &[
    "abs",
    "age",
    "array_agg",
    "array_dims",
    "array_length",
    "array_lower",
    "array_ndims",
    "array_position",
    "array_to_string",
    "array_upper",
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
    "col_description",
    "concat",
    "concat_ws",
    "count",
    "current_catalog",
    "current_database",
    "current_date",
    "current_role",
    "current_schema",
    "current_schemas",
    "current_setting",
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
    "format_type",
    "from_unixtime",
    "generate_series",
    "getdatabaseencoding",
    "greatest",
    "group_concat",
    "has_any_column_privilege",
    "has_column_privilege",
    "has_database_privilege",
    "has_foreign_data_wrapper_privilege",
    "has_function_privilege",
    "has_language_privilege",
    "has_schema_privilege",
    "has_sequence_privilege",
    "has_server_privilege",
    "has_table_privilege",
    "has_tablespace_privilege",
    "has_type_privilege",
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
    "obj_description",
    "octet_length",
    "percent_rank",
    "pg_backend_pid",
    "pg_char_to_encoding",
    "pg_client_encoding",
    "pg_collation_is_visible",
    "pg_column_size",
    "pg_conversion_is_visible",
    "pg_database_size",
    "pg_describe_object",
    "pg_encoding_to_char",
    "pg_function_is_visible",
    "pg_get_constraintdef",
    "pg_get_expr",
    "pg_get_function_arguments",
    "pg_get_function_identity_arguments",
    "pg_get_function_result",
    "pg_get_function_sqlbody",
    "pg_get_functiondef",
    "pg_get_indexdef",
    "pg_get_partition_constraintdef",
    "pg_get_partkeydef",
    "pg_get_ruledef",
    "pg_get_serial_sequence",
    "pg_get_statisticsobjdef",
    "pg_get_statisticsobjdef_columns",
    "pg_get_triggerdef",
    "pg_get_userbyid",
    "pg_get_viewdef",
    "pg_has_role",
    "pg_indexes_size",
    "pg_is_in_recovery",
    "pg_opclass_is_visible",
    "pg_operator_is_visible",
    "pg_opfamily_is_visible",
    "pg_relation_is_publishable",
    "pg_relation_size",
    "pg_size_bytes",
    "pg_size_pretty",
    "pg_statistics_obj_is_visible",
    "pg_table_is_visible",
    "pg_table_size",
    "pg_tablespace_location",
    "pg_tablespace_size",
    "pg_total_relation_size",
    "pg_ts_config_is_visible",
    "pg_ts_dict_is_visible",
    "pg_ts_parser_is_visible",
    "pg_ts_template_is_visible",
    "pg_type_is_visible",
    "pg_typeof",
    "position",
    "pow",
    "power",
    "quote_ident",
    "quote_literal",
    "quote_nullable",
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
    "shobj_description",
    "sign",
    "split_part",
    "sqrt",
    "starts_with",
    "stddev",
    "str_to_date",
    "string_agg",
    "string_to_array",
    "strpos",
    "substr",
    "substring",
    "sum",
    "timestamp",
    "to_char",
    "to_date",
    "to_number",
    "to_regclass",
    "to_regnamespace",
    "to_regproc",
    "to_regrole",
    "to_regtype",
    "to_timestamp",
    "translate",
    "trim",
    "trunc",
    "unix_timestamp",
    "unnest",
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
pub(crate) fn is_pure(name: &ObjectName, dialect: Dialect, resolution: Resolution) -> bool {
    let mut buf = [0u8; MAX_BUILTIN_LEN];
    is_array_constructor(name)
        || builtin_name(name, dialect, resolution, &mut buf)
            .is_some_and(|n| PURE.binary_search(&n).is_ok())
}

/// `ARRAY(SELECT ...)` is a constructor (ARRAY is a reserved word), which sqlparser
/// reports as a call to `array`. Only the bare keyword: a quoted `"array"(x)` calls a
/// user function.
fn is_array_constructor(name: &ObjectName) -> bool {
    match name.0.as_slice() {
        [part] => part
            .as_ident()
            .is_some_and(|i| i.quote_style.is_none() && i.value.eq_ignore_ascii_case("array")),
        _ => false,
    }
}

/// Whether a function used as a table in FROM is a known pure builtin.
pub(crate) fn is_pure_table_function(
    name: &ObjectName,
    dialect: Dialect,
    resolution: Resolution,
) -> bool {
    let mut buf = [0u8; MAX_BUILTIN_LEN];
    builtin_name(name, dialect, resolution, &mut buf)
        .is_some_and(|n| PURE_TABLE_FUNCTIONS.contains(&n))
}

/// Longer than any allow-listed name: a longer name is never a builtin.
const MAX_BUILTIN_LEN: usize = 64;

/// The folded name of a call that may be a builtin (bare while builtins resolve first,
/// or `pg_catalog.` on PostgreSQL), written into `buf` without allocating; `None` when
/// it cannot be one.
fn builtin_name<'b>(
    name: &ObjectName,
    dialect: Dialect,
    resolution: Resolution,
    buf: &'b mut [u8; MAX_BUILTIN_LEN],
) -> Option<&'b str> {
    match name.0.as_slice() {
        [_] if resolution == Resolution::UserSchemasFirst => return None,
        [_] => {}
        [schema, _] if dialect == Dialect::Postgres => {
            let schema = schema.as_ident()?;
            let is_catalog = match schema.quote_style {
                None => schema.value.eq_ignore_ascii_case("pg_catalog"),
                Some(_) => schema.value == "pg_catalog",
            };
            if !is_catalog {
                return None;
            }
        }
        _ => return None,
    }
    let id = name.0.last()?.as_ident()?;
    // Builtin names are ASCII. A non-ASCII name is never one: Unicode case folding
    // could turn it into an allow-listed name (KELVIN SIGN lower-cases to `k`), while
    // the server folds only ASCII letters and would call a different function.
    let bytes = id.value.as_bytes();
    if !id.value.is_ascii() || bytes.len() > MAX_BUILTIN_LEN {
        return None;
    }
    let out = buf.get_mut(..bytes.len())?;
    out.copy_from_slice(bytes);
    // Function names are case-insensitive in both dialects unless quoted.
    if id.quote_style.is_none() {
        out.make_ascii_lowercase();
    }
    std::str::from_utf8(out).ok()
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
