//! A bounded cache of SQL inspection results, so a statement a client repeats (ORMs,
//! pollers, prepared statements, the same query with other literal values) is parsed
//! once.
//!
//! Keys: the statement's *literal shape* (`warden_inspect::sql::literal_shape`: numbers
//! and plain strings replaced by placeholders) when it has one, else the exact text; the
//! two live in separate maps so a text can never be mistaken for a shape. Under a shape
//! only facts that parsed are stored (a parse error message may quote a literal). Facts
//! depend only on the text and dialect, never on the user or target, so sharing them is
//! safe; policies still evaluate every action with its own raw text. The cache must never
//! grow without bound: each shard is cleared when it reaches its share of the capacity
//! (a simple, O(1)-amortised eviction that cannot be steered into unbounded memory by a
//! client sending endless distinct statements).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use warden_inspect::sql::{self, facts_use_literal, literal_shape, Dialect, SqlFacts};

const SHARDS: usize = 16;

type Map = HashMap<Box<str>, Arc<SqlFacts>>;

/// What a cache entry is keyed by.
#[derive(Clone, Copy)]
enum KeyKind {
    Text,
    Shape,
}

#[derive(Default)]
struct Shard {
    /// Indexed by [`Shard::slot`]: (dialect, key kind).
    maps: [Map; 4],
}

impl Shard {
    fn slot(d: Dialect, k: KeyKind) -> usize {
        let d = match d {
            Dialect::Postgres => 0,
            Dialect::Mysql => 1,
        };
        d * 2 + k as usize
    }

    fn map(&mut self, d: Dialect, k: KeyKind) -> &mut Map {
        &mut self.maps[Shard::slot(d, k)]
    }

    fn len(&self) -> usize {
        self.maps.iter().map(HashMap::len).sum()
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

    /// Inspect `text`, or return the facts from a previous call with the same text or
    /// the same literal shape.
    pub fn inspect(&self, text: &str, dialect: Dialect) -> Arc<SqlFacts> {
        if text.len() > self.max_text {
            return Arc::new(sql::inspect(text, dialect));
        }
        let shape = literal_shape(text);
        let (key, kind) = match &shape {
            Some(s) => (s.as_str(), KeyKind::Shape),
            None => (text, KeyKind::Text),
        };
        let idx = shard_of(key);
        let Some(shard) = self.shards.get(idx) else {
            return Arc::new(sql::inspect(text, dialect));
        };
        {
            let mut guard = shard.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(facts) = guard.map(dialect, kind).get(key) {
                return Arc::clone(facts);
            }
        }
        if matches!(kind, KeyKind::Shape) {
            // A shaped text whose facts named one of its literals is kept by its text.
            if let Some(shard) = self.shards.get(shard_of(text)) {
                let mut guard = shard.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(facts) = guard.map(dialect, KeyKind::Text).get(text) {
                    return Arc::clone(facts);
                }
            }
        }
        // Parse outside the lock: parsing is the slow part.
        let facts = Arc::new(sql::inspect(text, dialect));
        let (key, kind, idx) = match kind {
            KeyKind::Shape if facts.unparsed => return facts,
            KeyKind::Shape if facts_use_literal(text, &facts) => {
                (text, KeyKind::Text, shard_of(text))
            }
            _ => (key, kind, idx),
        };
        let Some(shard) = self.shards.get(idx) else {
            return facts;
        };
        let mut guard = shard.lock().unwrap_or_else(|e| e.into_inner());
        if guard.len() >= self.per_shard {
            guard.maps.iter_mut().for_each(HashMap::clear);
        }
        guard
            .map(dialect, kind)
            .insert(key.into(), Arc::clone(&facts));
        facts
    }

    /// Number of cached statements.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).len())
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
    fn a_literal_read_as_a_name_is_never_shared_by_shape() {
        // `ANALYZE 'x'` names table x: the same shape with another string is another table.
        let cache = SqlCache::new(100);
        let a = cache.inspect("ANALYZE 'harmless'", Dialect::Postgres);
        let b = cache.inspect("ANALYZE 'secret'", Dialect::Postgres);
        assert_eq!(a.statements[0].objects, vec!["harmless".to_string()]);
        assert_eq!(b.statements[0].objects, vec!["secret".to_string()]);
        // Still cached by its exact text.
        let a2 = cache.inspect("ANALYZE 'harmless'", Dialect::Postgres);
        assert!(Arc::ptr_eq(&a, &a2));
    }

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
    fn literal_values_share_one_entry_and_texts_never_meet_shapes() {
        let cache = SqlCache::new(100);
        let a = cache.inspect("DELETE FROM t WHERE id = 1", Dialect::Postgres);
        let b = cache.inspect("DELETE FROM t WHERE id = 2", Dialect::Postgres);
        assert!(Arc::ptr_eq(&a, &b));
        // A text that looks like a shape is inspected as itself.
        let c = cache.inspect("DELETE FROM t WHERE id = ?n", Dialect::Postgres);
        assert!(!Arc::ptr_eq(&a, &c));
        assert!(!a.unparsed);
        // Unparsed texts are not stored under their shape.
        cache.inspect("SELEC 1", Dialect::Postgres);
        assert!(cache.inspect("SELEC 2", Dialect::Postgres).unparsed);
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn stays_bounded() {
        let cache = SqlCache::new(64);
        for i in 0..10_000 {
            cache.inspect(&format!("SELECT c{i}"), Dialect::Postgres);
        }
        assert!(cache.len() <= 64, "{}", cache.len());
    }
}
