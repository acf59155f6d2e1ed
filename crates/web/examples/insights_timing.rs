//! How long an insights page takes over the aggregates of a large audit log.
//!
//! ```text
//! python3 benches/analytics/generate.py --seed 7 --weeks 14 --no-incidents --out /tmp/wl-1m
//! cargo run --release -p warden-web --example insights_timing -- /tmp/wl-1m/events.jsonl
//! ```
//!
//! Feeds every line of an export (`warden audit export` format) to the insights
//! aggregator exactly as the live runner does (`insights::facts_of` of each record), then
//! times, for several filters, what a page view costs: the report built from the
//! aggregates plus the whole page body rendered to HTML, and the CSV of one chart.
//! Prints the median and the slowest of 20 runs each. Reads only the file it is given.

use std::io::BufRead;
use std::time::{Duration, Instant};

use warden_analytics::insights::{facts_of, Filter, Insights, Step};
use warden_audit::Record;
use warden_web::insights::InsightParams;

fn main() {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/tmp/wl-1m/events.jsonl".to_string());
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut insights = Insights::new(0);
    let started = Instant::now();
    let (mut lines, mut skipped) = (0u64, 0u64);
    for line in std::io::BufReader::new(file).lines() {
        let Ok(line) = line else { break };
        lines += 1;
        match serde_json::from_str::<Record>(&line) {
            Ok(rec) => insights.observe(&facts_of(&rec)),
            Err(_) => skipped += 1,
        }
    }
    let fed = started.elapsed();
    println!(
        "fed {lines} records ({skipped} unreadable) in {:.1} s ({:.2} µs per record, JSON parsing included); {} records counted, {} counters held",
        fed.as_secs_f64(),
        fed.as_secs_f64() * 1e6 / lines.max(1) as f64,
        insights.records(),
        insights.cells()
    );
    let all = insights.report(&Filter::default()).expect("report");
    let user = all.choices.users.first().cloned().unwrap_or_default();
    let role = all.choices.roles.first().cloned().unwrap_or_default();
    let last_week = all.activity.last().map_or(0, |p| p.start) - 6 * 86_400;
    let cases: Vec<(&str, Filter)> = vec![
        ("no filter (whole log, days)", Filter::default()),
        (
            "user",
            Filter {
                user: Some(user),
                ..Filter::default()
            },
        ),
        (
            "role",
            Filter {
                role: Some(role),
                ..Filter::default()
            },
        ),
        (
            "protocol=postgres",
            Filter {
                protocol: Some("postgres".into()),
                ..Filter::default()
            },
        ),
        (
            "last 7 days, hours",
            Filter {
                since: Some(last_week),
                step: Step::Hour,
                ..Filter::default()
            },
        ),
    ];
    println!(
        "{:<30} {:>12} {:>12} {:>12} {:>10}",
        "filter", "report med", "page med", "page max", "html KiB"
    );
    for (name, filter) in cases {
        let mut report_t = Vec::new();
        let mut page_t = Vec::new();
        let mut size = 0;
        for _ in 0..20 {
            let t0 = Instant::now();
            let r = insights.report(&filter).expect("report");
            let t1 = Instant::now();
            let html =
                warden_web::pages::insights::body(&r, &InsightParams::default()).into_string();
            let _csv = warden_web::insights_csv::chart(&r, "activity");
            page_t.push(t0.elapsed());
            report_t.push(t1 - t0);
            size = html.len();
        }
        report_t.sort();
        page_t.sort();
        let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1e3);
        println!(
            "{name:<30} {:>12} {:>12} {:>12} {:>10}",
            ms(report_t[10]),
            ms(page_t[10]),
            ms(page_t[19]),
            size / 1024
        );
    }
}
