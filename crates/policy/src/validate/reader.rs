//! Typed reads from the position-carrying YAML tree, each reporting its own mistakes.
//!
//! Every reader pushes a diagnostic (with position, key path and, where it helps, a
//! suggestion) and returns `None` instead of stopping, so one pass finds every mistake
//! in a file. This is `deny_unknown_fields` done by hand, because serde stops at the
//! first error and cannot say where a value was.

use std::collections::HashMap;
use std::time::Duration;

use warden_diagnostic::yaml::{Node, Value};
use warden_diagnostic::{suggest, Diagnostics, Pos};

/// The known keys of one mapping, looked up by name.
pub struct Fields<'n> {
    map: HashMap<&'n str, &'n Node>,
    pub pos: Pos,
}

impl<'n> Fields<'n> {
    pub fn get(&self, key: &str) -> Option<&'n Node> {
        self.map.get(key).copied()
    }
}

/// `parent.key` (or `key` at the top).
pub fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

pub struct Reader<'d> {
    pub diags: &'d mut Diagnostics,
}

impl Reader<'_> {
    pub fn error(&mut self, pos: Pos, key: &str, message: impl Into<String>) {
        self.diags.push(pos, key, message);
    }

    /// A mapping whose keys must all be in `allowed`; unknown and duplicate keys are
    /// reported (with a suggestion) and skipped.
    pub fn fields<'n>(
        &mut self,
        node: &'n Node,
        path: &str,
        allowed: &[&str],
    ) -> Option<Fields<'n>> {
        let Value::Map(entries) = &node.value else {
            let what = format!("expected a mapping, found {}", node.type_name());
            self.error(node.pos, path, what);
            return None;
        };
        let mut map = HashMap::new();
        for (k, v) in entries {
            let Some(name) = k.as_str() else {
                self.error(k.pos, path, "keys must be strings");
                continue;
            };
            let key_path = join(path, name);
            if !allowed.contains(&name) {
                let hint = suggest(name, allowed);
                let msg = format!("unknown key; expected one of: {}", allowed.join(", "));
                self.diags.push_suggest(k.pos, &key_path, msg, hint);
                continue;
            }
            if map.insert(name, v).is_some() {
                self.error(k.pos, &key_path, "duplicate key");
            }
        }
        Some(Fields { map, pos: node.pos })
    }

    pub fn string(&mut self, node: &Node, path: &str) -> Option<String> {
        match &node.value {
            Value::Scalar { text, .. } => Some(text.clone()),
            _ => {
                let what = format!("expected a string, found {}", node.type_name());
                self.error(node.pos, path, what);
                None
            }
        }
    }

    /// A string, or a list of strings ("any of"); each with its position.
    pub fn strings(&mut self, node: &Node, path: &str) -> Option<Vec<(String, Pos)>> {
        match &node.value {
            Value::Scalar { text, .. } => Some(vec![(text.clone(), node.pos)]),
            Value::Seq(items) => {
                let mut out = Vec::with_capacity(items.len());
                let mut ok = true;
                for (i, item) in items.iter().enumerate() {
                    match &item.value {
                        Value::Scalar { text, .. } => out.push((text.clone(), item.pos)),
                        _ => {
                            let what = format!("expected a string, found {}", item.type_name());
                            self.error(item.pos, &format!("{path}[{i}]"), what);
                            ok = false;
                        }
                    }
                }
                if out.is_empty() && ok {
                    self.error(
                        node.pos,
                        path,
                        "empty list: it would never match; remove the key instead",
                    );
                    return None;
                }
                ok.then_some(out)
            }
            _ => {
                let what = format!(
                    "expected a string or a list of strings, found {}",
                    node.type_name()
                );
                self.error(node.pos, path, what);
                None
            }
        }
    }

    /// Like [`Reader::strings`], but every word must be one of `words` (case-insensitive,
    /// returned lower case), with a suggestion for near misses.
    pub fn words(&mut self, node: &Node, path: &str, words: &[&str]) -> Option<Vec<String>> {
        let list = self.strings(node, path)?;
        let mut out = Vec::with_capacity(list.len());
        let mut ok = true;
        for (w, pos) in list {
            let lower = w.to_ascii_lowercase();
            if words.contains(&lower.as_str()) {
                out.push(lower);
            } else {
                let msg = format!("unknown value `{w}`; expected one of: {}", words.join(", "));
                self.diags.push_suggest(pos, path, msg, suggest(&w, words));
                ok = false;
            }
        }
        ok.then_some(out)
    }

    /// One word of `words` (case-insensitive).
    pub fn word(&mut self, node: &Node, path: &str, words: &[&str]) -> Option<String> {
        let s = self.string(node, path)?;
        let lower = s.to_ascii_lowercase();
        if words.contains(&lower.as_str()) {
            return Some(lower);
        }
        let msg = format!("unknown value `{s}`; expected one of: {}", words.join(", "));
        self.diags
            .push_suggest(node.pos, path, msg, suggest(&s, words));
        None
    }

    pub fn boolean(&mut self, node: &Node, path: &str) -> Option<bool> {
        match &node.value {
            Value::Scalar {
                text,
                quoted: false,
            } if text == "true" => Some(true),
            Value::Scalar {
                text,
                quoted: false,
            } if text == "false" => Some(false),
            _ => {
                self.error(node.pos, path, "expected true or false");
                None
            }
        }
    }

    pub fn positive_u32(&mut self, node: &Node, path: &str) -> Option<u32> {
        match node.as_str().map(str::parse::<u32>) {
            Some(Ok(n)) if n > 0 => Some(n),
            _ => {
                self.error(node.pos, path, "expected a whole number of at least 1");
                None
            }
        }
    }

    /// `30s`, `15m`, `1h`, `2d` (or a bare number of seconds).
    pub fn duration(&mut self, node: &Node, path: &str) -> Option<Duration> {
        let parsed = node
            .as_str()
            .and_then(warden_diagnostic::parse_duration)
            .filter(|d| !d.is_zero());
        if parsed.is_none() {
            self.error(
                node.pos,
                path,
                "expected a duration such as 30s, 15m, 1h or 2d",
            );
        }
        parsed
    }
}
