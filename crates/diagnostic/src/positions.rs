//! Where each key of a YAML document starts: `targets[1].listen` → (line, column), for
//! readers that deserialise with serde (which cannot tell positions) and still report
//! where a mistake was. Derived from the [`yaml`](crate::yaml) tree; never interprets
//! values.

use std::collections::HashMap;

use crate::diagnostic::Pos;
use crate::yaml::{self, Node, Value};

/// Key path → position of the key (or of the list item).
#[derive(Debug, Default)]
pub struct Positions {
    map: HashMap<String, Pos>,
}

impl Positions {
    /// Positions of every key and list item of `text`; empty on a syntax error (the
    /// caller's deserialiser reports that error with its own position).
    pub fn collect(text: &str) -> Positions {
        let mut positions = Positions::default();
        if let Ok(Some(root)) = yaml::parse(text) {
            positions.walk(&root, String::new());
        }
        positions
    }

    /// The position of `path`, or of its nearest ancestor that has one.
    pub fn find(&self, path: &str) -> Option<Pos> {
        let mut p = path;
        loop {
            if let Some(pos) = self.map.get(p) {
                return Some(*pos);
            }
            let cut = p.rfind(['.', '['])?;
            p = &p[..cut];
        }
    }

    fn walk(&mut self, node: &Node, path: String) {
        match &node.value {
            Value::Map(entries) => {
                for (key, value) in entries {
                    let Some(name) = key.as_str() else { continue };
                    let child = if path.is_empty() {
                        name.to_owned()
                    } else {
                        format!("{path}.{name}")
                    };
                    self.map.entry(child.clone()).or_insert(key.pos);
                    self.walk(value, child);
                }
            }
            Value::Seq(items) => {
                for (index, item) in items.iter().enumerate() {
                    let child = format!("{path}[{index}]");
                    self.map.entry(child.clone()).or_insert(item.pos);
                    self.walk(item, child);
                }
            }
            Value::Null | Value::Scalar { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nested_keys() {
        let text = "web:\n  listen: 1.2.3.4:5\ntargets:\n  - name: a\n    listen: x\n  - name: b\n    labels: { env: prod }\n";
        let p = Positions::collect(text);
        assert_eq!(p.find("web.listen"), Some(Pos { line: 2, column: 3 }));
        assert_eq!(p.find("targets[1].name"), Some(Pos { line: 6, column: 5 }));
        assert_eq!(p.find("targets[1]"), Some(Pos { line: 6, column: 5 }));
        assert_eq!(
            p.find("targets[0].listen"),
            Some(Pos { line: 5, column: 5 })
        );
        assert_eq!(
            p.find("targets[1].labels.env"),
            Some(Pos {
                line: 7,
                column: 15
            })
        );
        assert_eq!(
            p.find("targets[1].nothing"),
            Some(Pos { line: 6, column: 5 })
        );
    }

    #[test]
    fn a_syntax_error_gives_no_positions() {
        let p = Positions::collect("a: [1, 2\nb: 3\n");
        assert_eq!(p.find("a"), None);
    }
}
