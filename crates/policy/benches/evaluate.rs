//! inspect + evaluate of a typical statement against a generated 200-rule policy set,
//! uncached (parse every time) and cached (statement-text cache hit).
//!
//! Run: cargo bench -p warden-policy --bench evaluate -- --warm-up-time 1 --measurement-time 3
//!
//! Wall-clock numbers are noisy on a shared machine; `examples/inspect_loop.rs` runs the
//! same path a fixed number of times for instruction counts under callgrind.
//!
//! The bench allocates with mimalloc, as the `warden` binary does (src/main.rs): with
//! glibc malloc, malloc/free were about a fifth of the uncached path (parsing allocates
//! every token and AST node).

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use warden_inspect::sql::{self, Dialect, SqlFacts};
use warden_policy::SqlCache;

mod support;

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use support::{action, policy_200, STATEMENT};

fn bench(c: &mut Criterion) {
    let set = policy_200();
    assert_eq!(set.rules().count(), 200);
    let check = set.evaluate(&action(Arc::new(sql::inspect(
        STATEMENT,
        Dialect::Postgres,
    ))));
    assert!(!check.matched.is_empty() || check.rule == "default-allow");

    c.bench_function("inspect+evaluate/uncached", |b| {
        b.iter(|| {
            // As on a cache miss: inspect, then share the facts.
            let facts = Arc::new(sql::inspect(black_box(STATEMENT), Dialect::Postgres));
            black_box(set.evaluate(&action(facts)))
        })
    });

    let cache = SqlCache::new(10_000);
    // The measured lookups must really be cache hits.
    let first = cache.inspect(STATEMENT, Dialect::Postgres);
    assert!(Arc::ptr_eq(
        &first,
        &cache.inspect(STATEMENT, Dialect::Postgres)
    ));
    c.bench_function("inspect+evaluate/cached", |b| {
        b.iter(|| {
            let facts: Arc<SqlFacts> = cache.inspect(black_box(STATEMENT), Dialect::Postgres);
            black_box(set.evaluate(&action(facts)))
        })
    });

    let prepared = action(first);
    c.bench_function("evaluate-only", |b| {
        b.iter(|| black_box(set.evaluate(black_box(&prepared))))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
