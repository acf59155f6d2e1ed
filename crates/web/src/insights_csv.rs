//! Each insights chart as CSV (RFC 4180: comma-separated, CRLF line ends, a header row,
//! fields quoted when they hold a comma, quote or line break).
//!
//! A field that a spreadsheet would read as a formula (starting with `=`, `+`, `-` or
//! `@`) is prefixed with `'`, so a user or target name can never run as one. Never
//! renders anything the report does not hold.

use std::fmt::Write;

use warden_analytics::insights::{Grid, Report};

use crate::pages::charts::WEEKDAYS;

/// One CSV field.
pub fn field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

fn row(out: &mut String, fields: &[&str]) {
    let line: Vec<String> = fields.iter().map(|f| field(f)).collect();
    let _ = write!(out, "{}\r\n", line.join(","));
}

fn grid(out: &mut String, scope: &str, g: &Grid) {
    for (i, count) in g.cells.iter().enumerate() {
        let (day, hour) = (WEEKDAYS[i / 24], format!("{:02}", i % 24));
        row(out, &[scope, &g.name, day, &hour, &count.to_string()]);
    }
}

/// The CSV of `chart` (one of [`crate::insights::CHARTS`]).
pub fn chart(r: &Report, chart: &str) -> String {
    let mut out = String::new();
    match chart {
        "activity" => {
            row(&mut out, &["start", "label", "allow", "deny", "hold"]);
            for p in &r.activity {
                let n =
                    [p.start, p.allow as i64, p.deny as i64, p.hold as i64].map(|v| v.to_string());
                row(&mut out, &[&n[0], &p.label, &n[1], &n[2], &n[3]]);
            }
        }
        "heatmap" => {
            row(&mut out, &["scope", "name", "weekday", "hour", "count"]);
            grid(&mut out, "selection", &r.heatmap);
            for g in &r.role_heatmaps {
                grid(&mut out, "role", g);
            }
            for g in &r.user_heatmaps {
                grid(&mut out, "user", g);
            }
        }
        "usage" => {
            row(&mut out, &["feature", "rank", "name", "count"]);
            for u in &r.usage {
                for (rank, list) in [("most", &u.top), ("least", &u.bottom)] {
                    for n in list {
                        row(&mut out, &[&u.feature, rank, &n.name, &n.count.to_string()]);
                    }
                }
            }
        }
        "errors" => {
            row(&mut out, &["class", "total", "by", "name", "count"]);
            for e in &r.errors {
                let total = e.count.to_string();
                for (by, list) in [("target", &e.targets), ("user", &e.users)] {
                    for n in list {
                        row(
                            &mut out,
                            &[&e.class, &total, by, &n.name, &n.count.to_string()],
                        );
                    }
                }
            }
        }
        "auth" => {
            row(
                &mut out,
                &["front_end", "method", "successes", "failures", "lockouts"],
            );
            for a in &r.auth {
                let n = [a.successes, a.failures, a.lockouts].map(|v| v.to_string());
                row(&mut out, &[&a.front_end, &a.method, &n[0], &n[1], &n[2]]);
            }
        }
        _ => {
            let a = &r.approvals;
            row(&mut out, &["measure", "name", "value"]);
            let opt = |v: Option<u64>| v.map_or_else(String::new, |v| v.to_string());
            for (m, v) in [
                ("requests", a.requests.to_string()),
                ("approvals", a.approvals.to_string()),
                ("denied", a.denied.to_string()),
                ("expired", a.expired.to_string()),
                ("withdrawn", a.withdrawn.to_string()),
                ("decided", a.decided.to_string()),
                ("median_seconds", opt(a.median_seconds)),
                ("p90_seconds", opt(a.p90_seconds)),
            ] {
                row(&mut out, &[m, "", &v]);
            }
            for d in &a.deciders {
                row(&mut out, &["decider", &d.name, &d.count.to_string()]);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_and_never_formulas() {
        assert_eq!(field("alice"), "alice");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("=cmd()"), "'=cmd()");
        assert_eq!(field("-1+2,3"), "\"'-1+2,3\"");
    }
}
