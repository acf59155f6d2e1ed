//! The fields of a replay line that analytics reads, as slim borrowed structs: what
//! both line readers produce — serde (`line::parse_serde`, the reference, for every
//! shape) and the fast scanner (`fast`, the export shape only) — and what
//! `line::observe` turns into an [`Observation`](crate::observation::Observation).
//!
//! Holds no logic: what a field means is decided in `line`, never here, so that the two
//! readers cannot drift apart.

use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use super::lenient::{ActorView, Lax, Num, Text, VerdictView};

/// Either shape of a line: an export line (`event` set) or a bare event (its fields
/// at the top level). Listed field by field (no `flatten`, which would buffer).
#[derive(Deserialize, Default)]
pub struct Line<'a> {
    #[serde(default)]
    pub seq: Num,
    #[serde(borrow, default)]
    pub time: Text<'a>,
    #[serde(default)]
    pub time_ns: Num,
    #[serde(borrow, default)]
    pub event: Lax<Ev<'a>>,
    #[serde(borrow, default)]
    pub kind: Text<'a>,
    #[serde(borrow, default)]
    pub actor: Option<ActorView<'a>>,
    #[serde(borrow, default)]
    pub target: Text<'a>,
    #[serde(borrow, default)]
    pub protocol: Text<'a>,
    #[serde(borrow, default)]
    pub action: Lax<ActionView<'a>>,
    #[serde(borrow, default)]
    pub verdict: Option<VerdictView<'a>>,
    #[serde(borrow, default)]
    pub outcome: Lax<OutcomeView<'a>>,
    #[serde(borrow, default)]
    pub detail: Text<'a>,
}

/// The event of an export line.
#[derive(Deserialize, Default)]
pub struct Ev<'a> {
    #[serde(borrow, default)]
    pub kind: Text<'a>,
    #[serde(borrow, default)]
    pub actor: Option<ActorView<'a>>,
    #[serde(borrow, default)]
    pub target: Text<'a>,
    #[serde(borrow, default)]
    pub protocol: Text<'a>,
    #[serde(borrow, default)]
    pub action: Lax<ActionView<'a>>,
    #[serde(borrow, default)]
    pub verdict: Option<VerdictView<'a>>,
    #[serde(borrow, default)]
    pub outcome: Lax<OutcomeView<'a>>,
    #[serde(borrow, default)]
    pub detail: Text<'a>,
}

#[derive(Deserialize, Default)]
pub struct ActionView<'a> {
    #[serde(borrow, default)]
    pub protocol: Text<'a>,
    // Usually a copy of the event's actor and target: kept unparsed (just scanned) and
    // read only when the event lacks its own.
    #[serde(borrow, default)]
    pub user: Option<RawJson<'a>>,
    #[serde(borrow, default)]
    pub target: Option<RawJson<'a>>,
    #[serde(borrow, default)]
    pub raw: Text<'a>,
    #[serde(borrow, default)]
    pub facts: Lax<FactsView<'a>>,
}

#[derive(Deserialize, Default)]
pub struct FactsView<'a> {
    #[serde(borrow, default)]
    pub kind: Text<'a>,
    #[serde(borrow, default)]
    pub statements: Lax<Vec<StatementView<'a>>>,
    pub unparsed: Option<bool>,
    #[serde(borrow, default)]
    pub kube: Lax<KubeView<'a>>,
}

#[derive(Deserialize, Default)]
pub struct StatementView<'a> {
    #[serde(borrow, default)]
    pub kind: Text<'a>,
}

#[derive(Deserialize, Default)]
pub struct KubeView<'a> {
    #[serde(borrow, default)]
    pub verb: Text<'a>,
    #[serde(borrow, default)]
    pub resource: Text<'a>,
    pub unparsed: Option<bool>,
}

#[derive(Deserialize, Default)]
pub struct OutcomeView<'a> {
    #[serde(borrow, default)]
    pub status: Text<'a>,
    #[serde(default)]
    pub rows: Num,
    #[serde(default)]
    pub bytes: Num,
    #[serde(borrow, default)]
    pub error: Text<'a>,
}

/// A JSON value kept as its text (read later, and only if needed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawJson<'a>(pub &'a str);

impl<'de: 'a, 'a> Deserialize<'de> for RawJson<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <&'a RawValue>::deserialize(d).map(|raw| RawJson(raw.get()))
    }
}
