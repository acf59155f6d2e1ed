//! PostgreSQL front-end (owned by the postgres work).

use serde::Deserialize;

/// Postgres-specific target options (`targets[].postgres` in warden.yaml).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresOptions {}
