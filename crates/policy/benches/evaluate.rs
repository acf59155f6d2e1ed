//! inspect + evaluate of a typical statement against generated policy sets of 200 and
//! 1,000 rules: uncached (parse every time), cached (statement-text cache hit), and
//! shape-cached (the same statement with other literal values each time, a hit on its
//! literal shape — pgbench's and most ORMs' case without server-side parameters).
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

use support::{action, policy_of, STATEMENT};

/// `STATEMENT` with literal values instead of parameters (differs per call).
fn literal_statement(i: u64) -> String {
    format!(
        "UPDATE public.orders SET status = 'shipped', updated_at = now() WHERE id = {i} AND tenant_id = {}",
        i % 97
    )
}

fn bench(c: &mut Criterion) {
    for rules in [200, 1000] {
        bench_rules(c, rules);
    }
}

fn bench_rules(c: &mut Criterion, rules: usize) {
    let set = policy_of(rules);
    assert_eq!(set.rules().count(), rules);
    let check = set.evaluate(&action(Arc::new(sql::inspect(
        STATEMENT,
        Dialect::Postgres,
    ))));
    assert!(!check.matched.is_empty() || check.rule == "default-allow");

    c.bench_function(&format!("{rules} rules/inspect+evaluate/uncached"), |b| {
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
    c.bench_function(&format!("{rules} rules/inspect+evaluate/cached"), |b| {
        b.iter(|| {
            let facts: Arc<SqlFacts> = cache.inspect(black_box(STATEMENT), Dialect::Postgres);
            black_box(set.evaluate(&action(facts)))
        })
    });

    let shaped = cache.inspect(&literal_statement(0), Dialect::Postgres);
    assert!(Arc::ptr_eq(
        &shaped,
        &cache.inspect(&literal_statement(1), Dialect::Postgres)
    ));
    let mut i = 0u64;
    c.bench_function(
        &format!("{rules} rules/inspect+evaluate/shape-cached"),
        |b| {
            b.iter(|| {
                i += 1;
                let text = literal_statement(i);
                let facts = cache.inspect(black_box(&text), Dialect::Postgres);
                black_box(set.evaluate(&action(facts)))
            })
        },
    );

    let prepared = action(first);
    c.bench_function(&format!("{rules} rules/evaluate-only"), |b| {
        b.iter(|| black_box(set.evaluate(black_box(&prepared))))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
