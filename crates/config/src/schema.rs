//! Shape checks before serde: report every unknown key (with a suggestion) and every
//! type mistake per item, each with its position, instead of stopping at the first.

use serde::de::DeserializeOwned;
use serde_yaml::Value;

use warden_diagnostic::{suggest, Diagnostics, Pos, Positions};

use super::ConfigErrors;

/// Collects diagnostics for one file, placing each at its key's position.
pub(super) struct Diags {
    positions: Positions,
    pub(super) list: Diagnostics,
}

impl Diags {
    pub(super) fn new(file: &str, text: &str) -> Diags {
        Diags {
            positions: Positions::collect(text),
            list: Diagnostics::new(file),
        }
    }

    pub(super) fn push(&mut self, key: &str, message: impl Into<String>) {
        self.push_with(key, message, None);
    }

    pub(super) fn push_with(
        &mut self,
        key: &str,
        message: impl Into<String>,
        suggestion: Option<String>,
    ) {
        let pos = self
            .positions
            .find(key)
            .unwrap_or(Pos { line: 1, column: 1 });
        self.list.push_suggest(pos, key, message, suggestion);
    }

    /// Push with an explicit position (serde syntax errors).
    pub(super) fn push_at(&mut self, line: usize, column: usize, message: impl Into<String>) {
        self.list.push(Pos { line, column }, "", message);
    }

    /// Everything collected, as the load's error.
    pub(super) fn into_errors(self) -> ConfigErrors {
        ConfigErrors(self.list.list)
    }

    pub(super) fn is_empty(&self) -> bool {
        self.list.list.is_empty()
    }
}

pub(super) fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// Remove (and report) every key of the mapping `value` that is not in `keys`.
pub(super) fn check_keys(value: &mut Value, path: &str, keys: &[&str], d: &mut Diags) {
    let Value::Mapping(map) = value else {
        return;
    };
    let mut unknown = Vec::new();
    for k in map.keys() {
        match k.as_str() {
            Some(name) if keys.contains(&name) => {}
            Some(name) => unknown.push((k.clone(), name.to_owned())),
            None => unknown.push((k.clone(), format!("{k:?}"))),
        }
    }
    for (k, name) in unknown {
        map.remove(&k);
        d.push_with(
            &child(path, &name),
            format!("unknown key `{name}`"),
            suggest(&name, keys),
        );
    }
}

/// Check the keys of an optional nested mapping (`web.tls`, ...).
pub(super) fn check_nested(value: &mut Value, path: &str, key: &str, keys: &[&str], d: &mut Diags) {
    if let Value::Mapping(map) = value {
        if let Some(inner) = map.get_mut(key) {
            check_keys(inner, &child(path, key), keys, d);
        }
    }
}

/// Deserialize one item; on error report it at the failing key and return `None`.
pub(super) fn item<T: DeserializeOwned>(value: Value, path: &str, d: &mut Diags) -> Option<T> {
    match serde_path_to_error::deserialize::<_, T>(value) {
        Ok(v) => Some(v),
        Err(e) => {
            let inner = e.path().to_string();
            let key = if inner.is_empty() || inner == "." {
                path.to_owned()
            } else if path.is_empty() {
                inner
            } else {
                format!("{path}.{inner}")
            };
            let message = e.into_inner().to_string();
            d.push(&key, message);
            None
        }
    }
}

/// Deserialize each element of a list on its own, so one bad item does not hide others.
pub(super) fn list<T: DeserializeOwned>(
    value: Option<Value>,
    path: &str,
    keys: &[&str],
    nested: &[(&str, &[&str])],
    d: &mut Diags,
) -> Vec<(usize, T)> {
    let items = match value {
        None | Some(Value::Null) => return Vec::new(),
        Some(Value::Sequence(items)) => items,
        Some(other) => {
            d.push(path, format!("expected a list, found {}", kind(&other)));
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for (i, mut v) in items.into_iter().enumerate() {
        let p = format!("{path}[{i}]");
        if !keys.is_empty() {
            if !matches!(v, Value::Mapping(_)) {
                d.push(&p, format!("expected a mapping, found {}", kind(&v)));
                continue;
            }
            check_keys(&mut v, &p, keys, d);
            for (key, inner_keys) in nested {
                check_nested(&mut v, &p, key, inner_keys, d);
            }
        }
        if let Some(t) = item(v, &p, d) {
            out.push((i, t));
        }
    }
    out
}

pub(super) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}
