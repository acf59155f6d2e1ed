//! Hand-built actions for engine tests (independent of the inspectors).

#![allow(dead_code)]

use std::collections::BTreeMap;

use warden_inspect::http::HttpFacts;
use warden_inspect::kube::KubeFacts;
use warden_inspect::shell::{ShellCommand, SshFacts};
use warden_inspect::sql::{SqlFacts, SqlStatement, StatementKind};
use warden_inspect::{Action, Actor, Facts, Protocol, TargetRef};
use warden_policy::PolicySet;

pub fn set(yaml: &str) -> PolicySet {
    match PolicySet::from_sources(&[("test.yaml".to_string(), yaml.to_string())]) {
        Ok(s) => s,
        Err(e) => panic!("policy did not load:\n{e}"),
    }
}

pub fn stmt(kind: StatementKind, objects: &[&str], without_where: bool) -> SqlStatement {
    SqlStatement {
        kind,
        objects: objects.iter().map(|s| s.to_string()).collect(),
        without_where,
        opaque: false,
        writes: kind.is_write(),
        nested: Vec::new(),
    }
}

pub fn action(protocol: Protocol, facts: Facts) -> Action {
    Action {
        protocol,
        user: Actor {
            name: "alice".into(),
            roles: vec!["developer".into()],
            client_addr: None,
            alerts: Vec::new(),
        },
        target: TargetRef {
            name: "prod-db".into(),
            labels: BTreeMap::from([("env".to_string(), "production".to_string())]),
        },
        session: None,
        raw: String::new(),
        facts,
    }
}

pub fn sql(statements: Vec<SqlStatement>) -> Action {
    action(
        Protocol::Postgres,
        Facts::Sql(
            SqlFacts {
                statements,
                unparsed: false,
                parse_error: None,
            }
            .into(),
        ),
    )
}

pub fn unparsed_sql() -> Action {
    action(
        Protocol::Postgres,
        Facts::Sql(
            SqlFacts {
                statements: Vec::new(),
                unparsed: true,
                parse_error: Some("syntax error".into()),
            }
            .into(),
        ),
    )
}

pub fn kube(
    verb: &str,
    resource: &str,
    sub: Option<&str>,
    ns: Option<&str>,
    name: Option<&str>,
) -> Action {
    action(
        Protocol::Kubernetes,
        Facts::Kubernetes {
            http: HttpFacts {
                method: "GET".into(),
                path: "/api/v1/x".into(),
                ..HttpFacts::default()
            },
            kube: KubeFacts {
                verb: verb.into(),
                version: "v1".into(),
                resource: resource.into(),
                subresource: sub.map(String::from),
                namespace: ns.map(String::from),
                name: name.map(String::from),
                ..KubeFacts::default()
            },
        },
    )
}

pub fn http(method: &str, path: &str) -> Action {
    action(
        Protocol::Http,
        Facts::Http(HttpFacts {
            method: method.into(),
            path: path.into(),
            ..HttpFacts::default()
        }),
    )
}

pub fn ssh(argvs: &[&[&str]]) -> Action {
    let commands = argvs
        .iter()
        .map(|argv| ShellCommand {
            argv: argv.iter().map(|s| s.to_string()).collect(),
            program: argv
                .first()
                .map(|p| p.rsplit('/').next().unwrap_or(p).to_string())
                .unwrap_or_default(),
            ..ShellCommand::default()
        })
        .collect();
    action(
        Protocol::Ssh,
        Facts::Ssh(SshFacts {
            commands,
            ..SshFacts::default()
        }),
    )
}
