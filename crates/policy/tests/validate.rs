//! Validation: every mistake is reported at once, with file, line, column, key and a
//! suggestion for misspellings.

use warden_policy::{Diagnostic, PolicySet};

fn errors(files: &[(&str, &str)]) -> Vec<Diagnostic> {
    let sources: Vec<(String, String)> = files
        .iter()
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect();
    match PolicySet::from_sources(&sources) {
        Ok(_) => panic!("expected the policy to be rejected"),
        Err(e) => e.0,
    }
}

#[test]
fn three_mistakes_three_diagnostics_with_positions() {
    let text = "\
version: 1
rules:
  - name: a
    whn:
      protocol: postgres
    action: deny
  - name: b
    when:
      sql: { statements: [delet] }
    action: deny
  - name: c
    when: {}
    action: block
";
    let e = errors(&[("p.yaml", text)]);
    let lines: Vec<String> = e.iter().map(|d| d.to_string()).collect();
    assert!(
        lines.contains(&"p.yaml:4:5: rules[0].whn: unknown key; expected one of: name, description, when, unless, action, approval, message, mode, sensitive (did you mean `when`?)".to_string()),
        "{lines:#?}"
    );
    let stmt = e
        .iter()
        .find(|d| d.key == "rules[1](b).when.sql.statements")
        .expect("statement error");
    assert_eq!((stmt.line, stmt.column), (9, 27));
    assert_eq!(stmt.suggestion.as_deref(), Some("delete"));
    let act = e
        .iter()
        .find(|d| d.key == "rules[2](c).action")
        .expect("action error");
    assert_eq!((act.line, act.column), (13, 13));
    // The misspelled `whn` also leaves rule a without `when`.
    assert!(e
        .iter()
        .any(|d| d.line == 3 && d.message.contains("missing key `when`")));
    assert_eq!(e.len(), 4, "{lines:#?}");
}

#[test]
fn type_and_value_errors() {
    let text = "\
rules:
  - name: x
    when:
      protocol: [postgres, postgress]
      target: { labels: [env] }
      sql: { without_where: yes }
      kubernetes: { verbs: [destroy] }
      ssh: { programs: 'rm[' }
    action: hold
    approval: { required: 0, timeout: 10 minutes, approvers: { role: [dba] } }
    mode: dryrun
";
    let e = errors(&[("t.yaml", text)]);
    let keys: Vec<&str> = e.iter().map(|d| d.key.as_str()).collect();
    for want in [
        "rules[0](x).when.protocol",
        "rules[0](x).when.target.labels",
        "rules[0](x).when.sql.without_where",
        "rules[0](x).when.kubernetes.verbs",
        "rules[0](x).when.ssh.programs",
        "rules[0](x).approval.approvers.role",
        "rules[0](x).mode",
    ] {
        assert!(keys.contains(&want), "missing {want} in {keys:#?}");
    }
    let proto = e.iter().find(|d| d.key.ends_with("when.protocol")).unwrap();
    assert_eq!(proto.suggestion.as_deref(), Some("postgres"));
    let mode = e.iter().find(|d| d.key.ends_with(".mode")).unwrap();
    assert_eq!(mode.suggestion.as_deref(), Some("dry_run"));
}

#[test]
fn duplicate_names_and_defaults_across_files() {
    let a = "defaults: { unparsed: deny }\nrules:\n  - { name: same, when: {}, action: deny }\n";
    let b = "defaults: { opaque: deny }\nrules:\n  - { name: same, when: {}, action: allow }\n";
    let e = errors(&[("a.yaml", a), ("b.yaml", b)]);
    assert_eq!(e.len(), 2, "{e:#?}");
    assert!(e.iter().all(|d| d.file == "b.yaml"));
    assert!(
        e.iter()
            .any(|d| d.message.contains("also defined at a.yaml:3:5")),
        "{e:#?}"
    );
    assert!(
        e.iter()
            .any(|d| d.key == "defaults" && d.message.contains("a.yaml:1:11")),
        "{e:#?}"
    );
}

#[test]
fn yaml_syntax_error_has_a_position() {
    let e = errors(&[("s.yaml", "rules:\n  - name: [unclosed\n")]);
    assert_eq!(e.len(), 1);
    assert!(e[0].line >= 2, "{e:?}");
    assert!(e[0].message.contains("invalid YAML"));
}

#[test]
fn tests_block_is_validated() {
    let text = "\
rules:
  - { name: deny-drop, when: { sql: { statements: [drop] } }, action: deny }
tests:
  - name: t1
    action: { protocol: ssh, sql: 'DROP TABLE x' }
    expect: deny
  - name: t2
    action: { protocol: postgres, sql: 'DROP TABLE x' }
    expect: denied
    rules: [deny-dorp]
";
    let e = errors(&[("t.yaml", text)]);
    let msgs: Vec<String> = e.iter().map(|d| d.to_string()).collect();
    assert!(
        msgs.iter()
            .any(|m| m.contains("`sql` does not fit protocol ssh")),
        "{msgs:#?}"
    );
    assert!(
        msgs.iter().any(|m| m.contains("tests[1].expect")),
        "{msgs:#?}"
    );
    assert!(
        msgs.iter()
            .any(|m| m.contains("no rule named `deny-dorp`")
                && m.contains("did you mean `deny-drop`")),
        "{msgs:#?}"
    );
}

#[test]
fn load_reads_folders_sorted_and_reports_missing_paths() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("b.yaml"),
        "rules:\n  - { name: b, when: {}, action: deny }\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("a.yml"),
        "rules:\n  - { name: a, when: {}, action: hold }\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not policy").unwrap();
    let set = PolicySet::load(&[dir.path()]).unwrap();
    let names: Vec<&str> = set.rules().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    let missing = dir.path().join("nope.yaml");
    let e = PolicySet::load(&[missing]).unwrap_err();
    assert!(e.to_string().contains("nope.yaml:0:0: cannot read"), "{e}");
}

#[test]
fn forwarding_addresses_are_checked() {
    let text = "\
rules:
  - name: t
    when:
      ssh: { forwarding: true, forward_to: ['db[:5432'] }
    action: allow
tests:
  - name: bad address
    action: { protocol: ssh, ssh: { request: forwarding, to: db.internal } }
    expect: allow
";
    let e = errors(&[("t.yaml", text)]);
    let keys: Vec<&str> = e.iter().map(|d| d.key.as_str()).collect();
    assert!(
        keys.iter().any(|k| k.ends_with("when.ssh.forward_to")),
        "{keys:#?}"
    );
    assert!(keys.iter().any(|k| k.ends_with("ssh.to")), "{keys:#?}");
    let to = e.iter().find(|d| d.key.ends_with("ssh.to")).expect("to");
    assert!(to.message.contains("host:port"), "{}", to.message);
}

#[test]
fn sensitive_is_a_boolean_and_rules_name_their_roles() {
    let bad =
        "version: 1\nrules:\n  - name: a\n    when: {}\n    action: deny\n    sensitive: maybe\n";
    let e = errors(&[("p.yaml", bad)]);
    assert!(
        e.iter()
            .any(|d| d.key == "rules[0](a).sensitive" && d.line == 6),
        "{e:#?}"
    );
    let good = "version: 1\nrules:\n  - name: a\n    when: { user: { roles: [dba, ops] } }\n    action: deny\n    sensitive: true\n  - name: b\n    when: {}\n    action: allow\n";
    let set = PolicySet::from_sources(&[("p.yaml".into(), good.into())]).expect("valid");
    let rules: Vec<_> = set.rules().collect();
    assert!(rules[0].sensitive);
    assert_eq!(rules[0].roles, vec!["dba".to_string(), "ops".to_string()]);
    assert!(!rules[1].sensitive && rules[1].roles.is_empty());
}
