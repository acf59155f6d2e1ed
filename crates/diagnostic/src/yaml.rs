//! A position-carrying YAML tree: every node knows the line and column it starts at.
//!
//! serde cannot say *where* a value came from, and diagnostics must name the line and
//! column of every mistake, so policy files are parsed into this tree first and
//! validated node by node (and `warden.yaml` derives its [`Positions`](crate::Positions)
//! from it). This module only builds the tree; it never interprets it.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use crate::diagnostic::Pos;

/// One YAML value with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub pos: Pos,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    /// A scalar's text; `quoted` scalars are always strings (`"true"` is not a bool).
    Scalar {
        text: String,
        quoted: bool,
    },
    Seq(Vec<Node>),
    /// Keys in document order (duplicates are reported by the validator).
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// A short name of the node's type for "expected X, found Y" messages.
    pub fn type_name(&self) -> &'static str {
        match &self.value {
            Value::Null => "null",
            Value::Scalar { .. } => "a scalar",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }
}

/// A YAML syntax error.
#[derive(Debug, Clone)]
pub struct SyntaxError {
    pub pos: Pos,
    pub message: String,
}

fn pos_of(m: &Marker) -> Pos {
    // yaml-rust2 markers: 1-based lines, 0-based columns.
    Pos {
        line: m.line(),
        column: m.col() + 1,
    }
}

enum Frame {
    Seq(Node, usize),
    Map(Node, usize, Option<Node>),
}

#[derive(Default)]
struct Builder {
    /// The source lines, to place keys exactly (see [`key_pos`]).
    lines: Vec<String>,
    /// Where the source ends (see [`within`]).
    end: Pos,
    stack: Vec<Frame>,
    docs: Vec<Node>,
    anchors: HashMap<usize, Node>,
    error: Option<SyntaxError>,
}

impl Builder {
    fn finish(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => self.docs.push(node),
            Some(Frame::Seq(seq, _)) => {
                if let Value::Seq(items) = &mut seq.value {
                    items.push(node);
                }
            }
            Some(Frame::Map(map, _, key)) => match key.take() {
                None => {
                    // A list item's block mapping is marked after its first key: the
                    // mapping starts where that key does.
                    if map.pos.line == node.pos.line && map.pos.column > node.pos.column {
                        map.pos = node.pos;
                    }
                    *key = Some(node)
                }
                Some(k) => {
                    if let Value::Map(entries) = &mut map.value {
                        entries.push((k, node));
                    }
                }
            },
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let pos = within(pos_of(&mark), self.end);
        match ev {
            Event::Scalar(text, style, anchor, _tag) => {
                let is_key = matches!(self.stack.last(), Some(Frame::Map(_, _, None)));
                let pos = if is_key {
                    key_pos(&self.lines, &text, pos)
                } else {
                    pos
                };
                let quoted = style != TScalarStyle::Plain;
                let value =
                    if !quoted && matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL") {
                        Value::Null
                    } else {
                        Value::Scalar { text, quoted }
                    };
                self.finish(Node { value, pos }, anchor);
            }
            Event::SequenceStart(anchor, _) => self.stack.push(Frame::Seq(
                Node {
                    value: Value::Seq(Vec::new()),
                    pos,
                },
                anchor,
            )),
            Event::MappingStart(anchor, _) => self.stack.push(Frame::Map(
                Node {
                    value: Value::Map(Vec::new()),
                    pos,
                },
                anchor,
                None,
            )),
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some(frame) = self.stack.pop() {
                    let (node, anchor) = match frame {
                        Frame::Seq(n, a) => (n, a),
                        Frame::Map(n, a, _) => (n, a),
                    };
                    self.finish(node, anchor);
                }
            }
            Event::Alias(id) => match self.anchors.get(&id).cloned() {
                Some(mut node) => {
                    node.pos = pos;
                    self.finish(node, 0);
                }
                None => {
                    if self.error.is_none() {
                        self.error = Some(SyntaxError {
                            pos,
                            message: "unknown alias".into(),
                        });
                    }
                    self.finish(
                        Node {
                            value: Value::Null,
                            pos,
                        },
                        0,
                    );
                }
            },
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd => {}
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
    let mut end = limit.max(key.len()).min(line.len());
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    match line[..end].rfind(key) {
        Some(byte) if !key.is_empty() => Pos {
            line: marked.line,
            column: line[..byte].chars().count() + 1,
        },
        _ => marked,
    }
}

/// Where `text` ends, as a position: its last line (counted as YAML counts them: CR LF,
/// LF or CR ends one) and the column after its last character.
fn end_of(text: &str) -> Pos {
    let (i, last) = text
        .split("\r\n")
        .flat_map(|l| l.split(['\n', '\r']))
        .enumerate()
        .last()
        .unwrap_or((0, ""));
    Pos {
        line: i + 1,
        column: last.chars().count() + 1,
    }
}

/// `pos`, moved back inside the text that ends at `end`: at the end of a stream whose
/// last line has no line break, the YAML reader marks the line after it (an empty
/// value there, or a syntax error), which no editor can show.
fn within(pos: Pos, end: Pos) -> Pos {
    if pos.line > end.line {
        end
    } else {
        pos
    }
}

/// Parse one YAML document. `Ok(None)` for an empty file.
pub fn parse(text: &str) -> Result<Option<Node>, SyntaxError> {
    let mut builder = Builder {
        lines: text.lines().map(str::to_owned).collect(),
        end: end_of(text),
        ..Builder::default()
    };
    let mut parser = Parser::new_from_str(text);
    if let Err(e) = parser.load(&mut builder, false) {
        return Err(SyntaxError {
            pos: within(pos_of(e.marker()), builder.end),
            message: format!("invalid YAML: {}", e.info()),
        });
    }
    if let Some(e) = builder.error {
        return Err(e);
    }
    Ok(builder.docs.into_iter().next())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_carry_one_based_positions() {
        let doc = parse("a: 1\nb:\n  - x\n  - 'y'\n").unwrap().unwrap();
        let Value::Map(entries) = &doc.value else {
            panic!("not a map")
        };
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].0.pos, Pos { line: 1, column: 1 });
        assert_eq!(entries[1].0.pos, Pos { line: 2, column: 1 });
        let Value::Seq(items) = &entries[1].1.value else {
            panic!("not a seq")
        };
        assert_eq!(items[1].pos, Pos { line: 4, column: 5 });
        assert_eq!(
            items[1].value,
            Value::Scalar {
                text: "y".into(),
                quoted: true
            }
        );
    }

    #[test]
    fn syntax_errors_have_positions() {
        let err = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(err.pos.line >= 1, "{err:?}");
        assert!(err.message.starts_with("invalid YAML"));
    }

    /// Found by fuzzing (`policy_yaml`): an error at the end of a file whose last line
    /// has no line break was reported on the line after the last.
    #[test]
    fn syntax_errors_at_the_end_stay_inside_the_file() {
        let text = "a: { b: 1\n#\n# Appl";
        let err = parse(text).unwrap_err();
        assert_eq!(err.pos, Pos { line: 3, column: 7 }, "{err:?}");
        let err = parse("a: { b: 1\r\nc").unwrap_err();
        assert!(err.pos.line <= 2, "{err:?}");
    }

    /// Found by fuzzing (`policy_yaml`): an empty value at the very end of such a file
    /// was placed on the line after the last.
    #[test]
    fn an_empty_value_at_the_end_stays_inside_the_file() {
        let doc = parse("a:\n  b:\n # c").unwrap().unwrap();
        let Value::Map(entries) = &doc.value else {
            panic!("not a map")
        };
        let Value::Map(inner) = &entries[0].1.value else {
            panic!("not a map: {:?}", entries[0].1)
        };
        assert_eq!(inner[0].1.value, Value::Null);
        assert!(inner[0].1.pos.line <= 3, "{:?}", inner[0].1.pos);
    }

    #[test]
    fn empty_document_is_none() {
        assert!(parse("").unwrap().is_none());
        assert!(parse("# only a comment\n").unwrap().is_none());
    }
}
