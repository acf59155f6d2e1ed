//! The protocol-neutral Action: who does what to which target.
//!
//! An `Action` is what the Gate decides on and what the audit log records as is, so it
//! is plain serialisable data. It must never carry secrets (passwords, tokens).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::http::HttpFacts;
use crate::kube::KubeFacts;
use crate::shell::SshFacts;
use crate::sql::SqlFacts;

/// The wire protocol of a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    Postgres,
    Mysql,
    Http,
    Kubernetes,
    Ssh,
}

impl Protocol {
    pub const ALL: [Protocol; 5] = [
        Protocol::Postgres,
        Protocol::Mysql,
        Protocol::Http,
        Protocol::Kubernetes,
        Protocol::Ssh,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Postgres => "postgres",
            Protocol::Mysql => "mysql",
            Protocol::Http => "http",
            Protocol::Kubernetes => "kubernetes",
            Protocol::Ssh => "ssh",
        }
    }

    pub fn parse(s: &str) -> Option<Protocol> {
        Protocol::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The person or program behind an action, as authenticated by Warden.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub name: String,
    #[serde(default)]
    pub roles: Vec<String>,
    /// Client address as seen by Warden (`ip:port`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_addr: Option<String>,
    /// Detectors of the user's open behaviour-analytics alerts at decision time (filled
    /// by the Gate; policies can match on them with `when.user.alerts`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alerts: Vec<String>,
}

/// The configured target an action is aimed at.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetRef {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// Protocol facts: what the request *is*, as far as inspection could tell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Facts {
    /// One SQL string (one simple Query, or one Parse), possibly several statements.
    /// Shared: the same facts come from the statement cache for every repetition.
    Sql(#[serde(with = "shared_sql")] Arc<SqlFacts>),
    /// A plain HTTP request.
    Http(HttpFacts),
    /// A Kubernetes API request: the HTTP facts plus the Kubernetes reading of the path.
    Kubernetes { http: HttpFacts, kube: KubeFacts },
    /// An SSH channel request (exec, shell, subsystem, forwarding).
    Ssh(SshFacts),
    /// No protocol payload (e.g. a connection being opened).
    None,
}

/// `Arc<SqlFacts>` (de)serialised as the facts themselves, the same JSON as a plain
/// `SqlFacts` (without turning on serde's `rc` feature for the whole workspace).
mod shared_sql {
    use std::sync::Arc;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::sql::SqlFacts;

    pub fn serialize<S: Serializer>(facts: &Arc<SqlFacts>, s: S) -> Result<S::Ok, S::Error> {
        facts.as_ref().serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Arc<SqlFacts>, D::Error> {
        SqlFacts::deserialize(d).map(Arc::new)
    }
}

/// One request by one user against one target, ready for a decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Action {
    pub protocol: Protocol,
    pub user: Actor,
    pub target: TargetRef,
    /// The front-end's session id (one client connection), when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// The raw text the user sent: statement, request line, command. Never secrets.
    pub raw: String,
    pub facts: Facts,
}

impl Action {
    /// True when some part of the request could not be parsed at all.
    pub fn unparsed(&self) -> bool {
        match &self.facts {
            Facts::Sql(s) => s.unparsed,
            Facts::Http(h) => h.unparsed,
            Facts::Kubernetes { http, kube } => http.unparsed || kube.unparsed,
            Facts::Ssh(s) => s.unparsed,
            Facts::None => false,
        }
    }

    /// True when the request's effect cannot be known statically (dynamic SQL,
    /// shell expansions, ...).
    pub fn opaque(&self) -> bool {
        match &self.facts {
            Facts::Sql(s) => s.statements.iter().any(|st| st.opaque),
            Facts::Ssh(s) => s.opaque,
            Facts::Http(_) | Facts::Kubernetes { .. } | Facts::None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::{self, Dialect};

    #[test]
    fn sql_facts_serialise_as_before_and_round_trip() {
        let facts = sql::inspect("DELETE FROM t", Dialect::Postgres);
        let action = Action {
            protocol: Protocol::Postgres,
            user: Actor::default(),
            target: TargetRef::default(),
            session: None,
            raw: "DELETE FROM t".into(),
            facts: Facts::Sql(Arc::new(facts.clone())),
        };
        let json = serde_json::to_value(&action).unwrap();
        let mut expected = serde_json::to_value(&facts).unwrap();
        if let serde_json::Value::Object(m) = &mut expected {
            m.insert("kind".into(), "sql".into());
        }
        assert_eq!(json["facts"], expected);
        let back: Action = serde_json::from_value(json).unwrap();
        assert_eq!(back, action);
    }
}
