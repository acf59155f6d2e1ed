//! `sql.objects` patterns: case-insensitive globs over `schema.name` object names.
//!
//! Inspection reports objects as the database resolves them (`public.users` when
//! qualified, `users` when not). An unqualified object matches a pattern written for
//! it bare (`users`), a pattern whose schema part is `*` (`*.users`), and — on
//! PostgreSQL, where the default search path starts at `public` — a pattern whose schema
//! part matches `public` (`public.users`). On MySQL the current database is unknown, so
//! only the bare and `*.` forms match an unqualified name. Matching is case-insensitive
//! so that quoting games cannot dodge a rule.

use globset::GlobBuilder;

use crate::patterns::Patterns;
use warden_inspect::Protocol;

/// Compiled `sql.objects`.
#[derive(Debug, Clone)]
pub struct ObjectPatterns {
    full: Patterns,
    /// Name parts of patterns whose schema part is exactly `*`.
    any_schema: Patterns,
    /// Name parts of patterns whose schema part matches `public`.
    public_schema: Patterns,
}

impl ObjectPatterns {
    /// Compile; `Err((index, message))` names the first bad pattern.
    pub fn new(patterns: &[String]) -> Result<ObjectPatterns, (usize, String)> {
        let full = Patterns::new(patterns, false, true)?;
        let mut any = Vec::new();
        let mut public = Vec::new();
        for (i, p) in patterns.iter().enumerate() {
            if let Some((schema, name)) = p.split_once('.') {
                if schema == "*" {
                    any.push(name.to_string());
                }
                let schema_glob = GlobBuilder::new(schema)
                    .case_insensitive(true)
                    .build()
                    .map_err(|e| (i, e.to_string()))?;
                if schema_glob.compile_matcher().is_match("public") {
                    public.push(name.to_string());
                }
            }
        }
        // Name parts come from valid patterns; an error here has no better position.
        Ok(ObjectPatterns {
            full,
            any_schema: Patterns::new(&any, false, true).map_err(|(_, e)| (0, e))?,
            public_schema: Patterns::new(&public, false, true).map_err(|(_, e)| (0, e))?,
        })
    }

    pub fn matches(&self, object: &str, protocol: Protocol) -> bool {
        if self.full.is_match(object) {
            return true;
        }
        if object.contains('.') {
            return false;
        }
        self.any_schema.is_match(object)
            || (protocol == Protocol::Postgres && self.public_schema.is_match(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pats(p: &[&str]) -> ObjectPatterns {
        ObjectPatterns::new(&p.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn unqualified_names_resolve_to_public_on_postgres_only() {
        let p = pats(&["public.users"]);
        assert!(p.matches("users", Protocol::Postgres));
        assert!(p.matches("public.users", Protocol::Mysql));
        assert!(!p.matches("users", Protocol::Mysql));
        assert!(!p.matches("other.users", Protocol::Postgres));
    }

    #[test]
    fn star_schema_and_bare_patterns() {
        let p = pats(&["*.payments", "audit_log"]);
        assert!(p.matches("billing.payments", Protocol::Postgres));
        assert!(p.matches("payments", Protocol::Mysql));
        assert!(p.matches("AUDIT_LOG", Protocol::Mysql));
        assert!(!p.matches("payments_old", Protocol::Postgres));
    }
}
