//! Fill a real audit store with the events of an export (the `warden audit export` line
//! format), through the audit crate's own append API — for timing the reports and
//! pages that read a store (`benches/analytics/access_timing.sh`).
//!
//! ```text
//! python3 benches/analytics/generate.py --seed 7 --weeks 14 --no-incidents --out /tmp/wl
//! cargo run --release -p warden-audit --example store_from_export -- \
//!     /tmp/wl/events.jsonl /tmp/store/audit /tmp/store/users.yaml
//! ```
//!
//! Each line's `event` is appended as a new record (queued, fsync off: a bulk load, not a
//! durability test), so record times are the time of the load, not the export's; the
//! chain is a real one and verifies. Also writes the `users:` of a warden.yaml naming
//! every actor seen with its roles (no credentials), for the report's accounts. Never
//! reads anything but the export and never writes outside the two paths it is given.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::time::Instant;

use warden_audit::{AuditConfig, AuditLog, Durability, Record};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(export), Some(store), Some(users_out)) = (args.get(1), args.get(2), args.get(3))
    else {
        eprintln!("usage: store_from_export EXPORT.jsonl STORE_DIR USERS.yaml");
        std::process::exit(2);
    };
    let mut cfg = AuditConfig::new(store);
    cfg.fsync = false;
    let log = AuditLog::open(cfg).expect("open the audit store");
    let file = std::fs::File::open(export).unwrap_or_else(|e| panic!("{export}: {e}"));
    let started = Instant::now();
    let mut roles: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let (mut appended, mut skipped) = (0u64, 0u64);
    for line in std::io::BufReader::new(file).lines() {
        let line = line.expect("read the export");
        let Ok(rec) = serde_json::from_str::<Record>(&line) else {
            skipped += 1;
            continue;
        };
        // The accounts: every actor of a decided action, with every role it acted in.
        let decided = rec.event.kind == warden_audit::EventKind::ActionDecided;
        let actor = rec.event.actor.as_ref();
        let actor = actor.or(rec.event.action.as_ref().map(|a| &a.user));
        if let Some(a) = actor.filter(|_| decided) {
            let held = roles.entry(a.name.clone()).or_default();
            for r in &a.roles {
                if !held.contains(r) {
                    held.push(r.clone());
                }
            }
        }
        log.append_blocking(rec.event, Durability::Queued)
            .expect("append");
        appended += 1;
        if appended % 200_000 == 0 {
            eprintln!(
                "{appended} records ({:.0} s)",
                started.elapsed().as_secs_f64()
            );
        }
    }
    log.shutdown().expect("seal the store");
    let secs = started.elapsed().as_secs_f64();
    println!(
        "appended {appended} records ({skipped} lines unreadable) in {secs:.1} s ({:.0}/s); {} users",
        appended as f64 / secs.max(1e-9),
        roles.len()
    );
    let mut out = std::fs::File::create(users_out).expect("users file");
    writeln!(out, "users:").expect("write");
    for (name, r) in &roles {
        let quoted: Vec<String> = r.iter().map(|x| format!("{x:?}")).collect();
        writeln!(
            out,
            "  - name: {name:?}\n    roles: [{}]",
            quoted.join(", ")
        )
        .expect("write");
    }
}
