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
#[cfg(test)]
pub fn scan(line_text: &str) -> Option<Line<'_>> {
    let mut line = Line::default();
    scan_into(line_text, &mut line).map(|()| line)
}

/// Fill `line` (a default one) with the fields of one line; `None` when serde must
/// read it (what was filled is then meaningless). Fields are written where they live,
/// so the large line structs are never moved.
pub fn scan_into<'a>(line_text: &'a str, line: &mut Line<'a>) -> Option<()> {
    let mut c = Cursor::new(line_text);
    let mut seen = SeenKeys::default();
    let Line {
        seq,
        time,
        time_ns,
        event,
        kind,
        actor,
        target,
        protocol,
        action,
        verdict,
        outcome,
        detail,
    } = line;
    // A bare event's fields sit at the top level.
    let mut top = EvFields {
        kind,
        actor,
        target,
        protocol,
        action,
        verdict,
        outcome,
        detail,
    };
    c.object_keyed(&LINE_KEYS, |c, i| match i {
        0 => seen.first(0).and_then(|()| num(c)).map(|v| *seq = v),
        1 => seen.first(1).and_then(|()| text(c)).map(|v| *time = v),
        2 => seen.first(2).and_then(|()| num(c)).map(|v| *time_ns = v),
        5 => {
            seen.first(3)?;
            if c.null() {
                return Some(());
            }
            let ev = event.0.insert(Ev::default());
            event_object(c, ev)
        }
        i if i >= LINE_OWN_KEYS && i < LINE_KEYS.len() => {
            event_field(c, i - LINE_OWN_KEYS, &mut top, &mut seen, 4)
        }
        _ => c.skip_value(),
    })?;
    c.at_end().then_some(())
}

/// Where the fields of an event go: an `Ev`, or the top level of a bare event's line.
struct EvFields<'r, 'a> {
    kind: &'r mut Text<'a>,
    actor: &'r mut Option<ActorView<'a>>,
    target: &'r mut Text<'a>,
    protocol: &'r mut Text<'a>,
    action: &'r mut Lax<ActionView<'a>>,
    verdict: &'r mut Option<VerdictView<'a>>,
    outcome: &'r mut Lax<OutcomeView<'a>>,
    detail: &'r mut Text<'a>,
}

fn event_object<'a>(c: &mut Cursor<'a>, ev: &mut Ev<'a>) -> Option<()> {
    let Ev {
        kind,
        actor,
        target,
        protocol,
        action,
        verdict,
        outcome,
        detail,
    } = ev;
    let mut fields = EvFields {
        kind,
        actor,
        target,
        protocol,
        action,
        verdict,
        outcome,
        detail,
    };
    let mut seen = SeenKeys::default();
    c.object_keyed(&EVENT_KEYS, |c, i| {
        event_field(c, i, &mut fields, &mut seen, 0)
    })
}

/// Keys of an export line before its event's (an index past them is `EVENT_KEYS`'),
/// in the order `warden audit export` writes them.
const LINE_OWN_KEYS: usize = 6;
const LINE_KEYS: [&str; LINE_OWN_KEYS + EVENT_KEYS.len()] = [
    "seq",
    "time",
    "time_ns",
    "prev_hash",
    "hash",
    "event", // the line's own
    "kind",
    "actor",
    "target",
    "protocol",
    "session",
    "action",
    "verdict",
    "approval",
    "outcome",
    "alert",
    "detail",
];
/// Keys of an event, in the order the audit log writes them.
const EVENT_KEYS: [&str; 11] = [
    "kind", "actor", "target", "protocol", "session", "action", "verdict", "approval", "outcome",
    "alert", "detail",
];

/// The value of an event's key number `i` of `EVENT_KEYS` (at the top level of a bare
/// event, or inside `event`), seen keys numbered from `bit`; other keys are skipped.
fn event_field<'a>(
    c: &mut Cursor<'a>,
    i: usize,
    ev: &mut EvFields<'_, 'a>,
    seen: &mut SeenKeys,
    bit: u32,
) -> Option<()> {
    let first = |seen: &mut SeenKeys| seen.first(bit + i as u32);
    match i {
        0 => first(seen).and_then(|()| text(c)).map(|v| *ev.kind = v),
        1 => first(seen).and_then(|()| actor(c)).map(|v| *ev.actor = v),
        2 => first(seen).and_then(|()| text(c)).map(|v| *ev.target = v),
        3 => first(seen).and_then(|()| text(c)).map(|v| *ev.protocol = v),
        5 => first(seen).and_then(|()| action(c)).map(|v| *ev.action = v),
        6 => first(seen)
            .and_then(|()| verdict(c))
            .map(|v| *ev.verdict = v),
        8 => first(seen)
            .and_then(|()| outcome(c))
            .map(|v| *ev.outcome = v),
        10 => first(seen).and_then(|()| text(c)).map(|v| *ev.detail = v),
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
        return Some(Num::None);
    }
    c.unsigned().map(Num::Whole)
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
        c.object_keyed(&["name", "roles", "client_addr"], |c, i| match i {
            0 => seen.first(0).and_then(|()| text(c)).map(|v| a.name = v),
            1 => seen.first(1).and_then(|()| roles(c)).map(|v| a.roles = v),
            2 => seen
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
    // One allocation of a small list up front (not grown from empty), none for `[]`.
    let mut names = Vec::new();
    c.array(|c| {
        if let Text(Some(name)) = text(c)? {
            if names.capacity() == 0 {
                names.reserve_exact(4);
            }
            names.push(name);
        }
        Some(())
    })?;
    Some(Roles(names))
}

fn verdict<'a>(c: &mut Cursor<'a>) -> Option<Option<VerdictView<'a>>> {
    object_or_null(c, |c| {
        let mut v = VerdictView::default();
        let mut seen = SeenKeys::default();
        c.object_keyed(&["decision"], |c, i| match i {
            0 => seen.first(0).and_then(|()| text(c)).map(|t| v.decision = t),
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
        let keys = ["protocol", "user", "target", "session", "raw", "facts"];
        c.object_keyed(&keys, |c, i| match i {
            0 => seen.first(0).and_then(|()| text(c)).map(|v| a.protocol = v),
            1 => seen.first(1).and_then(|()| raw_json(c)).map(|v| a.user = v),
            2 => seen
                .first(2)
                .and_then(|()| raw_json(c))
                .map(|v| a.target = v),
            4 => seen.first(3).and_then(|()| text(c)).map(|v| a.raw = v),
            5 => seen.first(4).and_then(|()| facts(c)).map(|v| a.facts = v),
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
        let keys = ["kind", "statements", "unparsed", "http", "kube"];
        c.object_keyed(&keys, |c, i| match i {
            0 => seen.first(0).and_then(|()| text(c)).map(|v| f.kind = v),
            1 => seen
                .first(1)
                .and_then(|()| statements(c))
                .map(|v| f.statements = v),
            2 => seen
                .first(2)
                .and_then(|()| c.bool_or_null())
                .map(|v| f.unparsed = v),
            4 => seen.first(3).and_then(|()| kube(c)).map(|v| f.kube = v),
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
    let mut list = Vec::with_capacity(2);
    c.array(|c| {
        if c.peek()? != b'{' {
            return None;
        }
        let mut s = StatementView::default();
        let mut seen = SeenKeys::default();
        c.object_keyed(&["kind"], |c, i| match i {
            0 => seen.first(0).and_then(|()| text(c)).map(|v| s.kind = v),
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
        let keys = [
            "verb",
            "group",
            "version",
            "resource",
            "namespace",
            "non_resource",
            "unparsed",
        ];
        c.object_keyed(&keys, |c, i| match i {
            0 => seen.first(0).and_then(|()| text(c)).map(|v| k.verb = v),
            3 => seen.first(1).and_then(|()| text(c)).map(|v| k.resource = v),
            6 => seen
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
        c.object_keyed(&["status", "rows", "bytes", "error"], |c, i| match i {
            0 => seen.first(0).and_then(|()| text(c)).map(|v| o.status = v),
            1 => seen.first(1).and_then(|()| num(c)).map(|v| o.rows = v),
            2 => seen.first(2).and_then(|()| num(c)).map(|v| o.bytes = v),
            3 => seen.first(3).and_then(|()| text(c)).map(|v| o.error = v),
            _ => c.skip_value(),
        })?;
        Some(o)
    })?;
    Some(Lax(o))
}
