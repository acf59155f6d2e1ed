//! The fast reader of replay lines: pulls the fields analytics needs straight out of the
//! line with the [`Cursor`](super::scan::Cursor) — borrowing every string, validating
//! and skipping everything else (chain hashes, sessions, labels, facts it does not
//! need) — into the same [`shape`](super::shape) structs serde fills.
//!
//! It reads only the plain shape `warden audit export` writes (strings without escapes,
//! whole numbers, objects where objects belong) and answers `None` for anything else,
//! so that `line::parse` hands the line to serde: it must never produce a value serde
//! would not, nor accept a line serde rejects. `line::parse_serde` is the reference;
//! the differential tests in `fast_tests` hold the two together.

use std::borrow::Cow;

use super::lenient::{ActorView, Lax, Num, Roles, Text, VerdictView};
use super::scan::{Cursor, SeenKeys};
use super::shape::{
    ActionView, Ev, FactsView, KubeView, Line, OutcomeView, RawJson, StatementView,
};

/// The fields of one line, or `None` when serde must read it.
pub fn scan(line_text: &str) -> Option<Line<'_>> {
    let mut c = Cursor::new(line_text);
    let mut line = Line::default();
    let mut seen = SeenKeys::default();
    let mut top = Ev::default();
    c.object(|c, key| match key {
        "seq" => seen.first(0).and_then(|()| num(c)).map(|v| line.seq = v),
        "time" => seen.first(1).and_then(|()| text(c)).map(|v| line.time = v),
        "time_ns" => seen
            .first(2)
            .and_then(|()| num(c))
            .map(|v| line.time_ns = v),
        "event" => {
            seen.first(3)?;
            if c.null() {
                return Some(());
            }
            line.event = Lax(Some(event(c)?));
            Some(())
        }
        _ => event_field(c, key, &mut top, &mut seen, 4),
    })?;
    if !c.at_end() {
        return None;
    }
    line.kind = top.kind;
    line.actor = top.actor;
    line.target = top.target;
    line.protocol = top.protocol;
    line.action = top.action;
    line.verdict = top.verdict;
    line.outcome = top.outcome;
    line.detail = top.detail;
    Some(line)
}

fn event<'a>(c: &mut Cursor<'a>) -> Option<Ev<'a>> {
    let mut ev = Ev::default();
    let mut seen = SeenKeys::default();
    c.object(|c, key| event_field(c, key, &mut ev, &mut seen, 0))?;
    Some(ev)
}

/// One key of an event (at the top level of a bare event, or inside `event`); keys
/// numbered from `bit` in `seen`.
fn event_field<'a>(
    c: &mut Cursor<'a>,
    key: &str,
    ev: &mut Ev<'a>,
    seen: &mut SeenKeys,
    bit: u32,
) -> Option<()> {
    match key {
        "kind" => seen.first(bit).and_then(|()| text(c)).map(|v| ev.kind = v),
        "actor" => seen
            .first(bit + 1)
            .and_then(|()| actor(c))
            .map(|v| ev.actor = v),
        "target" => seen
            .first(bit + 2)
            .and_then(|()| text(c))
            .map(|v| ev.target = v),
        "protocol" => seen
            .first(bit + 3)
            .and_then(|()| text(c))
            .map(|v| ev.protocol = v),
        "action" => seen
            .first(bit + 4)
            .and_then(|()| action(c))
            .map(|v| ev.action = v),
        "verdict" => seen
            .first(bit + 5)
            .and_then(|()| verdict(c))
            .map(|v| ev.verdict = v),
        "outcome" => seen
            .first(bit + 6)
            .and_then(|()| outcome(c))
            .map(|v| ev.outcome = v),
        "detail" => seen
            .first(bit + 7)
            .and_then(|()| text(c))
            .map(|v| ev.detail = v),
        _ => c.skip_value(),
    }
}

/// A plain string or `null`.
fn text<'a>(c: &mut Cursor<'a>) -> Option<Text<'a>> {
    if c.null() {
        return Some(Text(None));
    }
    c.plain_string().map(|s| Text(Some(Cow::Borrowed(s))))
}

/// A whole number or `null`, as serde hands it to [`Num`].
fn num(c: &mut Cursor<'_>) -> Option<Num> {
    if c.null() {
        return Some(Num(None));
    }
    c.unsigned().map(|v| Num(Some(v as f64)))
}

/// `{...}` for a struct-typed field, `null` for none; anything else goes to serde.
fn object_or_null<'a, T>(
    c: &mut Cursor<'a>,
    read: impl FnOnce(&mut Cursor<'a>) -> Option<T>,
) -> Option<Option<T>> {
    if c.null() {
        return Some(None);
    }
    if c.peek()? != b'{' {
        return None;
    }
    read(c).map(Some)
}

fn actor<'a>(c: &mut Cursor<'a>) -> Option<Option<ActorView<'a>>> {
    object_or_null(c, |c| {
        let mut a = ActorView::default();
        let mut seen = SeenKeys::default();
        c.object(|c, key| match key {
            "name" => seen.first(0).and_then(|()| text(c)).map(|v| a.name = v),
            "roles" => seen.first(1).and_then(|()| roles(c)).map(|v| a.roles = v),
            "client_addr" => seen
                .first(2)
                .and_then(|()| text(c))
                .map(|v| a.client_addr = v),
            _ => c.skip_value(),
        })?;
        Some(a)
    })
}

/// A list of plain strings (`null` entries dropped), or `null`.
fn roles<'a>(c: &mut Cursor<'a>) -> Option<Roles<'a>> {
    if c.null() {
        return Some(Roles::default());
    }
    let mut names = Vec::new();
    c.array(|c| {
        let Text(name) = text(c)?;
        names.extend(name);
        Some(())
    })?;
    Some(Roles(names))
}

fn verdict<'a>(c: &mut Cursor<'a>) -> Option<Option<VerdictView<'a>>> {
    object_or_null(c, |c| {
        let mut v = VerdictView::default();
        let mut seen = SeenKeys::default();
        c.object(|c, key| match key {
            "decision" => seen.first(0).and_then(|()| text(c)).map(|t| v.decision = t),
            _ => c.skip_value(),
        })?;
        Some(v)
    })
}

/// A value kept as text, or `null`.
fn raw_json<'a>(c: &mut Cursor<'a>) -> Option<Option<RawJson<'a>>> {
    if c.null() {
        return Some(None);
    }
    c.raw_value().map(|raw| Some(RawJson(raw)))
}

fn action<'a>(c: &mut Cursor<'a>) -> Option<Lax<ActionView<'a>>> {
    let a = object_or_null(c, |c| {
        let mut a = ActionView::default();
        let mut seen = SeenKeys::default();
        c.object(|c, key| match key {
            "protocol" => seen.first(0).and_then(|()| text(c)).map(|v| a.protocol = v),
            "user" => seen.first(1).and_then(|()| raw_json(c)).map(|v| a.user = v),
            "target" => seen
                .first(2)
                .and_then(|()| raw_json(c))
                .map(|v| a.target = v),
            "raw" => seen.first(3).and_then(|()| text(c)).map(|v| a.raw = v),
            "facts" => seen.first(4).and_then(|()| facts(c)).map(|v| a.facts = v),
            _ => c.skip_value(),
        })?;
        Some(a)
    })?;
    Some(Lax(a))
}

fn facts<'a>(c: &mut Cursor<'a>) -> Option<Lax<FactsView<'a>>> {
    let f = object_or_null(c, |c| {
        let mut f = FactsView::default();
        let mut seen = SeenKeys::default();
        c.object(|c, key| match key {
            "kind" => seen.first(0).and_then(|()| text(c)).map(|v| f.kind = v),
            "statements" => seen
                .first(1)
                .and_then(|()| statements(c))
                .map(|v| f.statements = v),
            "unparsed" => seen
                .first(2)
                .and_then(|()| c.bool_or_null())
                .map(|v| f.unparsed = v),
            "kube" => seen.first(3).and_then(|()| kube(c)).map(|v| f.kube = v),
            _ => c.skip_value(),
        })?;
        Some(f)
    })?;
    Some(Lax(f))
}

/// A list of statement objects (each one's `kind`), or `null`.
fn statements<'a>(c: &mut Cursor<'a>) -> Option<Lax<Vec<StatementView<'a>>>> {
    if c.null() {
        return Some(Lax(None));
    }
    let mut list = Vec::new();
    c.array(|c| {
        if c.peek()? != b'{' {
            return None;
        }
        let mut s = StatementView::default();
        let mut seen = SeenKeys::default();
        c.object(|c, key| match key {
            "kind" => seen.first(0).and_then(|()| text(c)).map(|v| s.kind = v),
            _ => c.skip_value(),
        })?;
        list.push(s);
        Some(())
    })?;
    Some(Lax(Some(list)))
}

fn kube<'a>(c: &mut Cursor<'a>) -> Option<Lax<KubeView<'a>>> {
    let k = object_or_null(c, |c| {
        let mut k = KubeView::default();
        let mut seen = SeenKeys::default();
        c.object(|c, key| match key {
            "verb" => seen.first(0).and_then(|()| text(c)).map(|v| k.verb = v),
            "resource" => seen.first(1).and_then(|()| text(c)).map(|v| k.resource = v),
            "unparsed" => seen
                .first(2)
                .and_then(|()| c.bool_or_null())
                .map(|v| k.unparsed = v),
            _ => c.skip_value(),
        })?;
        Some(k)
    })?;
    Some(Lax(k))
}

fn outcome<'a>(c: &mut Cursor<'a>) -> Option<Lax<OutcomeView<'a>>> {
    let o = object_or_null(c, |c| {
        let mut o = OutcomeView::default();
        let mut seen = SeenKeys::default();
        c.object(|c, key| match key {
            "status" => seen.first(0).and_then(|()| text(c)).map(|v| o.status = v),
            "rows" => seen.first(1).and_then(|()| num(c)).map(|v| o.rows = v),
            "bytes" => seen.first(2).and_then(|()| num(c)).map(|v| o.bytes = v),
            "error" => seen.first(3).and_then(|()| text(c)).map(|v| o.error = v),
            _ => c.skip_value(),
        })?;
        Some(o)
    })?;
    Some(Lax(o))
}
