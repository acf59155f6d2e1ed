//! A fixed amount of append work for instruction-count profiling (callgrind):
//! `valgrind --tool=callgrind target/release/examples/profile_append queued 20000`.
//! Modes: `queued` (one thread, queued appends), `durable N` (N threads, durable
//! appends, fsync off so the disk does not dominate), `encode` (caller-side work only).

#[path = "../benches/common/mod.rs"]
mod common;

use warden_audit::{AuditConfig, AuditLog, Durability};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map(String::as_str).unwrap_or("queued");
    let n: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(20_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = AuditConfig::new(dir.path().join("audit"));
    cfg.checkpoint_every = 1_000_000;
    cfg.fsync = false;
    match mode {
        "encode" => {
            let mut total = 0usize;
            for i in 0..n {
                let mut ev = common::event(i);
                warden_audit::redact(&mut ev);
                total += warden_audit::layout::canonical_json(&ev)
                    .expect("json")
                    .len();
            }
            println!("{total} bytes");
        }
        "durable" => {
            let log = AuditLog::open(cfg).expect("open");
            let threads = 16u64;
            std::thread::scope(|s| {
                for t in 0..threads {
                    let log = log.clone();
                    s.spawn(move || {
                        for i in 0..n / threads {
                            log.append_blocking(common::event(t * n + i), Durability::Durable)
                                .expect("append");
                        }
                    });
                }
            });
            log.shutdown().expect("shutdown");
        }
        _ => {
            let log = AuditLog::open(cfg).expect("open");
            let start = std::time::Instant::now();
            for i in 0..n {
                log.append_blocking(common::event(i), Durability::Queued)
                    .expect("append");
            }
            log.append_blocking(common::event(n), Durability::Durable)
                .expect("barrier");
            let secs = start.elapsed().as_secs_f64();
            println!(
                "{n} queued appends (written and synced) in {secs:.3} s: {:.0}/s",
                n as f64 / secs
            );
            log.shutdown().expect("shutdown");
        }
    }
}
