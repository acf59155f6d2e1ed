//! Replay throughput: parse + judge export lines (criterion). The lines are built here,
//! in the shape `warden audit export` writes (chain fields, facts, verdicts, outcomes),
//! for 40 users over a few simulated days.
//!
//! ```text
//! cargo bench -p warden-analytics --bench replay
//! ```

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::json;
use warden_analytics::replay::{self, line};
use warden_analytics::{Engine, Settings};

fn lines(n: usize) -> String {
    let mut out = String::new();
    let mut x: u64 = 7;
    let mut next = || {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        x >> 33
    };
    let t0: i64 = 1_767_571_200_000_000_000;
    for seq in 1..=n {
        let t = t0 + seq as i64 * 250_000_000;
        let u = format!("user{}", next() % 40);
        let actor = json!({"name": u, "roles": ["developer"], "client_addr": format!("10.1.0.{}:{}", next() % 40, 40000 + next() % 20000)});
        let raw = format!(
            "SELECT id, status FROM orders WHERE customer_id = {} LIMIT 100",
            next() % 100_000
        );
        let event = if seq % 2 == 1 {
            json!({"kind": "action_decided", "actor": actor, "target": "app-db-prod", "protocol": "postgres", "session": "s-1",
                   "action": {"protocol": "postgres", "user": actor, "target": {"name": "app-db-prod", "labels": {"env": "production"}},
                              "session": "s-1", "raw": raw,
                              "facts": {"kind": "sql", "statements": [{"kind": "select", "objects": ["orders"], "without_where": false, "opaque": false, "writes": false}], "unparsed": false}},
                   "verdict": {"decision": "allow", "rules": []}})
        } else {
            json!({"kind": "action_completed", "actor": actor, "target": "app-db-prod", "protocol": "postgres", "session": "s-1",
                   "outcome": {"status": "SELECT 100", "rows": 100, "bytes": 12000, "duration_ms": 3}, "detail": "decided"})
        };
        let line = json!({"seq": seq, "time": "2026-01-05T00:00:00Z", "time_ns": t,
                          "prev_hash": format!("{:064x}", seq), "hash": format!("{:064x}", seq + 1), "event": event});
        out.push_str(&line.to_string());
        out.push('\n');
    }
    out
}

fn bench(c: &mut Criterion) {
    let text = lines(20_000);
    let mut g = c.benchmark_group("replay");
    g.throughput(Throughput::Elements(20_000));
    g.bench_function("parse", |b| {
        b.iter(|| {
            text.lines()
                .enumerate()
                .filter(|(i, l)| line::parse(l.as_bytes(), *i as u64).is_ok())
                .count()
        })
    });
    g.bench_function("parse+judge", |b| {
        b.iter(|| replay::run(text.as_bytes(), &Settings::default(), std::io::sink()).unwrap())
    });
    g.bench_function("judge (parsed once)", |b| {
        let parsed: Vec<_> = text
            .lines()
            .enumerate()
            .map(|(i, l)| line::parse(l.as_bytes(), i as u64).unwrap().into_owned())
            .collect();
        b.iter(|| {
            let mut engine = Engine::new(&Settings::default()).unwrap();
            parsed
                .iter()
                .map(|o| engine.observe_view(o).len())
                .sum::<usize>()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
