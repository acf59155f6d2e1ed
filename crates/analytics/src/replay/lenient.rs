//! Forgiving field types for replay lines written by other tools: text that may come
//! as a string, a number or an object; counts that may come as numbers or numeric
//! strings; roles as a list or one string; an actor as an object or just a name.
//!
//! Strings are borrowed from the line whenever JSON allows (no escapes); the rare
//! object-valued fields are re-encoded as JSON text. Never fails on a type it can read
//! some meaning from.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

/// Text from a string, number, boolean or object (`{"name": ..}` gives the name).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Text<'a>(pub Option<Cow<'a, str>>);

impl<'a> Text<'a> {
    pub fn into_cow(self) -> Option<Cow<'a, str>> {
        self.0
    }
    pub fn as_str(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Text<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("text")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'de>, E> {
        Ok(Text(Some(Cow::Borrowed(v))))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<'de>, E> {
        Ok(Text(Some(Cow::Owned(v.to_string()))))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Text<'de>, E> {
        Ok(Text(Some(Cow::Owned(v))))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Text<'de>, E> {
        Ok(Text(Some(Cow::Owned(v.to_string()))))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Text<'de>, E> {
        Ok(Text(Some(Cow::Owned(v.to_string()))))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Text<'de>, E> {
        Ok(Text(Some(Cow::Owned(v.to_string()))))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Text<'de>, E> {
        Ok(Text(Some(Cow::Owned(v.to_string()))))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Text<'de>, E> {
        Ok(Text(None))
    }
    fn visit_none<E: de::Error>(self) -> Result<Text<'de>, E> {
        Ok(Text(None))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Text<'de>, D::Error> {
        d.deserialize_any(TextVisitor)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Text<'de>, A::Error> {
        let v = serde_json::Value::deserialize(de::value::MapAccessDeserializer::new(map))?;
        if let Some(name) = v.get("name").and_then(|n| n.as_str()) {
            return Ok(Text(Some(Cow::Owned(name.to_string()))));
        }
        Ok(Text(Some(Cow::Owned(v.to_string()))))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Text<'de>, A::Error> {
        let v = serde_json::Value::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
        Ok(Text(Some(Cow::Owned(v.to_string()))))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TextVisitor)
    }
}

/// A whole number from a JSON number or a numeric string (`null`: none). Whole
/// numbers are kept exactly (a `time_ns` does not fit an `f64`'s 53 bits).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub enum Num {
    #[default]
    None,
    Whole(u64),
    Float(f64),
}

impl Num {
    pub fn u64(self) -> Option<u64> {
        match self {
            Num::Whole(v) => Some(v),
            Num::Float(v) if v >= 0.0 => Some(v as u64),
            _ => None,
        }
    }

    /// As a signed number (saturating, as a float converts).
    pub fn i64(self) -> Option<i64> {
        match self {
            Num::Whole(v) => Some(i64::try_from(v).unwrap_or(i64::MAX)),
            Num::Float(v) => Some(v as i64),
            Num::None => None,
        }
    }
}

struct NumVisitor;

impl<'de> Visitor<'de> for NumVisitor {
    type Value = Num;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number")
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Num, E> {
        Ok(Num::Whole(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Num, E> {
        Ok(u64::try_from(v).map_or(Num::Float(v as f64), Num::Whole))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Num, E> {
        Ok(Num::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Num, E> {
        let v = v.trim();
        Ok(match v.parse::<u64>() {
            Ok(whole) => Num::Whole(whole),
            Err(_) => v.parse::<f64>().map_or(Num::None, Num::Float),
        })
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Num, E> {
        Ok(Num::None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Num, E> {
        Ok(Num::None)
    }
    fn visit_none<E: de::Error>(self) -> Result<Num, E> {
        Ok(Num::None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Num, D::Error> {
        d.deserialize_any(NumVisitor)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Num, A::Error> {
        while map
            .next_entry::<de::IgnoredAny, de::IgnoredAny>()?
            .is_some()
        {}
        Ok(Num::None)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Num, A::Error> {
        while seq.next_element::<de::IgnoredAny>()?.is_some() {}
        Ok(Num::None)
    }
}

impl<'de> Deserialize<'de> for Num {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NumVisitor)
    }
}

/// Roles as a list of strings, or one string (comma separated).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Roles<'a>(pub Vec<Cow<'a, str>>);

struct RolesVisitor;

impl<'de> Visitor<'de> for RolesVisitor {
    type Value = Roles<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of role names")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Roles<'de>, A::Error> {
        let mut v = Vec::new();
        while let Some(Text(t)) = seq.next_element::<Text<'de>>()? {
            if let Some(t) = t {
                v.push(t);
            }
        }
        Ok(Roles(v))
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Roles<'de>, E> {
        Ok(Roles(
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(Cow::Borrowed)
                .collect(),
        ))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Roles<'de>, E> {
        Ok(Roles(
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Cow::Owned(s.to_string()))
                .collect(),
        ))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Roles<'de>, E> {
        Ok(Roles::default())
    }
    fn visit_none<E: de::Error>(self) -> Result<Roles<'de>, E> {
        Ok(Roles::default())
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Roles<'de>, D::Error> {
        d.deserialize_any(RolesVisitor)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Roles<'de>, A::Error> {
        while map
            .next_entry::<de::IgnoredAny, de::IgnoredAny>()?
            .is_some()
        {}
        Ok(Roles::default())
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Roles<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(RolesVisitor)
    }
}

/// An actor: `{"name","roles","client_addr"}` or just a name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ActorView<'a> {
    pub name: Text<'a>,
    pub roles: Roles<'a>,
    pub client_addr: Text<'a>,
}

#[derive(Deserialize)]
struct ActorFields<'a> {
    #[serde(borrow, default)]
    name: Text<'a>,
    #[serde(borrow, default)]
    roles: Roles<'a>,
    #[serde(borrow, default)]
    client_addr: Text<'a>,
}

struct ActorVisitor;

impl<'de> Visitor<'de> for ActorVisitor {
    type Value = ActorView<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an actor object or a user name")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ActorView<'de>, A::Error> {
        let f = ActorFields::deserialize(de::value::MapAccessDeserializer::new(map))?;
        Ok(ActorView {
            name: f.name,
            roles: f.roles,
            client_addr: f.client_addr,
        })
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<ActorView<'de>, E> {
        Ok(ActorView {
            name: Text(Some(Cow::Borrowed(v))),
            ..ActorView::default()
        })
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<ActorView<'de>, E> {
        Ok(ActorView {
            name: Text(Some(Cow::Owned(v.to_string()))),
            ..ActorView::default()
        })
    }
    fn visit_unit<E: de::Error>(self) -> Result<ActorView<'de>, E> {
        Ok(ActorView::default())
    }
    fn visit_none<E: de::Error>(self) -> Result<ActorView<'de>, E> {
        Ok(ActorView::default())
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<ActorView<'de>, D::Error> {
        d.deserialize_any(ActorVisitor)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for ActorView<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ActorVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Probe<'a> {
        #[serde(borrow, default)]
        t: Text<'a>,
        #[serde(default)]
        n: Num,
        #[serde(borrow, default)]
        r: Roles<'a>,
        #[serde(borrow, default)]
        a: ActorView<'a>,
    }

    #[test]
    fn reads_what_it_can() {
        let p: Probe = serde_json::from_str(
            r#"{"t":{"name":"db","labels":{}},"n":"42","r":"dev, ops","a":"alice"}"#,
        )
        .unwrap();
        assert_eq!(p.t.as_str(), Some("db"));
        assert_eq!(p.n.u64(), Some(42));
        assert_eq!(p.r.0, vec!["dev", "ops"]);
        assert_eq!(p.a.name.as_str(), Some("alice"));
        let p: Probe = serde_json::from_str(
            r#"{"t":500,"n":null,"r":["x",null],"a":{"name":"b","roles":["r"]}}"#,
        )
        .unwrap();
        assert_eq!(p.t.as_str(), Some("500"));
        assert_eq!(p.n.u64(), None);
        assert_eq!(p.r.0, vec!["x"]);
        assert_eq!(p.a.roles.0, vec!["r"]);
        assert!(matches!(p.t.0, Some(Cow::Owned(_))));
        let p: Probe = serde_json::from_str(r#"{"t":"plain"}"#).unwrap();
        assert!(matches!(p.t.0, Some(Cow::Borrowed("plain"))));
    }
}

/// A struct-typed field that is left out (as `None`) when the line holds something
/// else there (a string, a number) instead of failing the line.
#[derive(Debug, Clone, PartialEq)]
pub struct Lax<T>(pub Option<T>);

impl<T> Default for Lax<T> {
    fn default() -> Self {
        Lax(None)
    }
}

struct LaxVisitor<T>(std::marker::PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for LaxVisitor<T> {
    type Value = Lax<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Lax<T>, A::Error> {
        T::deserialize(de::value::MapAccessDeserializer::new(map)).map(|t| Lax(Some(t)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Lax<T>, A::Error> {
        T::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(|t| Lax(Some(t)))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Lax<T>, E> {
        Ok(Lax(None))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Lax<T>, E> {
        Ok(Lax(None))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Lax<T>, E> {
        Ok(Lax(None))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Lax<T>, E> {
        Ok(Lax(None))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Lax<T>, E> {
        Ok(Lax(None))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Lax<T>, E> {
        Ok(Lax(None))
    }
    fn visit_none<E: de::Error>(self) -> Result<Lax<T>, E> {
        Ok(Lax(None))
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Lax<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LaxVisitor(std::marker::PhantomData))
    }
}

/// A verdict: `{"decision": ..}` or just the decision word.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VerdictView<'a> {
    pub decision: Text<'a>,
}

#[derive(Deserialize)]
struct VerdictFields<'a> {
    #[serde(borrow, default)]
    decision: Text<'a>,
}

struct VerdictVisitor;

impl<'de> Visitor<'de> for VerdictVisitor {
    type Value = VerdictView<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a verdict object or word")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<VerdictView<'de>, A::Error> {
        let f = VerdictFields::deserialize(de::value::MapAccessDeserializer::new(map))?;
        Ok(VerdictView {
            decision: f.decision,
        })
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<VerdictView<'de>, E> {
        Ok(VerdictView {
            decision: Text(Some(Cow::Borrowed(v))),
        })
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<VerdictView<'de>, E> {
        Ok(VerdictView {
            decision: Text(Some(Cow::Owned(v.to_string()))),
        })
    }
    fn visit_unit<E: de::Error>(self) -> Result<VerdictView<'de>, E> {
        Ok(VerdictView::default())
    }
    fn visit_none<E: de::Error>(self) -> Result<VerdictView<'de>, E> {
        Ok(VerdictView::default())
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<VerdictView<'de>, D::Error> {
        d.deserialize_any(VerdictVisitor)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for VerdictView<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(VerdictVisitor)
    }
}
