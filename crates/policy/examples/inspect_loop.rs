//! Runs the bench's inspect+evaluate path a fixed number of times, for instruction
//! counting (wall-clock benches are noisy on a shared machine):
//!
//! cargo build --release -p warden-policy --example inspect_loop
//! valgrind --tool=callgrind target/release/examples/inspect_loop uncached 1000
//!
//! Modes: `uncached`, `cached`, `evaluate`, `setup` (only the set-up, to subtract).

use std::hint::black_box;
use std::sync::Arc;

use warden_inspect::sql::{self, Dialect};
use warden_policy::SqlCache;

#[path = "../benches/support/mod.rs"]
mod support;

use support::{action, policy_of, STATEMENT};

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "uncached".into());
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(1000);
    let set = policy_of(200);
    let cache = SqlCache::new(10_000);
    cache.inspect(STATEMENT, Dialect::Postgres);
    let prepared = action(Arc::new(sql::inspect(STATEMENT, Dialect::Postgres)));
    for _ in 0..n {
        match mode.as_str() {
            "uncached" => {
                let facts = Arc::new(sql::inspect(black_box(STATEMENT), Dialect::Postgres));
                black_box(set.evaluate(&action(facts)));
            }
            "cached" => {
                let facts = cache.inspect(black_box(STATEMENT), Dialect::Postgres);
                black_box(set.evaluate(&action(facts)));
            }
            "evaluate" => {
                black_box(set.evaluate(black_box(&prepared)));
            }
            "setup" => {}
            other => {
                eprintln!("unknown mode {other}: uncached | cached | evaluate | setup");
                std::process::exit(2);
            }
        }
    }
}
