#!/usr/bin/env python3
"""Generate a labelled synthetic Warden workload: weeks of ordinary activity for dozens
of users in several roles, plus injected incidents of every analytics detector's kind.

    python3 benches/analytics/generate.py --seed 1 --out /tmp/wl

writes OUT/events.jsonl (the `warden audit export` line format, in time order) and
OUT/labels.jsonl (one JSON object a line per incident and detector; see README.md).
Deterministic: the same arguments write byte-identical files. Python 3 stdlib only.
"""

import argparse
import datetime
import json
import math
import os
import random

from workload import ROLES, TARGETS, Emitter, ordinary_action, sql_facts, ssh_facts
import incidents
from profiles import PROFILES

DAY = 86400
START = datetime.datetime(2026, 1, 5, tzinfo=datetime.timezone.utc)  # a Monday
NAMES = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
         "ken", "laura", "mike", "nina", "oscar", "peggy", "quinn", "rupert", "sybil", "trent",
         "ursula", "victor", "wendy", "xavier", "yara", "zane"]
ERRORS = ['syntax error at or near "FROM"', 'relation "tmp_report" does not exist',
          "canceling statement due to statement timeout", 'column "regoin" does not exist']


def make_users(rng, count, dormant, prof):
    users = []
    mix = prof["role_mix"]
    for i in range(count):
        role = mix[i % len(mix)]
        spec = ROLES[role]
        name = NAMES[i % len(NAMES)] + ("" if i < len(NAMES) else str(i // len(NAMES) + 1))
        targets = list(spec["targets"])
        weights = [spec["targets"][t] for t in targets]
        # Each person uses most, not all, of the role's targets.
        keep = max(2, len(targets) - rng.randint(0, 2))
        chosen = []
        while len(chosen) < keep:
            t = rng.choices(targets, weights)[0]
            if t not in chosen:
                chosen.append(t)
        team = i % 8
        u = {
            "name": name, "role": role, "targets": chosen,
            "weights": [spec["targets"][t] for t in chosen],
            "start": rng.uniform(*spec["start"]), "length": rng.uniform(*spec["length"]),
            "rate": rng.uniform(*spec["rate"]), "rows": spec["rows"] * rng.uniform(0.5, 2.0),
            "desk": "10.1.%d.%d" % (team, 10 + i),
            "vpn": ["10.8.0.%d" % rng.randint(2, 250) for _ in range(4)] if rng.random() < prof["vpn_share"] else [],
            "shared_exit": rng.random() < prof["shared_exit"],
            "vacation": None, "dormant": False, "new_target": None, "late_shift": False,
        }
        if prof["late_shift"] and role == "support" and rng.random() < prof["late_shift"]:
            u["late_shift"] = True  # 14:00-22:00
            u["start"] = rng.uniform(13.5, 14.5)
        users.append(u)
    for u in rng.sample(users, dormant):
        u["dormant"] = True
    humans = [u for u in users if not u["dormant"]]
    for u in rng.sample(humans, max(1, int(len(humans) * prof["vacation_share"]))):
        first = rng.randint(7, 38)
        u["vacation"] = (first, first + rng.randint(5, 12))
    rng.choice(humans)["vacation"] = (12, 34)  # a 22-day leave: not dormancy
    for u in rng.sample(humans, prof["new_targets"]):
        # A legitimate new target: one that peers in the same role use.
        count = {}
        for p in users:
            if p["role"] == u["role"] and p is not u and not p["dormant"]:
                for t in p["targets"]:
                    count[t] = count.get(t, 0) + 1
        spare = sorted((-n, t) for t, n in count.items() if t not in u["targets"])
        if spare:
            u["new_target"] = (rng.randint(18, 30), spare[0][1])
    return users


def session_ip(rng, u):
    r = rng.random()
    if u["vpn"] and r < 0.2:
        return rng.choice(u["vpn"])
    if u["shared_exit"] and r > 0.9:
        return "172.16.0.1"
    return u["desk"]


def user_targets(u, day):
    targets, weights = list(u["targets"]), list(u["weights"])
    if u["new_target"] and day >= u["new_target"][0]:
        targets.append(u["new_target"][1])
        weights.append(2)
    return targets, weights


def bursts(rng, em, u, t0, t1, target, ip, session, role_rows, prof):
    """Ordinary work between t0 and t1: bursts of actions separated by idle gaps."""
    t = t0 + rng.uniform(5, 120)
    p_cluster, c_lo, c_hi = prof["error_cluster"]
    p_error, p_deny = prof["action_error"], prof["action_error"] + prof["deny_rate"]
    while t < t1:
        n = rng.randint(2, max(3, int(12 * u["rate"])))
        cluster = rng.randint(c_lo, c_hi) if rng.random() < p_cluster else 0
        for _ in range(n):
            if t >= t1:
                break
            raw, facts, rows, nbytes = ordinary_action(rng, target, role_rows)
            decision, error = "allow", None
            r = rng.random()
            if cluster > 0 or r < p_error:
                cluster -= 1
                error = rng.choice(ERRORS)
            elif r < p_deny and u["role"] in ("developer", "qa"):
                decision = "deny"
            em.action(t, u, ip, target, session, raw, facts, decision, rows, nbytes, error)
            t += rng.uniform(4, 90)
        t += rng.uniform(5, 40) * 60


def work_day(rng, em, u, day, users_by_role, sre_on_call, prof):
    weekday = day % 7
    base = day * DAY
    if u["dormant"] and day > 9:
        return
    if u["vacation"] and u["vacation"][0] <= day < u["vacation"][1]:
        return
    if u["role"] == "sre" and sre_on_call and rng.random() < 0.6:
        h = rng.uniform(0.2, 5.5)
        target = rng.choice(["k8s-prod", "bastion-prod"])
        session, t = em.login(base + h * 3600, u, u["desk"], target)
        bursts(rng, em, u, t, t + rng.uniform(600, 2400), target, u["desk"], session, u["rows"], prof)
    late_p, late_lo, late_hi = prof["late_night"]
    evening = None
    if weekday >= 5:
        if rng.random() > prof["weekend_work"]:
            return
        start, end = 11 + rng.uniform(0, 3), None
        end = start + rng.uniform(1.5, 3.5)
    else:
        if rng.random() > prof["weekday_work"]:
            return
        start = u["start"] + rng.gauss(0, 0.3)
        if prof["early_start"] and rng.random() < prof["early_start"] and not u["late_shift"]:
            start -= rng.uniform(1.0, 2.0)  # an early start
        end = start + u["length"] + rng.gauss(0, 0.4)
        if rng.random() < late_p and u["role"] != "sre":
            end += rng.uniform(late_lo, late_hi)  # a legitimate late night, continuing the day
        elif prof["evening_return"] and not u["late_shift"] and rng.random() < prof["evening_return"]:
            evening = end + rng.uniform(2.0, 3.0)  # back in the evening after a break
    lunch = (12 if not u["late_shift"] else 18) + rng.uniform(0, 1)
    blocks = [(start, lunch), (lunch + rng.uniform(0.5, 1.0), end)] if end > lunch + 1.5 else [(start, end)]
    targets, weights = user_targets(u, day)
    if evening is not None:
        blocks.append((evening, evening + rng.uniform(0.5, 1.5)))
    typo2, typo1, typo_max = prof["login_typo"]
    for (a, b) in blocks:
        if b - a < 0.25:
            continue
        target = rng.choices(targets, weights)[0]
        ip = session_ip(rng, u)
        failures = 0
        r = rng.random()
        if r < typo2:
            failures = rng.randint(2, typo_max)
        elif r < typo1:
            failures = 1
        session, t = em.login(base + a * 3600, u, ip, target, failures=failures)
        if u["role"] == "dba" and weekday == 2 and a > 12 and target == "app-db-prod":
            migration(rng, em, u, t + 600, ip, session)
        bursts(rng, em, u, t, base + b * 3600, target, ip, session, u["rows"], prof)
        em.close(base + b * 3600 + 30, u, ip, target, session)


def migration(rng, em, u, t, ip, session):
    """A DBA's weekly migration: a few schema changes held for approval."""
    for _ in range(rng.randint(2, 5)):
        table = rng.choice(["orders", "users", "products"])
        raw = rng.choice(["ALTER TABLE %s ADD COLUMN note_%d text" % (table, rng.randint(1, 99)),
                          "CREATE INDEX CONCURRENTLY idx_%s_%d ON %s (created_at)" % (table, rng.randint(1, 99), table)])
        kind = "alter" if raw.startswith("ALTER") else "create"
        em.action(t, u, ip, "app-db-prod", session, raw, sql_facts(kind, [table]), "hold")
        t += rng.uniform(30, 180)


def service_accounts(rng, em, day):
    etl = {"name": "svc-etl", "role": "etl", "desk": "10.50.0.10"}
    rep = {"name": "svc-report", "role": "reporting", "desk": "10.50.0.11"}
    base = day * DAY
    session, t = em.login(base + 2 * 3600 + rng.uniform(0, 300), etl, etl["desk"], "warehouse")
    for _ in range(rng.randint(1500, 2500)):
        raw = "INSERT INTO fact_sales (day, sku, amount) VALUES ('2026-01-%02d', %d, %d)" % (
            day % 28 + 1, rng.randint(1, 99999), rng.randint(1, 5000))
        em.action(t, etl, etl["desk"], "warehouse", session, raw, sql_facts("insert", ["fact_sales"]),
                  rows=1)
        t += rng.uniform(0.3, 1.0)
    for hour in range(7, 20):
        session, t = em.login(base + hour * 3600 + rng.uniform(0, 60), rep, rep["desk"], "reporting-db")
        for _ in range(rng.randint(40, 60)):
            raw = "SELECT * FROM kpi_daily WHERE day = '2026-01-%02d' AND region = '%s'" % (
                rng.randint(1, 28), rng.choice(["eu", "us", "apac"]))
            em.action(t, rep, rep["desk"], "reporting-db", session, raw, sql_facts("select", ["kpi_daily"]),
                      rows=rng.randint(20, 200), nbytes=rng.randint(2000, 40000))
            t += rng.uniform(0.5, 1.5)


def fmt_time(t):
    whole = math.floor(t)
    micros = int(round((t - whole) * 1e6))
    if micros >= 1000000:
        whole, micros = whole + 1, 0
    dt = START + datetime.timedelta(seconds=whole)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + ".%06dZ" % micros, (int(START.timestamp()) + whole) * 10 ** 9 + micros * 1000


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--profile", choices=sorted(PROFILES), default="default",
                    help="shape of the workload (see profiles.py)")
    ap.add_argument("--utc-offset", type=float, default=None,
                    help="people's local time zone, hours east of UTC (default: the profile's, by seed)")
    ap.add_argument("--users", type=int, default=None, help="default: the profile's (48 by default)")
    ap.add_argument("--weeks", type=int, default=7)
    ap.add_argument("--per-detector", type=int, default=6, help="incidents of each detector's kind")
    ap.add_argument("--incidents-from", type=int, default=21, help="first day incidents may happen")
    ap.add_argument("--no-incidents", action="store_true")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    prof = PROFILES[args.profile]
    offsets = prof["utc_offsets"]
    offset = args.utc_offset if args.utc_offset is not None else offsets[args.seed % len(offsets)]
    shift = offset * 3600  # local time - UTC
    rng = random.Random(args.seed)
    days = args.weeks * 7
    users = make_users(rng, args.users or prof["users"], 0 if args.no_incidents else args.per_detector, prof)
    by_role = {}
    for u in users:
        by_role.setdefault(u["role"], []).append(u)
    plan = [] if args.no_incidents else incidents.plan(rng, users, days, args.per_detector,
                                                       args.incidents_from, prof)
    os.makedirs(args.out, exist_ok=True)
    labels = {}
    seq = 0
    prev = "0" * 64
    carry = []  # events after midnight of the day that made them: written with the next day
    with open(os.path.join(args.out, "events.jsonl"), "w") as out:
        for day in range(days):
            events, carry = carry, []
            order = [len(events)]

            def emit(t, ev, tag):
                order[0] += 1
                events.append((t, order[0], ev, tag))

            em = Emitter(random.Random("%d-%d" % (args.seed, day)), emit)
            em.sessions = day * 100000
            drng = random.Random("%d-day-%d" % (args.seed, day))
            sres = by_role.get("sre", [])
            # A daily on-call rota: every SRE has nights in their baseline.
            on_call = sres[day % len(sres)]["name"] if sres else None
            for u in users:
                work_day(drng, em, u, day, by_role, u["name"] == on_call, prof)
            service_accounts(drng, em, day)
            for inc in plan:
                if inc["day"] == day:
                    incidents.inject(random.Random("%d-inc-%s" % (args.seed, inc["id"])), em, inc, day * DAY,
                                     prof)
            events.sort(key=lambda e: (e[0], e[1]))
            if day + 1 < days:
                carry = [(t, -1, ev, tag) for (t, _, ev, tag) in events if t >= (day + 1) * DAY]
                events = [e for e in events if e[0] < (day + 1) * DAY]
            for (t, _, ev, tag) in events:
                seq += 1
                text, ns = fmt_time(t - shift)
                h = "%064x" % drng.getrandbits(256)
                out.write(json.dumps({"seq": seq, "time": text, "time_ns": ns, "prev_hash": prev,
                                      "hash": h, "event": ev}, separators=(",", ":")))
                out.write("\n")
                prev = h
                if tag:
                    lab = labels.setdefault(tag, {"seqs": [], "start": t, "end": t})
                    lab["seqs"].append(seq)
                    lab["start"] = min(lab["start"], t)
                    lab["end"] = max(lab["end"], t)
    with open(os.path.join(args.out, "labels.jsonl"), "w") as out:
        for inc in plan:
            got = labels.get(inc["id"])
            if not got:
                continue
            for det in inc["detectors"]:
                out.write(json.dumps({
                    "id": inc["id"], "detector": det, "user": inc.get("user"),
                    "client_addr": inc.get("client_addr"), "target": inc.get("target"),
                    "start": fmt_time(got["start"] - shift)[0], "end": fmt_time(got["end"] - shift)[0],
                    "evidence": got["seqs"], "also": inc.get("also", []),
                }, separators=(",", ":")) + "\n")
    print("wrote %d records, %d incidents to %s (profile %s, UTC%+g)" % (seq, len(labels), args.out,
                                                                         args.profile, offset))


if __name__ == "__main__":
    main()
