"""The checks of crash.py: what the clients saw acknowledged against `warden audit export`,
`warden audit verify` and the database. Pure: reads its arguments, never starts anything."""

import collections
import re

ID = re.compile(r"\b([wrhspg])-(\d+)-(\d+)\b")
# Kinds whose decision record must be durable before the action runs (writes, execs).
DURABLE = {"w": "psql INSERT", "p": "HTTP POST", "s": "SSH exec"}
# Read-only kinds: decision and outcome may be group-committed together (a short window
# may be lost in a crash, by design); reported, not a failure.
QUEUED = {"r": "psql SELECT", "g": "HTTP GET"}
# How a held request ends; after the final clean stop none may be left open.
ENDED = {"approval_executed", "approval_denied", "approval_withdrawn", "approval_expired"}


class Report:
    def __init__(self):
        self.lines = []
        self.ok = True

    def check(self, passed, text):
        self.lines.append(("ok    " if passed else "FAIL  ") + text)
        self.ok &= bool(passed)

    def info(self, text):
        self.lines.append("      " + text)


def index(records):
    """ids named by decision records; approval id -> held id; approvals approved/executed."""
    decided = set()
    held_of = {}
    approved = set()
    executed = collections.Counter()
    kinds = collections.Counter()
    for rec in records:
        ev = rec.get("event", rec)
        kind = ev.get("kind")
        kinds[kind] += 1
        raw = (ev.get("action") or {}).get("raw") or ""
        ids = {m.group(0) for m in ID.finditer(raw)}
        approval = (ev.get("approval") or {}).get("id")
        if kind == "action_decided":
            decided |= ids
        if approval and ids:
            held_of.setdefault(approval, next(iter(ids)))
        if kind == "approval_approved" and approval:
            approved.add(approval)
        if kind == "approval_executed" and approval:
            executed[approval] += 1
    approved_ids = {held_of[a] for a in approved if a in held_of}
    ended = {(ev.get("approval") or {}).get("id") for ev in events(records)
             if ev.get("kind") in ENDED}
    open_requests = sorted(a for a in held_of if a not in ended)
    return decided, held_of, approved_ids, executed, kinds, open_requests


def events(records):
    return (rec.get("event", rec) for rec in records)


def check(ledger, records, rows, verify_code, verify_out, hung_threads, stop_code):
    r = Report()
    r.check(stop_code == 0, f"SIGTERM after the last restart: exit code {stop_code} "
            "(0: drained and sealed; negative: killed by the signal)")
    decided, held_of, approved_ids, executed, kinds, open_requests = index(records)
    r.info(f"audit: {len(records)} records ({', '.join(f'{k} {n}' for k, n in kinds.most_common(6))}, ...)")
    r.check(verify_code == 0, f"`warden audit verify` exit {verify_code}: "
            + (verify_out[-1] if verify_out else ""))
    for kind, name in DURABLE.items():
        acked = ledger.acked.get(kind, set())
        missing = sorted(acked - decided)
        r.check(not missing, f"{name}: {len(acked)} acknowledged, {len(missing)} without "
                f"their decision record" + (f" (e.g. {missing[:5]})" if missing else ""))
    for kind, name in QUEUED.items():
        acked = ledger.acked.get(kind, set())
        missing = acked - decided
        r.info(f"{name}: {len(acked)} acknowledged, {len(missing)} not in the audit log "
               "(read-only: group-committed, may be lost in a crash by design)")
    held_rows = set(rows)
    twice = sorted(i for i, n in rows.items() if n > 1)
    r.check(not twice, f"held statements: {len(held_rows)} rows in crash_held, "
            f"{len(twice)} ran more than once" + (f" {twice[:5]}" if twice else ""))
    unapproved = sorted(held_rows - approved_ids)
    r.check(not unapproved, f"held statements: {len(held_rows - approved_ids)} ran without an "
            f"approval_approved record" + (f" {unapproved[:5]}" if unapproved else ""))
    not_tried = sorted(held_rows - ledger.approve_tried)
    r.check(not not_tried, f"held statements: {len(not_tried)} ran that the approver never "
            "approved" + (f" {not_tried[:5]}" if not_tried else ""))
    lost = sorted(ledger.held_ran - held_rows)
    r.check(not lost, f"held statements: {len(ledger.held_ran)} reported INSERT 0 1 to psql, "
            f"{len(lost)} of them have no row" + (f" {lost[:5]}" if lost else ""))
    multi = [a for a, n in executed.items() if n > 1]
    r.check(not multi, f"approvals: {len(approved_ids)} approved in the audit log "
            f"({len(ledger.approved)} acknowledged to the approver), {sum(executed.values())} "
            f"approval_executed records, {len(multi)} approvals executed twice")
    withdrawn = sum(1 for ev in events(records) if ev.get("kind") == "approval_withdrawn"
                    and "restarted" in (ev.get("detail") or ""))
    r.check(not open_requests, f"approval requests: {len(held_of)}, each executed, denied or "
            f"withdrawn ({withdrawn} withdrawn at a restart), {len(open_requests)} left open"
            + (f" {open_requests[:5]}" if open_requests else ""))
    pending_died = len(ledger.approve_tried) - len(held_rows & ledger.approve_tried)
    r.info(f"held: {ledger.sent['h']} sent, {len(ledger.approve_tried)} approved by the "
           f"approver, {len(ledger.denied)} denied, {len(held_rows)} ran; "
           f"{pending_died} approved ones never ran (their session died first)")
    r.check(not ledger.hangs and not hung_threads,
            f"no client call passed its timeout: {len(ledger.hangs)} did"
            + (f" {ledger.hangs[:5]}" if ledger.hangs else "")
            + (f"; threads still running: {hung_threads}" if hung_threads else ""))
    r.check(not ledger.unclean, f"client errors: {sum(ledger.errors.values())} clean, "
            f"{len(ledger.unclean)} unexpected" +
            "".join(f"\n        {k}: {m!r}" for k, m in ledger.unclean[:8]))
    for name, n in ledger.errors.most_common():
        r.info(f"  {n:6d}  {name}")
    sent = ", ".join(f"{k} {n}" for k, n in sorted(ledger.sent.items()))
    r.info(f"requests sent by kind: {sent}")
    return r
