//! inspect + evaluate of a typical statement against a generated 200-rule policy set,
//! uncached (parse every time) and cached (statement-text cache hit).
//!
//! Run: cargo bench -p warden-policy --bench evaluate -- --warm-up-time 1 --measurement-time 3

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use warden_inspect::sql::{self, Dialect, SqlFacts};
use warden_inspect::{Action, Actor, Facts, Protocol, TargetRef};
use warden_policy::{PolicySet, SqlCache};

const STATEMENT: &str =
    "UPDATE public.orders SET status = 'shipped', updated_at = now() WHERE id = $1 AND tenant_id = $2";

/// 200 rules in the shapes real policies use, across all protocols.
fn policy_200() -> PolicySet {
    let mut y = String::from("version: 1\nrules:\n");
    for i in 0..200 {
        let rule = match i % 5 {
            0 => format!(
                "  - name: r{i}\n    when: {{ protocol: postgres, target: {{ labels: {{ env: production }} }}, sql: {{ statements: [drop, truncate] }} }}\n    unless: {{ user: {{ roles: [migrator{i}] }} }}\n    action: deny\n"
            ),
            1 => format!(
                "  - name: r{i}\n    when: {{ target: {{ names: [prod-*] }}, sql: {{ statements: [update, delete], without_where: true, objects: [\"schema{i}.*\"] }} }}\n    action: hold\n    approval: {{ approvers: {{ roles: [dba] }}, timeout: 15m }}\n"
            ),
            2 => format!(
                "  - name: r{i}\n    when: {{ protocol: kubernetes, kubernetes: {{ verbs: [delete], namespaces: [ns-{i}] }} }}\n    action: hold\n"
            ),
            3 => format!(
                "  - name: r{i}\n    when: {{ protocol: ssh, ssh: {{ programs: [prog{i}], args: [\"-rf\"] }} }}\n    action: deny\n"
            ),
            _ => format!(
                "  - name: r{i}\n    when: {{ user: {{ roles: [role{i}] }}, sql: {{ statements: [select, update], objects: [\"app.table_{i}\", \"*.orders_{i}\"] }} }}\n    action: hold\n"
            ),
        };
        y.push_str(&rule);
    }
    match PolicySet::from_sources(&[("bench.yaml".into(), y)]) {
        Ok(s) => s,
        Err(e) => panic!("bench policy invalid:\n{e}"),
    }
}

fn action(facts: SqlFacts) -> Action {
    Action {
        protocol: Protocol::Postgres,
        user: Actor {
            name: "alice".into(),
            roles: vec!["developer".into()],
            client_addr: None,
        },
        target: TargetRef {
            name: "prod-db".into(),
            labels: BTreeMap::from([("env".into(), "production".into())]),
        },
        session: Some("s1".into()),
        raw: STATEMENT.into(),
        facts: Facts::Sql(facts),
    }
}

fn bench(c: &mut Criterion) {
    let set = policy_200();
    assert_eq!(set.rules().count(), 200);
    let check = set.evaluate(&action(sql::inspect(STATEMENT, Dialect::Postgres)));
    assert!(!check.matched.is_empty() || check.rule == "default-allow");

    c.bench_function("inspect+evaluate/uncached", |b| {
        b.iter(|| {
            let facts = sql::inspect(black_box(STATEMENT), Dialect::Postgres);
            black_box(set.evaluate(&action(facts)))
        })
    });

    let cache = SqlCache::new(10_000);
    cache.inspect(STATEMENT, Dialect::Postgres);
    c.bench_function("inspect+evaluate/cached", |b| {
        b.iter(|| {
            let facts: Arc<SqlFacts> = cache.inspect(black_box(STATEMENT), Dialect::Postgres);
            black_box(set.evaluate(&action((*facts).clone())))
        })
    });

    let prepared = action(sql::inspect(STATEMENT, Dialect::Postgres));
    c.bench_function("evaluate-only", |b| {
        b.iter(|| black_box(set.evaluate(black_box(&prepared))))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
