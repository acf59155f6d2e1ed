//! Evaluation semantics of compiled policy sets, on hand-built actions.

mod common;

use std::time::Duration;

use common::*;
use warden_inspect::sql::StatementKind::*;
use warden_policy::{
    Decision, PolicySet, PolicyStore, DEFAULT_ALLOW, DEFAULT_OPAQUE, DEFAULT_UNPARSED,
};

const BASIC: &str = r#"
version: 1
rules:
  - name: no-drop
    when:
      protocol: postgres
      target: { labels: { env: production } }
      sql: { statements: [drop, truncate] }
    unless:
      user: { roles: [migrator] }
    action: deny
    message: DROP is blocked
  - name: unbounded-writes
    when:
      sql: { statements: [update, delete], without_where: true }
    action: hold
    approval: { approvers: { roles: [dba] }, required: 2, timeout: 15m }
  - name: payments-hold
    when:
      sql: { objects: ["*.payments"] }
    action: hold
    approval: { approvers: { roles: [finance] }, timeout: 5m, wait: false }
  - name: watch-selects
    when:
      sql: { statements: [select] }
    action: deny
    mode: dry_run
"#;

#[test]
fn most_restrictive_wins_and_every_match_is_named() {
    let s = set(BASIC);
    let v = s.evaluate(&sql(vec![
        stmt(Delete, &["public.users"], true),
        stmt(Drop, &["users"], false),
    ]));
    assert_eq!(v.decision, Decision::Deny);
    assert_eq!(v.rule, "no-drop");
    assert_eq!(v.message, "DROP is blocked");
    let names: Vec<&str> = v.matched.iter().map(|h| h.rule.as_str()).collect();
    assert_eq!(names, ["no-drop", "unbounded-writes"]);
}

#[test]
fn unless_excludes() {
    let s = set(BASIC);
    let mut a = sql(vec![stmt(Drop, &["users"], false)]);
    a.user.roles.push("migrator".into());
    let v = s.evaluate(&a);
    assert_eq!(v.decision, Decision::Allow);
    assert_eq!(v.rule, DEFAULT_ALLOW);
}

#[test]
fn statement_level_keys_hold_for_the_same_statement() {
    let s = set(BASIC);
    // A keyed DELETE next to an UPDATE with WHERE: no single statement is an
    // unbounded write.
    let v = s.evaluate(&sql(vec![
        stmt(Delete, &["t"], false),
        stmt(Select, &["t"], true),
    ]));
    assert!(
        !v.matched.iter().any(|h| h.rule == "unbounded-writes"),
        "{v:?}"
    );
    // Nested kinds count: a SELECT hiding a WHERE-less DELETE in a CTE.
    let mut cte = stmt(Select, &["t"], true);
    cte.nested.push(Delete);
    let v = s.evaluate(&sql(vec![cte]));
    assert_eq!(v.decision, Decision::Hold);
    assert_eq!(v.rule, "unbounded-writes");
}

#[test]
fn holding_rules_merge_their_approvals() {
    let s = set(BASIC);
    let v = s.evaluate(&sql(vec![stmt(Update, &["billing.payments"], true)]));
    assert_eq!(v.decision, Decision::Hold);
    let a = v.approval.expect("hold carries approval");
    assert_eq!(a.approver_roles, ["dba", "finance"]);
    assert_eq!(a.required, 2);
    assert_eq!(a.timeout, Duration::from_secs(300));
    assert!(!a.wait);
    assert_eq!(v.message, "hold by rule unbounded-writes");
}

#[test]
fn dry_run_rules_do_not_decide() {
    let s = set(BASIC);
    let v = s.evaluate(&sql(vec![stmt(Select, &["t"], false)]));
    assert_eq!(v.decision, Decision::Allow);
    assert_eq!(v.dry_run.len(), 1);
    assert_eq!(v.dry_run[0].rule, "watch-selects");
    assert_eq!(v.dry_run[0].decision, Decision::Deny);
}

#[test]
fn unparsed_and_opaque_are_held_by_default() {
    let s = PolicySet::empty();
    let v = s.evaluate(&unparsed_sql());
    assert_eq!(v.decision, Decision::Hold);
    assert_eq!(v.rule, DEFAULT_UNPARSED);
    assert_eq!(v.approval.unwrap().approver_roles, ["admin"]);
    let mut st = stmt(Do, &[], false);
    st.opaque = true;
    let v = s.evaluate(&sql(vec![st]));
    assert_eq!(v.decision, Decision::Hold);
    assert_eq!(v.rule, DEFAULT_OPAQUE);
    // A broad allow rule does not lift the default: it does not name unparsed input.
    let s = set("rules:\n  - {name: all, when: {}, action: allow}\n");
    assert_eq!(s.evaluate(&unparsed_sql()).decision, Decision::Hold);
}

#[test]
fn defaults_are_configurable_and_explicit_rules_override_them() {
    let s = set("defaults: { unparsed: deny, opaque: allow }\n");
    assert_eq!(s.evaluate(&unparsed_sql()).decision, Decision::Deny);
    let mut st = stmt(Do, &[], false);
    st.opaque = true;
    assert_eq!(s.evaluate(&sql(vec![st])).decision, Decision::Allow);

    let s = set(
        "rules:\n  - name: migrator-may\n    when: { user: { roles: [migrator] }, sql: { unparsed: true } }\n    action: allow\n",
    );
    let mut a = unparsed_sql();
    assert_eq!(s.evaluate(&a).decision, Decision::Hold);
    a.user.roles.push("migrator".into());
    let v = s.evaluate(&a);
    assert_eq!(v.decision, Decision::Allow, "{v:?}");
    assert_eq!(v.rule, "migrator-may");
}

#[test]
fn an_opaque_allow_for_one_statement_does_not_lift_the_default_for_another() {
    // Opaque SELECTs (calls of unknown functions) are allowed for analysts...
    let s = set(
        "rules:\n  - name: analysts-opaque-selects\n    when: { user: { roles: [analyst] }, sql: { statements: [select], opaque: true } }\n    action: allow\n",
    );
    let opaque = |kind| {
        let mut st = stmt(kind, &[], false);
        st.opaque = true;
        st
    };
    let mut a = sql(vec![opaque(Select)]);
    a.user.roles.push("analyst".into());
    let v = s.evaluate(&a);
    assert_eq!(v.decision, Decision::Allow, "{v:?}");
    // ...but an opaque DO block sent in the same string stays held by the default.
    let mut a = sql(vec![opaque(Select), opaque(Do)]);
    a.user.roles.push("analyst".into());
    let v = s.evaluate(&a);
    assert_eq!(v.decision, Decision::Hold, "{v:?}");
    assert_eq!(v.rule, DEFAULT_OPAQUE);
    // Two opaque SELECTs are both covered by the rule.
    let mut a = sql(vec![
        opaque(Select),
        stmt(Update, &["t"], false),
        opaque(Select),
    ]);
    a.user.roles.push("analyst".into());
    assert_eq!(s.evaluate(&a).decision, Decision::Allow);
}

#[test]
fn conditions_for_other_protocols_do_not_match() {
    let s = set("rules:\n  - {name: sql-any, when: {sql: {}}, action: deny}\n");
    assert_eq!(s.evaluate(&ssh(&[&["ls"]])).decision, Decision::Allow);
    assert_eq!(
        s.evaluate(&sql(vec![stmt(Select, &[], false)])).decision,
        Decision::Deny
    );
}

#[test]
fn target_and_user_conditions() {
    let s = set(r#"
rules:
  - name: r
    when:
      target: { names: [prod-*], labels: { env: [production, staging] } }
      user: { names: [ali*], roles: [developer] }
    action: deny
"#);
    let a = sql(vec![]);
    assert_eq!(s.evaluate(&a).decision, Decision::Deny);
    let mut b = a.clone();
    b.target.name = "dev-db".into();
    assert_eq!(s.evaluate(&b).decision, Decision::Allow);
    let mut c = a.clone();
    c.target.labels.insert("env".into(), "dev".into());
    assert_eq!(s.evaluate(&c).decision, Decision::Allow);
    let mut d = a.clone();
    d.user.roles = vec!["dba".into()];
    assert_eq!(s.evaluate(&d).decision, Decision::Allow);
}

#[test]
fn sql_objects_resolve_unqualified_names_to_public() {
    let s =
        set("rules:\n  - {name: users, when: {sql: {objects: [public.users]}}, action: deny}\n");
    assert_eq!(
        s.evaluate(&sql(vec![stmt(Select, &["users"], false)]))
            .decision,
        Decision::Deny
    );
    assert_eq!(
        s.evaluate(&sql(vec![stmt(Select, &["Public.Users"], false)]))
            .decision,
        Decision::Deny
    );
    assert_eq!(
        s.evaluate(&sql(vec![stmt(Select, &["hr.users"], false)]))
            .decision,
        Decision::Allow
    );
}

#[test]
fn kubernetes_conditions() {
    let s = set(r#"
rules:
  - name: prod-deletes
    when: { kubernetes: { verbs: [delete, deletecollection], namespaces: [prod*] } }
    action: hold
  - name: secrets
    when: { kubernetes: { verbs: [get, list, watch], resources: [secrets] } }
    action: deny
  - name: exec
    when: { kubernetes: { subresources: [exec], names: ["*"] } }
    action: hold
"#);
    assert_eq!(
        s.evaluate(&kube("delete", "pods", None, Some("prod"), Some("p")))
            .decision,
        Decision::Hold
    );
    assert_eq!(
        s.evaluate(&kube("delete", "pods", None, Some("dev"), Some("p")))
            .decision,
        Decision::Allow
    );
    // Cluster-scoped: no namespace, so a namespace condition cannot hold.
    assert_eq!(
        s.evaluate(&kube("delete", "nodes", None, None, Some("n")))
            .decision,
        Decision::Allow
    );
    assert_eq!(
        s.evaluate(&kube("list", "secrets", None, Some("dev"), None))
            .decision,
        Decision::Deny
    );
    assert_eq!(
        s.evaluate(&kube("exec", "pods", Some("exec"), Some("dev"), Some("p")))
            .decision,
        Decision::Hold
    );
    // http: conditions see a Kubernetes request's HTTP facts too.
    let s = set(
        "rules:\n  - {name: h, when: {http: {methods: [get], paths: ['/api/**']}}, action: deny}\n",
    );
    assert_eq!(
        s.evaluate(&kube("get", "pods", None, None, None)).decision,
        Decision::Deny
    );
}

#[test]
fn http_conditions() {
    let s = set("rules:\n  - {name: admin, when: {http: {methods: [DELETE, patch], paths: ['/admin/**', '/v1/users/*']}}, action: deny}\n");
    assert_eq!(
        s.evaluate(&http("DELETE", "/admin/x/y")).decision,
        Decision::Deny
    );
    assert_eq!(
        s.evaluate(&http("PATCH", "/v1/users/7")).decision,
        Decision::Deny
    );
    assert_eq!(
        s.evaluate(&http("PATCH", "/v1/users/7/roles")).decision,
        Decision::Allow
    );
    assert_eq!(
        s.evaluate(&http("GET", "/admin/x")).decision,
        Decision::Allow
    );
}

#[test]
fn ssh_programs_and_flags() {
    let s = set("rules:\n  - {name: rmrf, when: {ssh: {programs: [rm], args: ['-rf', '--recursive']}}, action: deny}\n");
    assert_eq!(
        s.evaluate(&ssh(&[&["/bin/rm", "-r", "-f", "/"]])).decision,
        Decision::Deny
    );
    assert_eq!(
        s.evaluate(&ssh(&[&["ls"], &["rm", "-fr", "x"]])).decision,
        Decision::Deny
    );
    assert_eq!(s.evaluate(&ssh(&[&["rm", "x"]])).decision, Decision::Allow);
    // programs and args must hold for the same command.
    assert_eq!(
        s.evaluate(&ssh(&[&["rm", "x"], &["cp", "-rf", "a", "b"]]))
            .decision,
        Decision::Allow
    );
}

#[test]
fn forward_to_matches_the_forwarding_address() {
    use warden_inspect::shell::SshFacts;
    use warden_inspect::{Facts, Protocol};
    let s = set("rules:\n  - {name: db-tunnels, when: {ssh: {forwarding: true, forward_to: ['*.internal:5432', '\\[::1\\]:5432']}}, action: deny}\n");
    let fwd = |facts: SshFacts| {
        s.evaluate(&action(Protocol::Ssh, Facts::Ssh(facts)))
            .decision
    };
    assert_eq!(
        fwd(SshFacts::forwarding_to("db1.internal", 5432)),
        Decision::Deny
    );
    assert_eq!(
        fwd(SshFacts::forwarding_to("DB1.Internal", 5432)),
        Decision::Deny,
        "host names ignore case"
    );
    assert_eq!(
        fwd(SshFacts::forwarding_to("::1", 5432)),
        Decision::Deny,
        "v6 in brackets"
    );
    assert_eq!(
        fwd(SshFacts::forwarding_to("db1.internal", 22)),
        Decision::Allow
    );
    assert_eq!(
        fwd(SshFacts::forwarding_to("db1.example", 5432)),
        Decision::Allow
    );
    assert_eq!(
        fwd(SshFacts::forwarding()),
        Decision::Allow,
        "agent forwarding has no address"
    );
}

#[test]
fn store_swaps_whole_sets() {
    let store = PolicyStore::new(PolicySet::empty());
    let before = store.current();
    store.replace(set("rules:\n  - {name: all, when: {}, action: deny}\n"));
    let a = sql(vec![stmt(Select, &[], false)]);
    assert_eq!(before.evaluate(&a).decision, Decision::Allow);
    assert_eq!(
        store.clone().current().evaluate(&a).decision,
        Decision::Deny
    );
}

#[test]
fn allow_lists_need_every_command_and_statement_to_be_listed() {
    let s = set(r#"
rules:
  - name: deployer-allow-list
    when: { protocol: ssh, user: { roles: [developer] } }
    unless: { ssh: { only_programs: [ls, cat, systemctl] } }
    action: hold
  - name: readers-only-select
    when: { protocol: postgres }
    unless: { sql: { only_statements: [select, show] } }
    action: hold
"#);
    assert_eq!(
        s.evaluate(&ssh(&[&["ls"], &["cat", "x"]])).decision,
        Decision::Allow
    );
    assert_eq!(
        s.evaluate(&ssh(&[&["ls"], &["rm", "x"]])).decision,
        Decision::Hold
    );
    assert_eq!(s.evaluate(&ssh(&[])).decision, Decision::Hold);
    assert_eq!(
        s.evaluate(&sql(vec![stmt(Select, &[], false)])).decision,
        Decision::Allow
    );
    let v = s.evaluate(&sql(vec![
        stmt(Select, &[], false),
        stmt(Drop, &["t"], false),
    ]));
    assert_eq!(v.decision, Decision::Hold);
    let mut cte = stmt(Select, &["t"], false);
    cte.nested.push(Delete);
    assert_eq!(s.evaluate(&sql(vec![cte])).decision, Decision::Hold);
    assert_eq!(s.evaluate(&unparsed_sql()).decision, Decision::Hold);
}

const UNDER_ALERT: &str = r#"
version: 1
rules:
  - name: writes-under-alert-need-review
    when:
      user: { alerts: [unusual-volume, privilege-change] }
      sql: { statements: [insert, update, delete, grant] }
    action: hold
    approval: { approvers: { roles: [security] }, timeout: 1h }
  - name: anything-under-any-alert-is-watched
    when:
      user: { alerts: ["*"] }
    action: deny
    mode: dry_run
"#;

#[test]
fn user_alerts_match_the_open_alerts_the_gate_filled_in() {
    let s = set(UNDER_ALERT);
    let write = || sql(vec![stmt(Update, &["accounts"], false)]);
    let calm = s.evaluate(&write());
    assert_eq!(calm.decision, Decision::Allow, "no open alert");
    assert!(calm.dry_run.is_empty());

    let mut flagged = write();
    flagged.user.alerts = vec!["privilege-change".into()];
    let v = s.evaluate(&flagged);
    assert_eq!(v.decision, Decision::Hold);
    assert_eq!(v.rule, "writes-under-alert-need-review");
    assert_eq!(v.dry_run.len(), 1, "the * rule matches any open alert");

    let mut other = write();
    other.user.alerts = vec!["off-hours".into()];
    let v = s.evaluate(&other);
    assert_eq!(
        v.decision,
        Decision::Allow,
        "an alert the rule does not name"
    );
    assert_eq!(v.dry_run.len(), 1);

    let mut read = sql(vec![stmt(Select, &["accounts"], false)]);
    read.user.alerts = vec!["privilege-change".into()];
    assert_eq!(
        s.evaluate(&read).decision,
        Decision::Allow,
        "reads still run"
    );
}

#[test]
fn a_misspelt_alert_detector_is_an_error_with_a_suggestion() {
    let bad = "version: 1\nrules:\n  - name: r\n    when: { user: { alerts: [privilege-chnage] } }\n    action: deny\n";
    let err = PolicySet::from_sources(&[("p.yaml".into(), bad.into())])
        .expect_err("invalid")
        .to_string();
    assert!(err.contains(".when.user.alerts"), "{err}");
    assert!(err.contains("did you mean `privilege-change`"), "{err}");
}
