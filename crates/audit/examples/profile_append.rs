//! A fixed amount of append work for instruction-count profiling (callgrind):
//! `valgrind --tool=callgrind target/release/examples/profile_append queued 20000`.
//! Modes: `queued` (one thread, queued appends), `durable` / `durable-fsync` (256 tokio
//! tasks on 2 workers, durable appends, fsync off / on), `encode` (caller-side work only).

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
        "durable" | "durable-fsync" => {
            cfg.fsync = mode == "durable-fsync";
            let log = AuditLog::open(cfg).expect("open");
            let conc = 256u64;
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            let start = std::time::Instant::now();
            let mut lat = rt.block_on(async {
                let mut tasks = Vec::new();
                for t in 0..conc {
                    let log = log.clone();
                    tasks.push(tokio::spawn(async move {
                        let mut lat = Vec::new();
                        for i in 0..n / conc {
                            let t0 = std::time::Instant::now();
                            log.append(common::event(t * n + i), Durability::Durable)
                                .await
                                .expect("append");
                            lat.push(t0.elapsed());
                        }
                        lat
                    }));
                }
                let mut all = Vec::new();
                for t in tasks {
                    all.extend(t.await.expect("task"));
                }
                all
            });
            let secs = start.elapsed().as_secs_f64();
            lat.sort_unstable();
            println!(
                "{} durable appends at concurrency {conc}: {:.0}/s, p50 {:?}, p99 {:?}",
                lat.len(),
                lat.len() as f64 / secs,
                lat[lat.len() / 2],
                lat[lat.len() * 99 / 100]
            );
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
