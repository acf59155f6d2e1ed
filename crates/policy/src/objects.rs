//! `sql.objects` patterns: case-insensitive globs over `schema.name` object names.
//!
//! Inspection reports objects as the database resolves them (`public.users` when
//! qualified, `users` when not). An unqualified object matches a pattern written for
//! it bare (`users`), a pattern whose schema part is `*` (`*.users`), and — on
//! PostgreSQL, where the default search path starts at `public` — a pattern whose schema
//! part matches `public` (`public.users`). On MySQL the current database is unknown, so
//! only the bare and `*.` forms match an unqualified name. Matching is case-insensitive
//! so that quoting games cannot dodge a rule.

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use warden_inspect::Protocol;

/// Compiled `sql.objects`.
#[derive(Debug, Clone)]
pub struct ObjectPatterns {
    full: GlobSet,
    /// Name parts of patterns whose schema part is exactly `*`.
    any_schema: GlobSet,
    /// Name parts of patterns whose schema part matches `public`.
    public_schema: GlobSet,
}

fn glob(p: &str) -> Result<globset::Glob, String> {
    GlobBuilder::new(p)
        .case_insensitive(true)
        .build()
        .map_err(|e| e.to_string())
}

impl ObjectPatterns {
    /// Compile; `Err((index, message))` names the first bad pattern.
    pub fn new(patterns: &[String]) -> Result<ObjectPatterns, (usize, String)> {
        let mut full = GlobSetBuilder::new();
        let mut any = GlobSetBuilder::new();
        let mut public = GlobSetBuilder::new();
        for (i, p) in patterns.iter().enumerate() {
            full.add(glob(p).map_err(|e| (i, e))?);
            if let Some((schema, name)) = p.split_once('.') {
                let name_glob = glob(name).map_err(|e| (i, e))?;
                if schema == "*" {
                    any.add(name_glob.clone());
                }
                if glob(schema)
                    .map_err(|e| (i, e))?
                    .compile_matcher()
                    .is_match("public")
                {
                    public.add(name_glob);
                }
            }
        }
        let build = |b: GlobSetBuilder| b.build().map_err(|e| (0, e.to_string()));
        Ok(ObjectPatterns {
            full: build(full)?,
            any_schema: build(any)?,
            public_schema: build(public)?,
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
