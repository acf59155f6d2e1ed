//! Statements prepared with SQL text, by name: after `PREPARE s FROM '<statement>'` ran
//! (its inner statement decided, see [`prepare_from`](super::prepare_from)), a later
//! `EXECUTE s [USING @a, ...]` is decided as that inner statement — a read runs, an
//! unbounded `DELETE` is held, a `DROP` is denied — and the Action shows both
//! (`EXECUTE s /* s = DELETE FROM t */`).
//!
//! What the session's upstream holds under each name is followed from the texts Warden
//! forwarded ([`effects`]): a plain `PREPARE name FROM '<literal>'` that ran binds the
//! name; `DEALLOCATE PREPARE name` / `DROP PREPARE name` unbinds it; a text that failed
//! (an ERR anywhere: some of its statements may not have run) unbinds every name it
//! prepares; and anything that may prepare or drop a statement in a way Warden does not
//! read exactly — `PREPARE name FROM @var`, a `PREPARE` in an executable comment, `CALL`
//! (a procedure can prepare statements), `EXECUTE IMMEDIATE`, a name that is not plain
//! ASCII — forgets every name. An unknown name is not resolved: `EXECUTE` of it is
//! judged by the inspector as before (opaque, held by the built-in defaults).
//!
//! Must never let a name stand for a statement other than the one the upstream holds
//! under it: when in doubt a name is forgotten (never guessed), and a `PREPARE` Warden
//! refused never binds anything (nothing reached the upstream).

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use sqlparser::tokenizer::{Token, TokenWithSpan};

use super::lexing::{self, SqlMode};
use super::prepare_from::{self, is_word, statement_name};

/// Most names followed at once, and most bytes of their statements; a `PREPARE` past
/// either leaves its name unknown (its `EXECUTE` is opaque).
const MAX_NAMES: usize = 1024;
const MAX_BYTES: usize = 4 << 20;

/// Words after which Warden cannot tell which names a text (re)binds or drops, unless
/// they are part of a statement it read exactly.
const UNTRACKED: &[&str] = &["PREPARE", "DEALLOCATE", "CALL", "IMMEDIATE"];

/// What a text that ran does to the session's named statements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// `PREPARE name FROM '<inner>'`.
    Prepare { name: String, inner: String },
    /// `DEALLOCATE PREPARE name` / `DROP PREPARE name`.
    Deallocate(String),
    /// Names may have changed in ways Warden does not follow.
    ForgetAll,
}

/// The statements this session prepared by name, as the upstream holds them.
#[derive(Default)]
pub struct NamedStatements {
    by_name: HashMap<String, Arc<str>>,
    /// Bytes of the statements in `by_name`.
    bytes: usize,
}

impl NamedStatements {
    /// The statement `name` ([`statement_name`] form) stands for, when known.
    pub fn get(&self, name: &str) -> Option<Arc<str>> {
        self.by_name.get(name).cloned()
    }

    /// Follows what a forwarded text did; `succeeded`: the upstream answered it without
    /// an ERR (so every statement in it ran).
    pub fn apply(&mut self, effects: &[Effect], succeeded: bool) {
        for effect in effects {
            match effect {
                Effect::Prepare { name, inner } => {
                    self.remove(name);
                    let fits =
                        self.by_name.len() < MAX_NAMES && self.bytes + inner.len() <= MAX_BYTES;
                    if succeeded && fits {
                        self.bytes += inner.len();
                        self.by_name.insert(name.clone(), Arc::from(inner.as_str()));
                    }
                }
                Effect::Deallocate(name) => self.remove(name),
                Effect::ForgetAll => self.clear(),
            }
        }
    }

    fn remove(&mut self, name: &str) {
        if let Some(inner) = self.by_name.remove(name) {
            self.bytes -= inner.len();
        }
    }

    pub fn clear(&mut self) {
        self.by_name.clear();
        self.bytes = 0;
    }
}

/// Whether `text` may (re)bind or drop a named statement at all, whatever the
/// `sql_mode`: when not, [`effects`] is empty.
pub fn may_bind_names(text: &str) -> bool {
    UNTRACKED.iter().any(|w| contains(text, w))
}

/// What `text` does to named statements when it runs, in order (see the module docs).
pub fn effects(text: &str, mode: SqlMode) -> Vec<Effect> {
    if !may_bind_names(text) {
        return Vec::new();
    }
    let mut found: Vec<(Range<usize>, Option<Effect>)> = prepare_from::find(text, mode)
        .into_iter()
        .map(|p| {
            let effect = p.name.map(|name| Effect::Prepare {
                name,
                inner: p.inner,
            });
            (p.span, effect)
        })
        .collect();
    found.extend(prepare_from::each_statement(text, deallocation));
    found.sort_by_key(|(span, _)| span.start);
    let mut rest = text.to_owned();
    for (span, _) in found.iter().rev() {
        rest.replace_range(span.clone(), " ");
    }
    let unknown_name = found.iter().any(|(_, e)| e.is_none());
    let mut out: Vec<Effect> = found.into_iter().filter_map(|(_, e)| e).collect();
    if unknown_name || lexing::mentions_any(&rest, UNTRACKED) {
        out.push(Effect::ForgetAll);
    }
    out
}

/// `DEALLOCATE PREPARE name` / `DROP PREPARE name`: its span and effect (`None` for a
/// name Warden does not follow).
fn deallocation(
    cut: &prepare_from::Cut<'_>,
    tokens: &[&TokenWithSpan],
) -> Option<(Range<usize>, Option<Effect>)> {
    let [verb, prepare, name] = tokens else {
        return None;
    };
    let verb_ok = is_word(&verb.token, "DEALLOCATE") || is_word(&verb.token, "DROP");
    if !verb_ok || !is_word(&prepare.token, "PREPARE") {
        return None;
    }
    let span = cut.span(verb, name)?;
    Some((span, statement_name(&name.token).map(Effect::Deallocate)))
}

/// The name `text` executes when it is exactly `EXECUTE name` or `EXECUTE name USING
/// @var, ...` (user variables only: an expression could run a function), one statement,
/// without executable comments.
pub fn executed_name(text: &str) -> Option<String> {
    if !contains(text, "EXECUTE") || contains(text, "IMMEDIATE") {
        return None;
    }
    if text.contains("/*!") || text.contains("/*M!") {
        return None;
    }
    // one statement, optionally followed by empty ones (a trailing `;`)
    let lengths = prepare_from::each_statement(text, |_, tokens| Some(tokens.len()));
    let only_one = lengths.first().is_some_and(|n| *n > 0) && lengths[1..].iter().all(|n| *n == 0);
    let mut names = prepare_from::each_statement(text, |_, tokens| execute_of(tokens));
    (only_one && names.len() == 1)
        .then(|| names.pop())
        .flatten()
}

fn execute_of(tokens: &[&TokenWithSpan]) -> Option<String> {
    let [execute, name, rest @ ..] = tokens else {
        return None;
    };
    if !is_word(&execute.token, "EXECUTE") {
        return None;
    }
    if let [using, args @ ..] = rest {
        if !is_word(&using.token, "USING") || args.is_empty() {
            return None;
        }
        for (i, arg) in args.iter().enumerate() {
            let ok = if i % 2 == 0 {
                is_user_variable(&arg.token)
            } else {
                arg.token == Token::Comma
            };
            if !ok {
                return None;
            }
        }
        if args.len() % 2 == 0 {
            return None;
        }
    }
    statement_name(&name.token)
}

/// Whether `word` (upper case) appears in `text` in any case, inside a word or not (a
/// cheap test that can only say yes too often).
pub fn contains(text: &str, word: &str) -> bool {
    text.as_bytes()
        .windows(word.len())
        .any(|w| w.eq_ignore_ascii_case(word.as_bytes()))
}

fn is_user_variable(t: &Token) -> bool {
    let Token::Word(w) = t else { return false };
    let Some(name) = w.value.strip_prefix('@') else {
        return false;
    };
    w.quote_style.is_none()
        && !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$')
}

/// The text an Action shows for an `EXECUTE` of a known name: what the client sent and
/// the statement it runs.
pub fn shown(sql: &str, name: &str, inner: &str) -> String {
    format!(
        "{} /* {name} = {} */",
        sql.trim_end(),
        inner.replace("*/", "* /")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULT: SqlMode = SqlMode {
        no_backslash_escapes: false,
        ansi_quotes: false,
    };

    fn prepare(name: &str, inner: &str) -> Effect {
        Effect::Prepare {
            name: name.into(),
            inner: inner.into(),
        }
    }

    #[test]
    fn effects_follow_prepare_and_deallocate_in_order() {
        assert_eq!(
            effects(
                "PREPARE S FROM 'SELECT 1'; DEALLOCATE PREPARE `s`; prepare u from \"DELETE FROM t\"; DROP PREPARE u",
                DEFAULT
            ),
            [
                prepare("s", "SELECT 1"),
                Effect::Deallocate("s".into()),
                prepare("u", "DELETE FROM t"),
                Effect::Deallocate("u".into()),
            ]
        );
        assert!(effects("SELECT 1; EXECUTE s", DEFAULT).is_empty());
    }

    #[test]
    fn anything_not_read_exactly_forgets_every_name() {
        for text in [
            "PREPARE s FROM @q",
            "PREPARE s FROM 'SELECT 1'; /*!PREPARE u FROM 'DELETE FROM t' */",
            "CALL p()",
            "EXECUTE IMMEDIATE 'SELECT 1'",
            "PREPARE `é` FROM 'SELECT 1'",
            "PREPARE `s ` FROM 'SELECT 1'",
            "DEALLOCATE PREPARE `s x`",
            "SELECT 'prepare'",
        ] {
            let e = effects(text, DEFAULT);
            assert_eq!(e.last(), Some(&Effect::ForgetAll), "{text}: {e:?}");
        }
    }

    #[test]
    fn names_follow_only_what_ran() {
        let mut n = NamedStatements::default();
        n.apply(&effects("PREPARE s FROM 'SELECT 1'", DEFAULT), true);
        assert_eq!(n.get("s").as_deref(), Some("SELECT 1"));
        // a text with an error: its PREPARE may not have run, the name is unknown
        n.apply(&effects("PREPARE s FROM 'DELETE FROM t'", DEFAULT), false);
        assert_eq!(n.get("s"), None);
        n.apply(&effects("PREPARE s FROM 'SELECT 2'", DEFAULT), true);
        n.apply(&effects("DEALLOCATE PREPARE S", DEFAULT), true);
        assert_eq!(n.get("s"), None);
        n.apply(&effects("PREPARE s FROM 'SELECT 2'", DEFAULT), true);
        n.apply(&effects("PREPARE s FROM @q", DEFAULT), true);
        assert_eq!(n.get("s"), None);
        // bounded: a statement past the byte budget leaves its name unknown
        let big = "x".repeat(MAX_BYTES);
        n.apply(&[prepare("a", &big)], true);
        assert_eq!(n.get("a").map(|s| s.len()), Some(MAX_BYTES));
        n.apply(&[prepare("b", "SELECT 1")], true);
        assert_eq!(n.get("b"), None);
        n.apply(&[prepare("a", "SELECT 2")], true);
        n.apply(&[prepare("b", "SELECT 1")], true);
        assert_eq!(n.get("b").as_deref(), Some("SELECT 1"));
        assert_eq!(n.bytes, 16);
    }

    #[test]
    fn execute_is_resolved_only_in_its_plain_form() {
        assert_eq!(executed_name("EXECUTE s").as_deref(), Some("s"));
        assert_eq!(executed_name(" execute `S` ;").as_deref(), Some("s"));
        assert_eq!(
            executed_name("EXECUTE s USING @a, @b_2").as_deref(),
            Some("s")
        );
        for text in [
            "EXECUTE s USING f()",
            "EXECUTE s USING @a,",
            "EXECUTE s USING 1",
            "EXECUTE s USING @@sql_mode",
            "SELECT 1; EXECUTE s",
            "EXECUTE s; SELECT 1",
            "EXECUTE s; /*!DROP TABLE t */",
            "/*!EXECUTE s */",
            "EXECUTE IMMEDIATE 'DROP TABLE t'",
            "EXECUTE `é`",
        ] {
            assert_eq!(executed_name(text), None, "{text}");
        }
    }

    #[test]
    fn shown_names_the_statement() {
        assert_eq!(
            shown("EXECUTE s ", "s", "SELECT '*/'"),
            "EXECUTE s /* s = SELECT '* /' */"
        );
    }
}
