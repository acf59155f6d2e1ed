//! Where each key of a YAML document starts, so config diagnostics can name a line and
//! column: `targets[1].listen` → (line, column). serde cannot tell positions, so the
//! text is walked once more with yaml-rust2's marked event parser. Never interprets values.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

/// Key path → position of the key (or of the list item).
#[derive(Debug, Default)]
pub struct Positions {
    map: HashMap<String, Pos>,
}

impl Positions {
    /// Walk `text`; on a syntax error return what was collected so far (serde reports
    /// the syntax error itself, with its own position).
    pub fn collect(text: &str) -> Positions {
        let mut collector = Collector {
            lines: text.lines().map(str::to_owned).collect(),
            ..Collector::default()
        };
        let mut parser = Parser::new_from_str(text);
        let _ = parser.load(&mut collector, false);
        Positions { map: collector.map }
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
}

enum Frame {
    Map { path: String, key: Option<String> },
    Seq { path: String, index: usize },
}

#[derive(Default)]
struct Collector {
    stack: Vec<Frame>,
    map: HashMap<String, Pos>,
    lines: Vec<String>,
}

fn pos(m: &Marker) -> Pos {
    // yaml-rust2 markers: 1-based line, 0-based column.
    Pos {
        line: m.line(),
        column: m.col() + 1,
    }
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

impl Collector {
    /// The path of the value starting now, advancing the parent frame.
    fn next_value_path(&mut self, mark: &Marker) -> String {
        match self.stack.last_mut() {
            None => String::new(),
            Some(Frame::Map { path, key }) => match key.take() {
                Some(k) => join(path, &k),
                None => format!("{path}.?"),
            },
            Some(Frame::Seq { path, index }) => {
                let p = format!("{path}[{index}]");
                *index += 1;
                self.map.entry(p.clone()).or_insert(pos(mark));
                p
            }
        }
    }
}

/// yaml-rust2 marks the first key of a block mapping inside a list item after the key;
/// find the key's text on the marked line, last occurrence at or before the mark.
fn key_pos(lines: &[String], key: &str, marked: Pos) -> Pos {
    let Some(line) = marked.line.checked_sub(1).and_then(|i| lines.get(i)) else {
        return marked;
    };
    let limit = line
        .char_indices()
        .nth(marked.column.saturating_sub(1))
        .map_or(line.len(), |(i, _)| i);
    match line[..limit.max(key.len()).min(line.len())].rfind(key) {
        Some(byte) if !key.is_empty() => Pos {
            line: marked.line,
            column: line[..byte].chars().count() + 1,
        },
        _ => marked,
    }
}

impl MarkedEventReceiver for Collector {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        match ev {
            Event::Scalar(text, ..) => {
                if let Some(Frame::Map { path, key }) = self.stack.last_mut() {
                    if key.is_none() {
                        let p = join(path, &text);
                        let at = key_pos(&self.lines, &text, pos(&mark));
                        // A list item's mapping is marked after its first key: the
                        // item starts where that key does.
                        if let Some(item) = self.map.get_mut(path.as_str()) {
                            if item.line == at.line && item.column > at.column {
                                *item = at;
                            }
                        }
                        self.map.entry(p).or_insert(at);
                        *key = Some(text);
                        return;
                    }
                }
                self.next_value_path(&mark);
            }
            Event::Alias(_) => {
                self.next_value_path(&mark);
            }
            Event::MappingStart(..) => {
                let path = self.next_value_path(&mark);
                self.stack.push(Frame::Map { path, key: None });
            }
            Event::SequenceStart(..) => {
                let path = self.next_value_path(&mark);
                self.stack.push(Frame::Seq { path, index: 0 });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
            }
            _ => {}
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
}
