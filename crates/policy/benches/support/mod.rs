//! The workload shared by the `evaluate` bench and the `inspect_loop` example (which runs
//! the same path a fixed number of times for instruction counting under callgrind).

use std::collections::BTreeMap;
use std::sync::Arc;

use warden_inspect::sql::SqlFacts;
use warden_inspect::{Action, Actor, Facts, Protocol, TargetRef};
use warden_policy::PolicySet;

/// A typical OLTP write, as an ORM sends it.
pub const STATEMENT: &str =
    "UPDATE public.orders SET status = 'shipped', updated_at = now() WHERE id = $1 AND tenant_id = $2";

/// `n` rules in the shapes real policies use, across all protocols (five shapes in turn).
pub fn policy_of(n: usize) -> PolicySet {
    let mut y = String::from("version: 1\nrules:\n");
    for i in 0..n {
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

/// The Action a PostgreSQL session builds for one simple Query (the facts come from the
/// statement cache, or are fresh from inspection on a miss).
pub fn action(facts: Arc<SqlFacts>) -> Action {
    Action {
        protocol: Protocol::Postgres,
        user: Actor {
            name: "alice".into(),
            roles: vec!["developer".into()],
            client_addr: None,
            alerts: Vec::new(),
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
