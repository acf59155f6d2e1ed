#!/usr/bin/env python3
"""Score many seeds at once: generate (unless already there), replay, score, and print
per detector the summed TP / FP / FN, precision and recall, and the lowest single-seed
precision and recall with their seed.

    python3 benches/analytics/seeds.py --seeds 1-16 [--profile alt] [--per-detector 10] \\
        [--dir /tmp/wl] [--replay "target/release/warden analytics replay --events"] \\
        [--markdown] [--below 0.9]

Workloads go to DIR/PROFILE-sSEED-pN/ (events.jsonl, labels.jsonl) and are reused when
present; alerts to alerts.jsonl there (or `--alerts-name`; rewritten on every run,
`--keep-alerts` reuses them). `--below X` also lists every detector and seed under X, and the missed labels and
false positives behind them (to stderr with `--show`). Python 3 stdlib only.
"""

import argparse
import json
import os
import shlex
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import score as scoring  # noqa: E402


def seeds_arg(text):
    out = []
    for part in text.split(","):
        a, _, b = part.partition("-")
        out.extend(range(int(a), int(b or a) + 1))
    return out


def ratio(a, b):
    return a / b if b else 1.0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=seeds_arg, default=seeds_arg("1-16"))
    ap.add_argument("--profile", default="default")
    ap.add_argument("--per-detector", type=int, default=6)
    ap.add_argument("--dir", default="/tmp/wl")
    ap.add_argument("--replay", default="target/release/warden analytics replay --events",
                    help="command the events file is appended to; prints alerts on stdout")
    ap.add_argument("--keep-alerts", action="store_true")
    ap.add_argument("--alerts-name", default="alerts.jsonl", help="file name of the alerts in each workload's directory")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--below", type=float, default=None)
    ap.add_argument("--show", action="store_true", help="print the FPs and FNs of the seeds below")
    args = ap.parse_args()
    per_seed = {}
    for seed in args.seeds:
        d = os.path.join(args.dir, "%s-s%d-p%d" % (args.profile, seed, args.per_detector))
        labels, events, alerts = (os.path.join(d, f) for f in ("labels.jsonl", "events.jsonl", args.alerts_name))
        if not os.path.exists(labels):
            subprocess.run([sys.executable, os.path.join(HERE, "generate.py"), "--seed", str(seed),
                            "--profile", args.profile, "--per-detector", str(args.per_detector), "--out", d],
                           check=True, stdout=subprocess.DEVNULL)
        if not (args.keep_alerts and os.path.exists(alerts)):
            with open(alerts + ".part", "w") as out:
                subprocess.run(shlex.split(args.replay) + [events], check=True, stdout=out)
            os.replace(alerts + ".part", alerts)
        per_seed[seed] = scoring.score(scoring.read_jsonl(labels), scoring.read_jsonl(alerts), 15 * 60)
    head = ["detector", "TP", "FP", "FN", "precision", "recall", "lowest precision", "lowest recall"]
    lines, below = [], []
    for det in scoring.DETECTORS:
        tp = sum(r[det]["tp"] for r in per_seed.values())
        fp = sum(r[det]["fp"] for r in per_seed.values())
        fn = sum(r[det]["fn"] for r in per_seed.values())
        ps = {s: ratio(r[det]["tp"], r[det]["tp"] + r[det]["fp"]) for s, r in per_seed.items()}
        rs = {s: ratio(r[det]["tp"], r[det]["tp"] + r[det]["fn"]) for s, r in per_seed.items()}
        lp = min(ps, key=lambda s: (ps[s], s))
        lr = min(rs, key=lambda s: (rs[s], s))
        lines.append([det, tp, fp, fn, "%.2f" % ratio(tp, tp + fp), "%.2f" % ratio(tp, tp + fn),
                      "%.2f" % ps[lp] + (" (seed %d)" % lp if ps[lp] < 1 else ""),
                      "%.2f" % rs[lr] + (" (seed %d)" % lr if rs[lr] < 1 else "")])
        if args.below is not None:
            for s in per_seed:
                if ps[s] < args.below or rs[s] < args.below:
                    below.append((det, s, ps[s], rs[s], per_seed[s][det]))
    scoring.print_table(head, lines, args.markdown)
    for det, s, p, r, row in below:
        print("below %.2f: %s seed %d: precision %.2f recall %.2f (TP %d FP %d FN %d)" % (
            args.below, det, s, p, r, row["tp"], row["fp"], row["fn"]))
        if args.show:
            for a in row.get("fp_alerts", []):
                print("  FP", json.dumps(a), file=sys.stderr)
            for l in row.get("fn_labels", []):
                print("  FN", json.dumps({k: v for k, v in l.items() if k != "evidence"}), file=sys.stderr)


if __name__ == "__main__":
    main()
