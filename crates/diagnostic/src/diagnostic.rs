//! Diagnostics: every problem found in a policy set or a config file, each with its
//! file, line, column, the key it concerns and, for misspellings, a suggestion.
//!
//! Loading never stops at the first problem: validators push into a [`Diagnostics`]
//! collector and the caller sees all of them at once.

use std::fmt;

use serde::Serialize;

/// One problem in a policy or config file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub file: String,
    /// 1-based; 0 when the problem concerns the whole file (e.g. it cannot be read).
    pub line: usize,
    /// 1-based; 0 when unknown.
    pub column: usize,
    /// The key the problem concerns, as a dotted path (`rules[2].when.sql.statements`).
    pub key: String,
    pub message: String,
    /// A likely intended spelling (`did you mean ...?`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggestion: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        if !self.key.is_empty() {
            write!(f, "{}: ", self.key)?;
        }
        f.write_str(&self.message)?;
        if let Some(s) = &self.suggestion {
            write!(f, " (did you mean `{s}`?)")?;
        }
        Ok(())
    }
}

/// Every diagnostic of a failed load, one a line (the `Display` of the error types
/// that wrap a list of diagnostics).
pub fn write_all(f: &mut fmt::Formatter<'_>, list: &[Diagnostic]) -> fmt::Result {
    for (i, d) in list.iter().enumerate() {
        if i > 0 {
            f.write_str("\n")?;
        }
        write!(f, "{d}")?;
    }
    Ok(())
}

/// A source position inside one file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

/// Collects diagnostics for one file.
#[derive(Debug)]
pub struct Diagnostics {
    pub file: String,
    pub list: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn new(file: &str) -> Self {
        Diagnostics {
            file: file.to_string(),
            list: Vec::new(),
        }
    }

    /// Add a problem at a position.
    pub fn push(&mut self, pos: Pos, key: &str, message: impl Into<String>) {
        self.push_suggest(pos, key, message, None);
    }

    pub fn push_suggest(
        &mut self,
        pos: Pos,
        key: &str,
        message: impl Into<String>,
        suggestion: Option<String>,
    ) {
        self.list.push(Diagnostic {
            file: self.file.clone(),
            line: pos.line,
            column: pos.column,
            key: key.to_string(),
            message: message.into(),
            suggestion,
        });
    }
}

/// The closest word in `candidates` to `word`, when it is close enough to be a typo.
pub fn suggest(word: &str, candidates: &[&str]) -> Option<String> {
    let lower = word.to_ascii_lowercase();
    candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(&lower, c), *c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_words_only() {
        assert_eq!(
            suggest("statments", &["statements", "objects"]).as_deref(),
            Some("statements")
        );
        assert_eq!(
            suggest("delet", &["delete", "drop"]).as_deref(),
            Some("delete")
        );
        assert_eq!(suggest("zzzz", &["statements", "objects"]), None);
    }

    #[test]
    fn display_has_position_key_and_suggestion() {
        let d = Diagnostic {
            file: "p.yaml".into(),
            line: 3,
            column: 5,
            key: "rules[0].whn".into(),
            message: "unknown key".into(),
            suggestion: Some("when".into()),
        };
        assert_eq!(
            d.to_string(),
            "p.yaml:3:5: rules[0].whn: unknown key (did you mean `when`?)"
        );
    }
}
