#!/usr/bin/env python3
"""Score analytics alerts against incident labels.

    python3 benches/analytics/score.py LABELS.jsonl ALERTS.jsonl [--slack-minutes 15]

An alert matches a label when the detector is the same, the subject is the same (the
label's user when it names one, else its client address) and the alert's time lies in
[label start, label end + slack]. Per detector:

* TP — labels matched by at least one alert (extra matching alerts are duplicates,
  reported but not counted against precision);
* FN — labels no alert matched;
* FP — alerts that match no label of their detector and are not a listed side effect
  (`also`) of an incident on the same subject and time;
* latency — event time from the incident's first record to its first matching alert.

Prints a table (Markdown with --markdown); exit status 0. Python 3 stdlib only.
"""

import argparse
import datetime
import json
import statistics
import sys

DETECTORS = ["failed-login-burst", "password-spray", "first-access", "off-hours", "unusual-volume",
             "privilege-change", "denial-storm", "error-spike", "dormant-account",
             "rapid-repetition", "new-source"]


def ts(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def subject_matches(label, alert):
    if label.get("user"):
        return alert.get("user") == label["user"]
    return alert.get("client_addr") == label.get("client_addr")


def in_window(label, alert, slack):
    t = ts(alert["time"])
    return ts(label["start"]) - 1e-6 <= t <= ts(label["end"]) + slack


def score(labels, alerts, slack):
    rows = {d: {"tp": 0, "fn": 0, "fp": 0, "dup": 0, "side": 0, "lat": []} for d in DETECTORS}
    matched = set()
    for a in alerts:
        d = a["detector"]
        rows.setdefault(d, {"tp": 0, "fn": 0, "fp": 0, "dup": 0, "side": 0, "lat": []})
        hits = [i for i, l in enumerate(labels) if l["detector"] == d and subject_matches(l, a)
                and in_window(l, a, slack)]
        if hits:
            i = hits[0]
            if i in matched:
                rows[d]["dup"] += 1
            else:
                matched.add(i)
                rows[d]["tp"] += 1
                rows[d]["lat"].append(ts(a["time"]) - ts(labels[i]["start"]))
            continue
        side = any(d in l.get("also", []) and subject_matches(l, a) and in_window(l, a, slack)
                   for l in labels)
        rows[d]["side" if side else "fp"] += 1
        if not side:
            rows[d].setdefault("fp_alerts", []).append(a)
    for i, l in enumerate(labels):
        if i not in matched:
            rows[l["detector"]]["fn"] += 1
            rows[l["detector"]].setdefault("fn_labels", []).append(l)
    return rows


def fmt_latency(lat):
    if not lat:
        return "-"
    med = statistics.median(lat)
    return "%.0fs / %.0fs" % (med, max(lat))


def print_table(head, lines, markdown):
    """Print rows under a header, as a Markdown table or aligned plain columns."""
    if markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for l in lines:
            print("| " + " | ".join(str(x) for x in l) + " |")
    else:
        widths = [max(len(str(x)) for x in col) for col in zip(head, *lines)]
        for l in [head] + lines:
            print("  ".join(str(x).ljust(w) for x, w in zip(l, widths)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("labels")
    ap.add_argument("alerts")
    ap.add_argument("--slack-minutes", type=float, default=15)
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--show-fp", action="store_true", help="print the false positives and the missed labels (to stderr)")
    args = ap.parse_args()
    labels, alerts = read_jsonl(args.labels), read_jsonl(args.alerts)
    rows = score(labels, alerts, args.slack_minutes * 60)
    head = ["detector", "TP", "FP", "FN", "precision", "recall", "latency median / max", "dup", "side"]
    lines = []
    tot = {"tp": 0, "fp": 0, "fn": 0}
    for d, r in rows.items():
        p = r["tp"] / (r["tp"] + r["fp"]) if r["tp"] + r["fp"] else 1.0
        rc = r["tp"] / (r["tp"] + r["fn"]) if r["tp"] + r["fn"] else 1.0
        for k in tot:
            tot[k] += r[k]
        lines.append([d, r["tp"], r["fp"], r["fn"], "%.2f" % p, "%.2f" % rc, fmt_latency(r["lat"]),
                      r["dup"], r["side"]])
    p = tot["tp"] / (tot["tp"] + tot["fp"]) if tot["tp"] + tot["fp"] else 1.0
    rc = tot["tp"] / (tot["tp"] + tot["fn"]) if tot["tp"] + tot["fn"] else 1.0
    lines.append(["all", tot["tp"], tot["fp"], tot["fn"], "%.2f" % p, "%.2f" % rc, "", "", ""])
    print_table(head, lines, args.markdown)
    if args.show_fp:
        for r in rows.values():
            for a in r.get("fp_alerts", []):
                print("FP", json.dumps(a), file=sys.stderr)
            for l in r.get("fn_labels", []):
                print("FN", json.dumps(l), file=sys.stderr)


if __name__ == "__main__":
    main()
