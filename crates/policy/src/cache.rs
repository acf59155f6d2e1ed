//! A bounded cache of SQL inspection results keyed by (dialect, statement text), so a
//! statement a client repeats (ORMs, pollers, prepared statements) is parsed once.
//!
//! Facts depend only on the text and dialect, never on the user or target, so sharing
//! them is safe. The cache must never grow without bound: each shard is cleared when it
//! reaches its share of the capacity (a simple, O(1)-amortised eviction that cannot be
//! steered into unbounded memory by a client sending endless distinct statements).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use warden_inspect::sql::{self, Dialect, SqlFacts};

const SHARDS: usize = 16;

#[derive(Default)]
struct Shard {
    postgres: HashMap<Box<str>, Arc<SqlFacts>>,
    mysql: HashMap<Box<str>, Arc<SqlFacts>>,
}

impl Shard {
    fn map(&mut self, d: Dialect) -> &mut HashMap<Box<str>, Arc<SqlFacts>> {
        match d {
            Dialect::Postgres => &mut self.postgres,
            Dialect::Mysql => &mut self.mysql,
        }
    }
}

/// Statement-text → facts cache. Share it behind an `Arc` between sessions.
pub struct SqlCache {
    shards: Vec<Mutex<Shard>>,
    per_shard: usize,
    /// Texts longer than this are inspected every time (they are rarely repeated, and
    /// caching them would let one client fill the cache with little effort).
    max_text: usize,
}

/// Shard choice only spreads lock contention; the maps themselves use SipHash with
/// random keys, so this cheap mix of length and edge bytes needs no collision resistance.
fn shard_of(text: &str) -> usize {
    let b = text.as_bytes();
    let mix = b.len()
        ^ b.first().map_or(0, |x| *x as usize) << 3
        ^ b.last().map_or(0, |x| *x as usize) << 1
        ^ b.get(b.len() / 2).map_or(0, |x| *x as usize);
    mix % SHARDS
}

impl SqlCache {
    /// A cache holding about `capacity` statements in total.
    pub fn new(capacity: usize) -> SqlCache {
        SqlCache {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            per_shard: capacity.div_ceil(SHARDS).max(1),
            max_text: 16 * 1024,
        }
    }

    /// Inspect `text`, or return the facts from a previous identical call.
    pub fn inspect(&self, text: &str, dialect: Dialect) -> Arc<SqlFacts> {
        if text.len() > self.max_text {
            return Arc::new(sql::inspect(text, dialect));
        }
        let idx = shard_of(text);
        let Some(shard) = self.shards.get(idx) else {
            return Arc::new(sql::inspect(text, dialect));
        };
        {
            let mut guard = shard.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(facts) = guard.map(dialect).get(text) {
                return Arc::clone(facts);
            }
        }
        // Parse outside the lock: parsing is the slow part.
        let facts = Arc::new(sql::inspect(text, dialect));
        let mut guard = shard.lock().unwrap_or_else(|e| e.into_inner());
        if guard.postgres.len() + guard.mysql.len() >= self.per_shard {
            guard.postgres.clear();
            guard.mysql.clear();
        }
        guard.map(dialect).insert(text.into(), Arc::clone(&facts));
        facts
    }

    /// Number of cached statements.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| {
                let g = s.lock().unwrap_or_else(|e| e.into_inner());
                g.postgres.len() + g.mysql.len()
            })
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for SqlCache {
    fn default() -> Self {
        SqlCache::new(10_000)
    }
}

impl std::fmt::Debug for SqlCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlCache")
            .field("len", &self.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_text_returns_the_same_facts() {
        let cache = SqlCache::new(100);
        let a = cache.inspect("SELECT 1", Dialect::Postgres);
        let b = cache.inspect("SELECT 1", Dialect::Postgres);
        assert!(Arc::ptr_eq(&a, &b));
        let c = cache.inspect("SELECT 1", Dialect::Mysql);
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn stays_bounded() {
        let cache = SqlCache::new(64);
        for i in 0..10_000 {
            cache.inspect(&format!("SELECT {i}"), Dialect::Postgres);
        }
        assert!(cache.len() <= 64, "{}", cache.len());
    }
}
